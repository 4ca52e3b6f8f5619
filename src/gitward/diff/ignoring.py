"""``ignoreDifferences``: differences an Application declares are not drift.

Called by ``planning`` on the normalised desired, live and predicted objects
of each resource before they are compared. A rule selects objects by group,
kind, name and namespace (see :class:`gitward.diff.base.IgnoreRule`) and
removes from every side:

* the fields its JSON pointers address (RFC 6901; a pointer that does not
  resolve on a side is simply absent there);
* the fields the named managers own in the live object's
  ``metadata.managedFields`` (so an HPA's controller scaling ``/spec/replicas``
  is not drift). Ownership is read from the live object only: that is who
  actually wrote the live values.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from typing import Any

from gitward.diff import _fieldsv1, _pointers, base
from gitward.model import resources


def _describe(rule: base.IgnoreRule) -> str:
    parts = [
        f"{name}={value}"
        for name, value in (
            ("group", rule.group),
            ("kind", rule.kind),
            ("namespace", rule.namespace),
            ("name", rule.name),
        )
        if value
    ]
    return "ignoreDifferences rule (" + (", ".join(parts) or "any object") + ")"


def validate(rules: Iterable[base.IgnoreRule]) -> None:
    """Raise :class:`gitward.errors.PlanError` for a malformed pointer in any rule."""
    for rule in rules:
        for pointer in rule.json_pointers:
            _pointers.parse(pointer, _describe(rule))


def _glob(pattern: str, value: str) -> bool:
    return pattern in ("", "*") or fnmatch.fnmatchcase(value, pattern)


def matching(
    rules: Iterable[base.IgnoreRule], key: resources.ResourceKey
) -> tuple[base.IgnoreRule, ...]:
    """The rules that apply to the object ``key``."""
    return tuple(
        rule
        for rule in rules
        if _glob(rule.group, key.group)
        and _glob(rule.kind, key.kind)
        and _glob(rule.name, key.name)
        and _glob(rule.namespace, key.namespace)
    )


def strip(rules: Sequence[base.IgnoreRule], managed_fields: Any, *objects: Any) -> None:
    """Remove the ignored fields from each of ``objects`` in place.

    ``managed_fields`` is the live object's ``metadata.managedFields`` (read
    before normalisation drops it).
    """
    if not rules:
        return
    managers = {m for rule in rules for m in rule.managed_fields_managers}
    owned = _fieldsv1.owned_by(managed_fields, managers) if managers else None
    pointers = [
        _pointers.parse(pointer, _describe(rule))
        for rule in rules
        for pointer in rule.json_pointers
    ]
    for obj in objects:
        if obj is None:
            continue
        if owned is not None:
            _fieldsv1.remove(obj, owned)
        for tokens in pointers:
            _remove_pointer(obj, tokens)


def _remove_pointer(obj: Any, tokens: tuple[str, ...]) -> None:
    if not tokens:
        # "" addresses the whole document: ignoring it ignores everything.
        if isinstance(obj, dict):
            obj.clear()
        return
    parent = obj
    for token in tokens[:-1]:
        parent = _step(parent, token)
        if parent is None:
            return
    last = tokens[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list):
        index = _index(last)
        if index is not None and index < len(parent):
            del parent[index]


def _step(value: Any, token: str) -> Any:
    if isinstance(value, dict):
        return value.get(token)
    if isinstance(value, list):
        index = _index(token)
        if index is not None and index < len(value):
            return value[index]
    return None


def _index(text: str) -> int | None:
    # RFC 6901: array indices are "0" or digits without a leading zero.
    if text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0")):
        return int(text)
    return None
