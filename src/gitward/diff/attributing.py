"""Who changed a field: the field manager that owns it in the live object's
``metadata.managedFields``, with the operation and time the API server recorded.

Drift reports read it (``engine`` names "kubectl-scale, Update, 14:02" for
``/spec/replicas`` of a Deployment someone scaled by hand), so a person learns
who changed what, not only that it differs. Pure: the live object in, an
:class:`Attribution` out.

A path is matched element by element against each manager's FieldsV1 set
(fields by name; list items by their key fields, position or value); a
manager owns it when its set holds the path or a leaf above it. Between
several owners (shared ownership), the most recent write wins. gitward's own
field manager is left out: it applied what Git says, it is never who drifted.
A field someone removed is owned by nobody any more: no one is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitward import errors
from gitward.diff import _fieldsv1, _pointers


@dataclass(frozen=True, slots=True)
class Attribution:
    manager: str
    operation: str  # Apply or Update
    time: str  # RFC 3339 as the API server wrote it; '' when absent
    subresource: str = ""

    def describe(self) -> str:
        """``kubectl-scale (Update via scale) at 2026-12-04T14:02:00Z``."""
        how = self.operation + (f" via {self.subresource}" if self.subresource else "")
        return f"{self.manager} ({how})" + (f" at {self.time}" if self.time else "")


def _child(node: _fieldsv1.Node, value: Any, segment: str) -> tuple[_fieldsv1.Node | None, Any]:
    if isinstance(value, Mapping):
        return node.children.get(("f", segment)), value.get(segment)
    if isinstance(value, list) and segment.isdigit():
        index = int(segment)
        item = value[index] if index < len(value) else None
        for (kind, text), child in node.children.items():
            if kind == "k" and _fieldsv1._matches(item, _fieldsv1._decoded(text)):
                return child, item
            if kind == "i" and text == segment:
                return child, item
            if kind == "v" and _fieldsv1._decoded(text) == item:
                return child, item
        return None, item
    return None, None


def _owns(fields: Any, live: Mapping[str, Any], segments: tuple[str, ...]) -> bool:
    """Whether the set holds the path itself, or a leaf above it (which owns
    everything below). Owning a sibling under a common parent is not owning it."""
    node = _fieldsv1.parse(fields)
    value: Any = live
    for segment in segments:
        child, value = _child(node, value, segment)
        if child is None:
            return False
        node = child
        if not node.children:
            return True
    return True


def who(
    live: Mapping[str, Any] | None, pointer: str, *, exclude: str = "gitward"
) -> Attribution | None:
    """The manager that last set ``pointer`` (a JSON pointer) in ``live``; None when
    no other manager owns any part of it (or the object has no managedFields)."""
    if not live or not pointer:
        return None
    try:
        segments = _pointers.parse(pointer, "drifted field")
    except errors.PlanError:
        return None
    entries = (live.get("metadata") or {}).get("managedFields")
    if not isinstance(entries, list):
        return None
    best: Attribution | None = None
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("manager") in (None, exclude):
            continue
        if entry.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        if not _owns(entry.get("fieldsV1"), live, tuple(str(s) for s in segments)):
            continue
        found = Attribution(
            manager=str(entry.get("manager")),
            operation=str(entry.get("operation", "")),
            time=str(entry.get("time") or ""),
            subresource=str(entry.get("subresource") or ""),
        )
        if best is None or found.time > best.time:
            best = found
    return best
