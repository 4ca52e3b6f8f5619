"""Health of ReplicaSets (and ReplicationControllers), as Argo CD assesses them.

Registered by ``assessing`` for ``apps/ReplicaSet`` and the core
``ReplicationController``: a ReplicaFailure condition (quota exceeded, pods
refused by admission) is Degraded; fewer available replicas than wanted is
Progressing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status


def replicaset(obj: Mapping[str, Any]) -> status.HealthResult:
    spec, st, meta = _fields.spec(obj), _fields.status(obj), _fields.metadata(obj)
    if _fields.integer(meta.get("generation")) > _fields.integer(st.get("observedGeneration")):
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: observed generation is older than the spec",
        )
    failure = _fields.condition(obj, "ReplicaFailure")
    if failure is not None and _fields.is_true(failure):
        return status.HealthResult(
            status.HealthStatus.DEGRADED,
            _fields.text(failure.get("message")) or _fields.text(failure.get("reason")),
        )
    wanted = _fields.integer(spec.get("replicas"), 1)
    available = _fields.integer(st.get("availableReplicas"))
    if available < wanted:
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {available} of {wanted} replicas available",
        )
    return status.HealthResult(status.HealthStatus.HEALTHY, f"{available} replicas available")
