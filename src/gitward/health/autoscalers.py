"""Health of HorizontalPodAutoscalers, as Argo CD assesses them.

Registered by ``assessing`` for ``autoscaling/HorizontalPodAutoscaler``.
Conditions are read in order: the first that says the autoscaler cannot work
(AbleToScale FailedGetScale/FailedUpdateScale, ScalingActive
FailedGetResourceMetric/InvalidSelector...) makes it Degraded, the first that
says it works (AbleToScale or ScalingLimited True) makes it Healthy;
without either it is still Progressing. ``autoscaling/v1`` objects carry the
conditions as JSON in an annotation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status

_V1_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
_DEGRADED = frozenset(
    {
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "FailedGetExternalMetric"),
        ("ScalingActive", "FailedGetObjectMetric"),
        ("ScalingActive", "FailedGetPodsMetric"),
        ("ScalingActive", "InvalidSelector"),
        ("ScalingActive", "InvalidMetricSourceType"),
    }
)
_HEALTHY_TYPES = frozenset({"AbleToScale", "ScalingLimited"})


def _conditions(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = _fields.conditions(obj)
    if found:
        return found
    annotations = _fields.section(_fields.metadata(obj), "annotations")
    raw = annotations.get(_V1_CONDITIONS)
    if not isinstance(raw, str):
        return []
    try:
        return _fields.items(json.loads(raw))
    except ValueError as exc:
        raise ValueError(f"annotation {_V1_CONDITIONS} is not valid JSON: {exc}") from exc


def horizontal_pod_autoscaler(obj: Mapping[str, Any]) -> status.HealthResult:
    for condition in _conditions(obj):
        kind = _fields.text(condition.get("type"))
        reason = _fields.text(condition.get("reason"))
        message = _fields.text(condition.get("message")) or reason
        if (kind, reason) in _DEGRADED:
            return status.HealthResult(status.HealthStatus.DEGRADED, message)
        if kind in _HEALTHY_TYPES and condition.get("status") == "True":
            return status.HealthResult(status.HealthStatus.HEALTHY, message)
    return status.HealthResult(status.HealthStatus.PROGRESSING, "Waiting to autoscale")
