"""Health of Deployments, following ``kubectl rollout status`` and Argo CD.

Registered by ``assessing`` for ``apps/Deployment`` (and the old
``extensions`` group). Order of the checks matters: a paused Deployment is
Suspended whatever its replicas say; an unobserved spec says nothing yet; a
Progressing condition with ProgressDeadlineExceeded is a failed rollout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status


def deployment(obj: Mapping[str, Any]) -> status.HealthResult:
    spec, st, meta = _fields.spec(obj), _fields.status(obj), _fields.metadata(obj)
    if spec.get("paused") is True:
        return status.HealthResult(status.HealthStatus.SUSPENDED, "Deployment is paused")
    generation = _fields.integer(meta.get("generation"))
    if generation > _fields.integer(st.get("observedGeneration")):
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            "Waiting for rollout to finish: observed generation is older than the spec",
        )
    progressing = _fields.condition(obj, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        name = _fields.text(meta.get("name"))
        return status.HealthResult(
            status.HealthStatus.DEGRADED,
            f"Deployment {name!r} exceeded its progress deadline",
        )
    # The API server defaults spec.replicas to 1.
    wanted = _fields.integer(spec.get("replicas"), 1)
    updated = _fields.integer(st.get("updatedReplicas"))
    current = _fields.integer(st.get("replicas"))
    available = _fields.integer(st.get("availableReplicas"))
    if updated < wanted:
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {updated} of {wanted} new replicas updated",
        )
    if current > updated:
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {current - updated} old replicas pending termination",
        )
    if available < updated:
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            f"Waiting for rollout to finish: {available} of {updated} updated replicas available",
        )
    return status.HealthResult(status.HealthStatus.HEALTHY, f"{available} replicas available")
