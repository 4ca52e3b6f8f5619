"""Health of Jobs and CronJobs, as Argo CD assesses them.

Registered by ``assessing`` for ``batch/Job`` and ``batch/CronJob``. A Job
is Healthy once Complete, Degraded once Failed (or FailureTarget, set while
the failed pods are being terminated), Suspended while suspended, and
Progressing otherwise. Hooks are Jobs, so ``engine.syncing`` reads Healthy as
"hook succeeded" and Degraded as "hook failed".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gitward.health import _fields
from gitward.model import status


def job(obj: Mapping[str, Any]) -> status.HealthResult:
    for kind in ("Failed", "FailureTarget"):
        failed = _fields.condition(obj, kind)
        if failed is not None and _fields.is_true(failed):
            return status.HealthResult(
                status.HealthStatus.DEGRADED,
                _fields.text(failed.get("message"))
                or _fields.text(failed.get("reason"))
                or "Job failed",
            )
    complete = _fields.condition(obj, "Complete")
    if complete is not None and _fields.is_true(complete):
        return status.HealthResult(
            status.HealthStatus.HEALTHY, _fields.text(complete.get("message")) or "Job completed"
        )
    suspended = _fields.condition(obj, "Suspended")
    if _fields.is_true(suspended) or _fields.spec(obj).get("suspend") is True:
        return status.HealthResult(status.HealthStatus.SUSPENDED, "Job is suspended")
    st = _fields.status(obj)
    active = _fields.integer(st.get("active"))
    succeeded = _fields.integer(st.get("succeeded"))
    return status.HealthResult(
        status.HealthStatus.PROGRESSING, f"Job running: {active} active, {succeeded} succeeded"
    )


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def cronjob(obj: Mapping[str, Any]) -> status.HealthResult:
    if _fields.spec(obj).get("suspend") is True:
        return status.HealthResult(status.HealthStatus.SUSPENDED, "CronJob is suspended")
    st = _fields.status(obj)
    scheduled = _time(st.get("lastScheduleTime"))
    succeeded = _time(st.get("lastSuccessfulTime"))
    if scheduled is None:
        return status.HealthResult(status.HealthStatus.HEALTHY, "CronJob has not run yet")
    if succeeded is not None and succeeded >= scheduled:
        return status.HealthResult(status.HealthStatus.HEALTHY, "last scheduled Job succeeded")
    if _fields.items(st.get("active")):
        return status.HealthResult(status.HealthStatus.PROGRESSING, "scheduled Job is running")
    # Scheduled, not running, and no success since: the last run failed.
    return status.HealthResult(
        status.HealthStatus.DEGRADED,
        f"the Job scheduled at {st.get('lastScheduleTime')} did not succeed",
    )
