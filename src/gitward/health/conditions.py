"""Generic health from status conditions, for kinds without a dedicated check.

``assessing`` uses :func:`generic` for every kind not registered (custom
resources above all). It reads the conventions most controllers follow:

* ``status.observedGeneration`` older than ``metadata.generation``: the
  controller has not acted on the latest spec yet → Progressing;
* kstatus (Flux, cli-utils): ``Stalled`` True → Degraded, ``Reconciling``
  True → Progressing;
* ``Ready``, else ``Available``: True → Healthy; Unknown → Progressing;
  False → Degraded, unless its reason says work is still under way
  (``Progressing``, ``Pending``, ``Reconciling``...) → Progressing;
* none of these: the object has nothing to report → Healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status

_UNDER_WAY = (
    "progress",
    "pending",
    "reconcil",
    "waiting",
    "creating",
    "initializ",
    "provisioning",
    "updating",
    "deploying",
    "starting",
    "dependencynotready",
)


def _say(condition: Mapping[str, Any], default: str) -> str:
    kind = _fields.text(condition.get("type"))
    reason = _fields.text(condition.get("reason"))
    message = _fields.text(condition.get("message"))
    text = ": ".join(part for part in (reason, message) if part)
    return f"{kind}: {text}" if text else default


def generic(obj: Mapping[str, Any]) -> status.HealthResult:
    if _fields.generation_pending(obj):
        return status.HealthResult(
            status.HealthStatus.PROGRESSING,
            "Waiting for the controller to observe the latest generation",
        )
    stalled = _fields.condition(obj, "Stalled")
    if stalled is not None and _fields.is_true(stalled):
        return status.HealthResult(status.HealthStatus.DEGRADED, _say(stalled, "Stalled"))
    reconciling = _fields.condition(obj, "Reconciling")
    if reconciling is not None and _fields.is_true(reconciling):
        return status.HealthResult(
            status.HealthStatus.PROGRESSING, _say(reconciling, "Reconciling")
        )
    for kind in ("Ready", "Available"):
        condition = _fields.condition(obj, kind)
        if condition is None:
            continue
        if _fields.is_true(condition):
            return status.HealthResult(status.HealthStatus.HEALTHY, _say(condition, kind))
        if _fields.is_false(condition):
            reason = _fields.text(condition.get("reason")).lower()
            if any(word in reason for word in _UNDER_WAY):
                return status.HealthResult(
                    status.HealthStatus.PROGRESSING, _say(condition, f"not {kind} yet")
                )
            return status.HealthResult(status.HealthStatus.DEGRADED, _say(condition, f"not {kind}"))
        return status.HealthResult(
            status.HealthStatus.PROGRESSING, _say(condition, f"{kind} unknown")
        )
    return status.HealthResult(status.HealthStatus.HEALTHY)
