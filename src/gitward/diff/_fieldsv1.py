"""The FieldsV1 format of ``metadata.managedFields``: which manager owns which field.

Private to ``gitward.diff``. ``ignoring`` uses it to drop the fields owned by
managers an ignore rule names; ``planning`` uses it on the structural path to
find fields gitward applied before and no longer declares, and to see whether
another manager owns a field gitward declares.

A FieldsV1 set is a tree of JSON objects whose keys are path elements:

* ``f:<name>``: a field of a map or struct;
* ``k:<json object>``: the list item whose key fields have these values
  (``k:{"name":"web"}`` in ``containers``);
* ``v:<json value>``: the item of a set-like list equal to that value;
* ``i:<index>``: a list item by position (atomic lists owned piecewise);
* ``.``: the node itself (the list item or map entry as a member).

An empty object ``{}`` is a leaf: the whole field is owned.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitward.diff import _pointers, comparing
from gitward.model import plans

# One path element: its kind ("f", "k", "v", "i") and a canonical text, so the
# same element written by two managers compares equal.
Element = tuple[str, str]


@dataclass(slots=True)
class Node:
    """A parsed FieldsV1 tree. ``owned`` is true for leaves and for ``.`` members."""

    children: dict[Element, Node] = field(default_factory=dict)
    owned: bool = False

    def merge(self, other: Node) -> None:
        self.owned = self.owned or other.owned
        for element, child in other.children.items():
            mine = self.children.get(element)
            if mine is None:
                self.children[element] = _copy(child)
            else:
                mine.merge(child)


def _copy(node: Node) -> Node:
    return Node({k: _copy(v) for k, v in node.children.items()}, node.owned)


def parse(fields: Any) -> Node:
    """Parse one ``fieldsV1`` value; malformed parts are skipped, not fatal.

    managedFields are written by the API server, but a hand-edited or
    foreign object must not stop a whole plan, so unreadable elements are
    ignored (they then simply count as not owned).
    """
    node = Node()
    if not isinstance(fields, Mapping):
        return node
    if not fields:
        node.owned = True
        return node
    for raw_key, raw_child in fields.items():
        if raw_key == ".":
            node.owned = True
            continue
        element = _element(str(raw_key))
        if element is None:
            continue
        child = parse(raw_child)
        existing = node.children.get(element)
        if existing is None:
            node.children[element] = child
        else:
            existing.merge(child)
    return node


def _element(raw: str) -> Element | None:
    kind, sep, rest = raw.partition(":")
    if not sep:
        return None
    if kind == "f":
        return ("f", rest)
    if kind in ("k", "v"):
        try:
            value = json.loads(rest)
        except ValueError:
            return None
        if kind == "k" and not isinstance(value, dict):
            return None
        return (kind, json.dumps(value, sort_keys=True, separators=(",", ":")))
    if kind == "i" and rest.isascii() and rest.isdigit():
        return ("i", rest)
    return None


def owned_by(managed_fields: Any, managers: Iterable[str], *, operation: str | None = None) -> Node:
    """Union of the fields owned by ``managers`` (optionally only for one operation).

    Entries for subresources other than the main resource count too: the
    HPA's controller scales through ``/scale`` and that is exactly the
    ownership an ignore rule is after.
    """
    wanted = set(managers)
    if not isinstance(managed_fields, list):
        return Node()
    return _union(
        parse(entry.get("fieldsV1"))
        for entry in managed_fields
        if isinstance(entry, Mapping)
        and entry.get("manager") in wanted
        and (operation is None or entry.get("operation") == operation)
        and entry.get("fieldsType", "FieldsV1") == "FieldsV1"
    )


def owns_any(managed_fields: Any, manager: str, operation: str) -> bool:
    """Whether ``manager``'s ``operation`` owns any field: ``owned_by(...)``
    has children, told from the entries' top-level keys without parsing them."""
    if not isinstance(managed_fields, list):
        return False
    for entry in managed_fields:
        if (
            isinstance(entry, Mapping)
            and entry.get("manager") == manager
            and entry.get("operation") == operation
            and entry.get("fieldsType", "FieldsV1") == "FieldsV1"
        ):
            fields = entry.get("fieldsV1")
            if isinstance(fields, Mapping) and any(
                key != "." and _element(str(key)) is not None for key in fields
            ):
                return True
    return False


def owned_by_others(managed_fields: Any, manager: str, operation: str) -> Node:
    """Fields owned by any entry other than (``manager``, ``operation``)."""
    if not isinstance(managed_fields, list):
        return Node()
    return _union(
        parse(entry.get("fieldsV1"))
        for entry in managed_fields
        if isinstance(entry, Mapping)
        and not (entry.get("manager") == manager and entry.get("operation") == operation)
    )


def _union(trees: Iterable[Node]) -> Node:
    """One tree owning what any of ``trees`` owns; a lone tree is returned as
    it is (each was just parsed, so nothing else holds it), not copied."""
    result: Node | None = None
    for tree in trees:
        if result is None:
            result = tree
        else:
            result.merge(tree)
    return result if result is not None else Node()


# List-map keys the API server defaults when a manifest leaves them out: the
# managedFields key of `ports: [{containerPort: 80}]` is
# {"containerPort":80,"protocol":"TCP"}, and Git's item must still match it.
_KEY_DEFAULTS: Mapping[str, Any] = {"protocol": "TCP"}


def _matches(item: Any, keys: Mapping[str, Any]) -> bool:
    if not isinstance(item, Mapping):
        return False
    return all(
        comparing.same(item[k], v) if k in item else k in _KEY_DEFAULTS and _KEY_DEFAULTS[k] == v
        for k, v in keys.items()
    )


@functools.lru_cache(maxsize=4096)
def _decoded(text: str) -> Any:
    return json.loads(text)


def find(value: Any, element: Element) -> tuple[bool, str | int, Any]:
    """Locate ``element`` in ``value``: (found, key or index, child value)."""
    kind, text = element
    if kind == "f":
        if isinstance(value, Mapping) and text in value:
            return True, text, value[text]
        return False, text, None
    if not isinstance(value, list):
        return False, 0, None
    if kind == "i":
        index = int(text)
        if index < len(value):
            return True, index, value[index]
        return False, index, None
    target = _decoded(text)
    for index, item in enumerate(value):
        if (kind == "k" and _matches(item, target)) or (
            kind == "v" and comparing.same(item, target)
        ):
            return True, index, item
    return False, 0, None


def remove(obj: Any, node: Node) -> None:
    """Delete from ``obj`` (in place) every field ``node`` owns."""
    if not node.children:
        return
    deletions: list[str | int] = []
    for element, child in node.children.items():
        found, where, value = find(obj, element)
        if not found:
            continue
        if child.owned:
            deletions.append(where)
        else:
            remove(value, child)
    if isinstance(obj, dict):
        for key in deletions:
            obj.pop(key, None)
    elif isinstance(obj, list):
        # Resolve every index first, delete from the end so indices stay valid.
        for index in sorted({int(i) for i in deletions}, reverse=True):
            del obj[index]


def removals(
    owned: Node,
    others: Node | None,
    desired: Any,
    live: Any,
    pointer: str = "",
    keys: frozenset[str] = frozenset(),
) -> list[plans.FieldChange]:
    """Fields ``owned`` in ``live`` that ``desired`` no longer sets and nobody else owns.

    Server-side apply deletes such fields when gitward next applies; fields
    another manager also owns stay (ownership is merely released), so they are
    not reported. Pointers of removed list items use the live index, since the
    item has no place on the desired side.
    """
    changes: list[plans.FieldChange] = []
    for element, child in sorted(owned.children.items(), key=lambda item: item[0]):
        if element[0] == "f" and element[1] in keys:
            # The key fields of a list item that stays stay with it.
            continue
        found_live, where, live_value = find(live, element)
        if not found_live:
            continue
        found_desired, desired_where, desired_value = (
            find(desired, element) if desired is not None else (False, 0, None)
        )
        other = others.children.get(element) if others is not None else None
        if found_desired:
            if child.children:
                path = _pointers.join(pointer, desired_where)
                changes.extend(removals(child, other, desired_value, live_value, path))
            continue
        path = _pointers.join(pointer, where)
        if child.owned and other is None:
            changes.append(plans.FieldChange(path=path, before=live_value, after=None))
        elif child.children:
            item_keys = frozenset(_decoded(element[1])) if element[0] == "k" else frozenset()
            changes.extend(removals(child, other, None, live_value, path, item_keys))
    return changes


def overlaps(owned: Node, declared: Any) -> bool:
    """Whether ``owned`` holds a field that ``declared`` sets (or the list item
    or atomic value holding one)."""
    for element, child in owned.children.items():
        found, _, value = find(declared, element)
        if not found or value is None:
            continue
        if child.owned or overlaps(child, value):
            return True
    return False
