"""Health of API extensions: CustomResourceDefinitions and APIServices.

Registered by ``assessing``. A CRD is Healthy once its names are accepted and
it is Established (the API server serves it, so custom resources of the next
wave can be applied); conflicting names (NamesAccepted False) are Degraded;
anything else is still Progressing. An APIService is Healthy when Available
and Progressing otherwise (as Argo CD: an aggregated API whose backend is
starting is not yet a failure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status


def _say(condition: Mapping[str, Any]) -> str:
    reason = _fields.text(condition.get("reason"))
    message = _fields.text(condition.get("message"))
    return f"{reason}: {message}" if reason and message else reason or message


def custom_resource_definition(obj: Mapping[str, Any]) -> status.HealthResult:
    terminating = _fields.condition(obj, "Terminating")
    if terminating is not None and _fields.is_true(terminating):
        return status.HealthResult(status.HealthStatus.PROGRESSING, _say(terminating))
    names = _fields.condition(obj, "NamesAccepted")
    if names is not None and _fields.is_false(names):
        return status.HealthResult(status.HealthStatus.DEGRADED, _say(names))
    established = _fields.condition(obj, "Established")
    if established is not None and _fields.is_true(established):
        return status.HealthResult(status.HealthStatus.HEALTHY, "Established")
    return status.HealthResult(
        status.HealthStatus.PROGRESSING,
        _say(established) if established is not None else "Waiting to be established",
    )


def api_service(obj: Mapping[str, Any]) -> status.HealthResult:
    available = _fields.condition(obj, "Available")
    if available is None:
        return status.HealthResult(status.HealthStatus.PROGRESSING, "Waiting to be processed")
    if _fields.is_true(available):
        return status.HealthResult(status.HealthStatus.HEALTHY, _say(available))
    return status.HealthResult(status.HealthStatus.PROGRESSING, _say(available))
