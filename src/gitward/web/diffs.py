"""Side-by-side views of a Plan for the web UI: one table per changed object.

``gitward.web.pages`` calls :func:`views` with the current Plan of an
Application. Everything shown comes from the masked views of
``gitward.engine.reports`` (``plan_dict`` for field changes,
``masked_manifest`` for a new object's body), so a Secret's values never reach
a page, whatever built the Plan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from gitward.engine import reports
from gitward.model import plans

# Values longer than this are cut in the table; the whole object is one click
# away in Git, and a page of many megabytes helps no one.
MAX_VALUE_CHARS = 4000
MAX_BODY_CHARS = 20000


@dataclass(frozen=True, slots=True)
class Row:
    """One field: its JSON pointer, its live value and its value in Git.

    ``kind`` is ``added`` (only in Git), ``removed`` (only live) or
    ``changed``; ``mark`` is the same as a character, so status is never told
    by colour alone.
    """

    path: str
    live: str
    git: str
    kind: str

    @property
    def mark(self) -> str:
        return {"added": "+", "removed": "\N{MINUS SIGN}", "changed": "~"}[self.kind]


@dataclass(frozen=True, slots=True)
class ChangeView:
    """One object of the Plan that a sync would change, ready for a template."""

    anchor: str  # a stable HTML id for the object's diff
    resource: str
    kind: str
    namespace: str
    name: str
    action: str
    reason: str
    source: str
    rows: tuple[Row, ...]
    created_body: str = ""  # the masked manifest of an object to create

    @property
    def summary(self) -> str:
        counts = {"added": 0, "removed": 0, "changed": 0}
        for row in self.rows:
            counts[row.kind] += 1
        parts = [f"{n} {what}" for what, n in counts.items() if n]
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class PlanView:
    revision: str
    server_side: bool
    in_sync: bool
    summary: Mapping[str, int]
    warnings: tuple[str, ...]
    changes: tuple[ChangeView, ...]


def views(plan: plans.Plan) -> PlanView:
    """The changes of ``plan`` (unchanged objects and hooks left out)."""
    data = reports.plan_dict(plan)
    changes = []
    for change, shown in zip(plan.changes, data["changes"], strict=True):
        if not change.is_change or change.hook:
            continue
        created = ""
        if change.action is plans.Action.CREATE and change.desired is not None:
            created = _cut(_yaml(reports.masked_manifest(change.desired)), MAX_BODY_CHARS)
        changes.append(
            ChangeView(
                anchor=anchor(shown["resource"]),
                resource=shown["resource"],
                kind=shown["kind"],
                namespace=shown["namespace"],
                name=shown["name"],
                action=shown["action"],
                reason=shown["reason"],
                source=shown["source"],
                rows=tuple(
                    row(fc["path"], fc["before"], fc["after"]) for fc in shown["fieldChanges"]
                ),
                created_body=created,
            )
        )
    return PlanView(
        revision=data["revision"],
        server_side=data["serverSide"],
        in_sync=data["inSync"],
        summary=data["summary"],
        warnings=tuple(data["warnings"]),
        changes=tuple(changes),
    )


def row(path: str, before: Any, after: Any) -> Row:
    """One side-by-side row; ``None`` means the field is absent on that side."""
    if before is None:
        kind = "added"
    elif after is None:
        kind = "removed"
    else:
        kind = "changed"
    return Row(path=path or "/", live=show(before), git=show(after), kind=kind)


def show(value: Any) -> str:
    """A value as people read it: scalars as JSON, structures as YAML; absent as ''."""
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        return _cut(_yaml(value), MAX_VALUE_CHARS)
    return _cut(json.dumps(value, ensure_ascii=False, default=str), MAX_VALUE_CHARS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def anchor(resource: str) -> str:
    """An HTML id for a resource key (letters, digits, ``-`` only)."""
    cleaned = "".join(c if c.isascii() and c.isalnum() else "-" for c in resource.lower())
    readable = "-".join(part for part in cleaned.split("-") if part)
    # Keys that differ only in punctuation (web/a.b, web/a-b) stay distinct.
    digest = hashlib.sha256(resource.encode()).hexdigest()[:8]
    return f"diff-{readable}-{digest}"


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True)
