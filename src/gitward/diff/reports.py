"""Plans for people and programs: ``gitward diff`` text and JSON-ready dicts.

Called by ``engine.reports`` for the CLI (text and ``-o json``) and the API.
Both views mask Secret values again, whatever built the Plan, so no output
path can leak one.

Text format, one block per object that changes (``+`` create, ``~`` update,
``-`` prune, ``!`` skip), then one line per field::

    ~ update Deployment.apps web/frontend (live differs from Git)
        ~ /spec/replicas: 3 → 5
        + /metadata/labels/tier: "web"
        - /spec/paused

Text over several lines (a host File's content, a script in a ConfigMap)
is shown as a unified diff under its field, live (``-``) against Git (``+``).
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from gitward.diff import masking
from gitward.model import hostobjects, plans

_MARKS = {
    plans.Action.CREATE: "+",
    plans.Action.UPDATE: "~",
    plans.Action.PRUNE: "-",
    plans.Action.SKIP: "!",
    plans.Action.UNCHANGED: "=",
}
# Long values (a whole container, a certificate) are cut in the text view;
# the JSON view carries them whole.
_MAX_VALUE = 200
_MAX_DIFF_LINES = 60


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def field_line(change: plans.FieldChange) -> str:
    """One field change: ``~ path: before → after``, ``+ path: after``, ``- path``."""
    path = change.path or "/"
    if change.before is None:
        return f"+ {path}: {_value(change.after)}"
    if change.after is None:
        return f"- {path}"
    return f"~ {path}: {_value(change.before)} → {_value(change.after)}"


def field_lines(change: plans.FieldChange) -> list[str]:
    """:func:`field_line`, or for text over several lines (a file's content, a
    script in a ConfigMap) the line and a unified diff of the two texts under it."""
    before, after = change.before, change.after
    if not (isinstance(before, str) and isinstance(after, str)) or not (
        "\n" in before or "\n" in after
    ):
        return [field_line(change)]
    diff = list(
        difflib.unified_diff(
            before.splitlines(), after.splitlines(), "live", "git", n=2, lineterm=""
        )
    )
    shown = diff[2:] if len(diff) > 2 else diff
    if len(shown) > _MAX_DIFF_LINES:
        more = len(shown) - _MAX_DIFF_LINES
        shown = [*shown[:_MAX_DIFF_LINES], f"… {more} more line(s)"]
    return [f"~ {change.path or '/'}:", *(f"    {line}" for line in shown)]


def _secret(change: plans.Change) -> bool:
    return change.desired is not None and hostobjects.is_secret(change.desired.body)


def text(plan: plans.Plan, *, show_unchanged: bool = False) -> str:
    """The Plan as text; unchanged objects only with ``show_unchanged``."""
    how = "server-side dry-run" if plan.server_side else "structural comparison"
    counts = plan.summary()
    lines = [
        f"Plan for {plan.app} at {plan.revision[:12] or '(unknown revision)'} ({how}): "
        f"{counts['create']} to create, {counts['update']} to update, "
        f"{counts['prune']} to prune, {counts['skip']} skipped, "
        f"{counts['unchanged']} unchanged"
    ]
    for warning in plan.warnings:
        lines.append(f"warning: {warning}")
    for change in plan.changes:
        if change.action is plans.Action.UNCHANGED and not show_unchanged:
            continue
        head = f"{_MARKS[change.action]} {change.action.value} {change.key}"
        tags = []
        if change.hook:
            tags.append(f"{change.phase.value} hook")
        if change.wave:
            tags.append(f"wave {change.wave}")
        if change.reason:
            tags.append(change.reason)
        if tags:
            head += f" ({'; '.join(tags)})"
        lines.append(head)
        for field_change in masking.mask_changes(
            change.key, change.field_changes, secret=_secret(change)
        ):
            lines.extend(f"    {line}" for line in field_lines(field_change))
    if plan.in_sync:
        lines.append("In sync: nothing to create, update or prune.")
    elif plan.matches_git:
        lines.append(
            f"In sync with Git: {len(plan.adoptions)} object(s) applied by another tool "
            "match Git and are adopted by the next sync (tracking label and annotation only)."
        )
    return "\n".join(lines) + "\n"


def to_dict(plan: plans.Plan) -> dict[str, Any]:
    """The Plan as JSON-ready data (Secret values masked), for the API and ``-o json``."""
    return {
        "app": plan.app,
        "revision": plan.revision,
        "serverSide": plan.server_side,
        "inSync": plan.in_sync,
        "matchesGit": plan.matches_git,
        "summary": plan.summary(),
        "warnings": list(plan.warnings),
        "changes": [_change_dict(change) for change in plan.changes],
    }


def _change_dict(change: plans.Change) -> dict[str, Any]:
    return {
        "resource": str(change.key),
        "group": change.key.group,
        "kind": change.key.kind,
        "namespace": change.key.namespace,
        "name": change.key.name,
        "action": change.action.value,
        "phase": change.phase.value,
        "wave": change.wave,
        "hook": change.hook,
        "adopt": change.adopt,
        "reason": change.reason,
        "source": change.desired.source if change.desired is not None else "",
        "fieldChanges": [
            {"path": fc.path, "before": fc.before, "after": fc.after}
            for fc in masking.mask_changes(change.key, change.field_changes, secret=_secret(change))
        ],
    }
