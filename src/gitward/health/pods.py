"""Health of Pods, as Argo CD assesses them.

Registered by ``assessing`` for the core ``Pod``. For pods that restart
forever (restartPolicy Always, the default) a container stuck waiting for an
error (CrashLoopBackOff, ImagePullBackOff, ErrImagePull,
CreateContainerConfigError...) is Degraded even while the phase still says
Pending or Running: it will not get better by waiting. Pods that run to
completion (OnFailure, Never) are Progressing while running, Healthy once
Succeeded and Degraded once Failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status


def _stuck(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith(("Error", "BackOff"))


def _containers(st: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _fields.items(st.get("initContainerStatuses")) + _fields.items(
        st.get("containerStatuses")
    )


def _state(container: Mapping[str, Any], name: str, which: str = "state") -> Mapping[str, Any]:
    state = _fields.section(container, which)
    return _fields.section(state, name)


def _failure(container: Mapping[str, Any]) -> str:
    terminated = _state(container, "terminated")
    if not terminated:
        return ""
    name = _fields.text(container.get("name"))
    message = _fields.text(terminated.get("message"))
    if message:
        return f"container {name!r}: {message}"
    reason = _fields.text(terminated.get("reason"))
    code = _fields.integer(terminated.get("exitCode"))
    if reason == "OOMKilled":
        return f"container {name!r}: OOMKilled"
    if code != 0:
        return f"container {name!r} failed with exit code {code}"
    return ""


def pod(obj: Mapping[str, Any]) -> status.HealthResult:
    spec, st = _fields.spec(obj), _fields.status(obj)
    policy = _fields.text(spec.get("restartPolicy")) or "Always"
    message = _fields.text(st.get("message"))
    if policy == "Always":
        stuck = []
        for container in _containers(st):
            waiting = _state(container, "waiting")
            reason = _fields.text(waiting.get("reason"))
            if waiting and _stuck(reason):
                detail = _fields.text(waiting.get("message"))
                name = _fields.text(container.get("name"))
                stuck.append(f"container {name!r}: {reason}" + (f": {detail}" if detail else ""))
        if stuck:
            return status.HealthResult(status.HealthStatus.DEGRADED, "; ".join(stuck))
    phase = _fields.text(st.get("phase"))
    if phase == "Pending":
        return status.HealthResult(status.HealthStatus.PROGRESSING, message or "Pod is pending")
    if phase == "Succeeded":
        return status.HealthResult(status.HealthStatus.HEALTHY, message or "Pod succeeded")
    if phase == "Failed":
        if message:
            return status.HealthResult(status.HealthStatus.DEGRADED, message)
        for container in _containers(st):
            failure = _failure(container)
            if failure:
                return status.HealthResult(status.HealthStatus.DEGRADED, failure)
        return status.HealthResult(status.HealthStatus.DEGRADED, "Pod failed")
    if phase == "Running":
        if policy != "Always":
            return status.HealthResult(status.HealthStatus.PROGRESSING, message or "Pod is running")
        if _fields.is_true(_fields.condition(obj, "Ready")):
            return status.HealthResult(status.HealthStatus.HEALTHY, message or "Pod is ready")
        for container in _fields.items(st.get("containerStatuses")):
            if _state(container, "terminated", "lastState"):
                name = _fields.text(container.get("name"))
                return status.HealthResult(
                    status.HealthStatus.DEGRADED,
                    message or f"container {name!r} restarted and is not ready",
                )
        return status.HealthResult(
            status.HealthStatus.PROGRESSING, message or "Pod is running but not ready"
        )
    return status.HealthResult(status.HealthStatus.UNKNOWN, message or f"Pod phase {phase!r}")
