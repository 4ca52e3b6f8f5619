"""Drift that says who: each drifted field with the field manager that set it.

Called by the agent when a plan at an already synced revision differs from
the live state: the drifted objects are read once more (drift is rare; the
plan does not keep live objects) and each field change is named with
``diff.attributing.who`` — "Deployment.apps web/web /spec/replicas by kubectl
(Update via scale) at 2026-12-04T14:02:00Z". The text goes into the
DriftDetected event, hence its notifications and the UI's event list.
"""

from __future__ import annotations

from gitward import errors
from gitward.diff import attributing
from gitward.model import plans
from gitward.targets import base as targets

_MAX_FIELDS = 50


def fields(plan: plans.Plan) -> list[tuple[plans.Change, str]]:
    """Every drifted (change, field path) of ``plan``; '' for a whole object."""
    return [
        (change, fc.path)
        for change in plan.changes
        if change.is_change and not change.hook
        for fc in (change.field_changes or (plans.FieldChange("", None, None),))
    ][:_MAX_FIELDS]


async def attributed(target: targets.Target, plan: plans.Plan) -> tuple[str, ...]:
    """The drifted fields of ``plan``, each with who set it when that is known."""
    found = fields(plan)
    keys = sorted({change.key for change, _ in found})
    try:
        live = await target.read(keys) if keys else {}
    except errors.GitwardError:
        live = {}
    described = []
    for change, path in found:
        text = f"{change.key} {path}" if path else str(change.key)
        who = attributing.who(live.get(change.key), path) if path else None
        described.append(f"{text} by {who.describe()}" if who else text)
    return tuple(described)
