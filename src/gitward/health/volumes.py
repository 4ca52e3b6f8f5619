"""Health of PersistentVolumeClaims, as Argo CD assesses them.

Registered by ``assessing`` for the core ``PersistentVolumeClaim``: Bound is
Healthy, Pending is Progressing (waiting for a volume, or for the first
consumer with WaitForFirstConsumer storage classes), Lost is Degraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status

_PHASES = {
    "Bound": (status.HealthStatus.HEALTHY, "bound"),
    "Pending": (status.HealthStatus.PROGRESSING, "Waiting for a volume to be bound"),
    "Lost": (status.HealthStatus.DEGRADED, "the bound volume was lost"),
}


def persistent_volume_claim(obj: Mapping[str, Any]) -> status.HealthResult:
    phase = _fields.text(_fields.status(obj).get("phase"))
    found = _PHASES.get(phase)
    if found is None:
        return status.HealthResult(status.HealthStatus.UNKNOWN, f"claim phase {phase!r}")
    return status.HealthResult(*found)
