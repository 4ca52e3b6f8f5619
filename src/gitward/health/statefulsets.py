"""Health of StatefulSets, following ``kubectl rollout status`` and Argo CD.

Registered by ``assessing`` for ``apps/StatefulSet``. A partitioned rolling
update is complete once the pods above the partition are updated; OnDelete
updates are never waited for (pods change only when deleted by hand).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status


def statefulset(obj: Mapping[str, Any]) -> status.HealthResult:
    spec, st, meta = _fields.spec(obj), _fields.status(obj), _fields.metadata(obj)
    observed = _fields.integer(st.get("observedGeneration"))
    if observed == 0 or _fields.integer(meta.get("generation")) > observed:
        return status.HealthResult(
            status.HealthStatus.PROGRESSING, "Waiting for the StatefulSet spec to be observed"
        )
    wanted = _fields.integer(spec.get("replicas"), 1)
    ready = _fields.integer(st.get("readyReplicas"))
    updated = _fields.integer(st.get("updatedReplicas"))
    if ready < wanted:
        return status.HealthResult(
            status.HealthStatus.PROGRESSING, f"Waiting for {wanted - ready} pods to be ready"
        )
    strategy = _fields.section(spec, "updateStrategy")
    kind = _fields.text(strategy.get("type")) or "RollingUpdate"
    if kind == "OnDelete":
        return status.HealthResult(
            status.HealthStatus.HEALTHY, f"{ready} pods ready (OnDelete updates)"
        )
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, Mapping) and "partition" in rolling:
        target = wanted - _fields.integer(rolling.get("partition"))
        if updated < target:
            return status.HealthResult(
                status.HealthStatus.PROGRESSING,
                f"Waiting for partitioned rollout to finish: {updated} of {target} pods updated",
            )
        return status.HealthResult(
            status.HealthStatus.HEALTHY, f"Partitioned rollout complete: {updated} pods updated"
        )
    update_revision = _fields.text(st.get("updateRevision"))
    current_revision = _fields.text(st.get("currentRevision"))
    if update_revision and update_revision != current_revision:
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            f"Waiting for rolling update to finish: {updated} of {wanted} pods "
            f"at revision {update_revision}",
        )
    return status.HealthResult(
        status.HealthStatus.HEALTHY,
        f"Rolling update complete: {ready} pods at revision {current_revision or '(unknown)'}",
    )
