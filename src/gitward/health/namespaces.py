"""Health of Namespaces.

Registered by ``assessing`` for the core ``Namespace``: Active is Healthy,
Terminating is Progressing (the namespace controller is still deleting its
contents); a Namespace whose status is not reported yet is Progressing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status


def namespace(obj: Mapping[str, Any]) -> status.HealthResult:
    phase = _fields.text(_fields.status(obj).get("phase"))
    if phase == "Active":
        return status.HealthResult(status.HealthStatus.HEALTHY, "Active")
    if phase == "Terminating":
        return status.HealthResult(
            status.HealthStatus.PROGRESSING, "Terminating: its contents are being deleted"
        )
    return status.HealthResult(
        status.HealthStatus.PROGRESSING, f"Waiting to become Active (phase {phase or 'unset'})"
    )
