"""Health of DaemonSets, following ``kubectl rollout status`` and Argo CD.

Registered by ``assessing`` for ``apps/DaemonSet``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status


def daemonset(obj: Mapping[str, Any]) -> status.HealthResult:
    spec, st, meta = _fields.spec(obj), _fields.status(obj), _fields.metadata(obj)
    if _fields.integer(meta.get("generation")) > _fields.integer(st.get("observedGeneration")):
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: observed generation is older than the spec",
        )
    desired = _fields.integer(st.get("desiredNumberScheduled"))
    updated = _fields.integer(st.get("updatedNumberScheduled"))
    available = _fields.integer(st.get("numberAvailable"))
    strategy = _fields.text(_fields.section(spec, "updateStrategy").get("type"))
    if strategy == "OnDelete":
        return status.HealthResult(
            status.HealthStatus.HEALTHY,
            f"{updated} of {desired} pods updated (OnDelete updates)",
        )
    if updated < desired:
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {updated} of {desired} new pods updated",
        )
    if available < desired:
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {available} of {desired} updated pods available",
        )
    return status.HealthResult(status.HealthStatus.HEALTHY, f"{available} pods available")
