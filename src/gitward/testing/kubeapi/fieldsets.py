"""Field sets: the FieldsV1 encoding of managedFields and its set algebra.

Used by :mod:`.applying` (server-side apply and Update bookkeeping) and by
tests that read ``metadata.managedFields``. A :class:`FieldSet` mirrors
structured-merge-diff's ``fieldpath.Set``: a trie whose edges are path elements
spelled as FieldsV1 keys (``f:name``, ``k:{"name":"web"}``, ``v:"value"``,
``i:0``) and whose nodes record which paths are members. ``from_value`` derives
the set of an object from its type tree (:mod:`.schemas`), the way the API
server derives a manager's set from its applied configuration.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from gitward import errors
from gitward.testing.kubeapi import schemas


class FieldSetError(errors.InputError):
    """A value cannot be turned into field paths (e.g. a keyed list item lacks its keys)."""

    reason = "Invalid"


class FieldSet:
    """An immutable set of field paths (do not mutate a set once built)."""

    __slots__ = ("children", "members")

    def __init__(
        self, members: set[str] | None = None, children: dict[str, FieldSet] | None = None
    ) -> None:
        self.members: set[str] = members if members is not None else set()
        self.children: dict[str, FieldSet] = children if children is not None else {}

    def empty(self) -> bool:
        return not self.members and not self.children

    def __bool__(self) -> bool:
        return not self.empty()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self.members == other.members and self.children == other.children

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FieldSet({sorted(path_string(p) for p in self.paths())})"

    def has(self, path: tuple[str, ...]) -> bool:
        node = self
        for element in path[:-1]:
            child = node.children.get(element)
            if child is None:
                return False
            node = child
        return bool(path) and path[-1] in node.members

    def child(self, element: str) -> FieldSet:
        """The paths under ``element`` (``WithPrefix``), relative to it."""
        return self.children.get(element, _EMPTY)

    def paths(self) -> Iterator[tuple[str, ...]]:
        """Every member path, parents before children, in FieldsV1 order."""
        for element in sorted(self.members | set(self.children), key=_order):
            if element in self.members:
                yield (element,)
            child = self.children.get(element)
            if child is not None:
                for sub in child.paths():
                    yield (element, *sub)

    def size(self) -> int:
        return len(self.members) + sum(c.size() for c in self.children.values())


_EMPTY = FieldSet()


def empty() -> FieldSet:
    return _EMPTY


def from_paths(*paths: tuple[str, ...]) -> FieldSet:
    """A set of the given paths (tuples of FieldsV1 path elements)."""
    root = FieldSet()
    for path in paths:
        node = root
        for element in path[:-1]:
            node = node.children.setdefault(element, FieldSet())
        node.members.add(path[-1])
    return root


def union(a: FieldSet, b: FieldSet) -> FieldSet:
    if b.empty():
        return a
    if a.empty():
        return b
    children = dict(a.children)
    for element, child in b.children.items():
        mine = children.get(element)
        children[element] = child if mine is None else union(mine, child)
    return FieldSet(a.members | b.members, children)


def intersection(a: FieldSet, b: FieldSet) -> FieldSet:
    if a.empty() or b.empty():
        return _EMPTY
    children: dict[str, FieldSet] = {}
    for element, child in a.children.items():
        other = b.children.get(element)
        if other is not None:
            both = intersection(child, other)
            if not both.empty():
                children[element] = both
    return FieldSet(a.members & b.members, children)


def difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """Paths of ``a`` not in ``b`` (a member of ``b`` does not remove its children)."""
    if b.empty() or a.empty():
        return a
    children: dict[str, FieldSet] = {}
    for element, child in a.children.items():
        other = b.children.get(element)
        rest = child if other is None else difference(child, other)
        if not rest.empty():
            children[element] = rest
    return FieldSet(a.members - b.members, children)


def recursive_difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """Paths of ``a`` with no prefix (nor themselves) in ``b``."""
    if b.empty() or a.empty():
        return a
    children: dict[str, FieldSet] = {}
    for element, child in a.children.items():
        if element in b.members:
            continue
        other = b.children.get(element)
        rest = child if other is None else recursive_difference(child, other)
        if not rest.empty():
            children[element] = rest
    return FieldSet(a.members - b.members, children)


def ensure_named_fields_are_members(fs: FieldSet, node: schemas.Node) -> FieldSet:
    """``fs`` plus every struct field that is a prefix of one of its paths.

    Pruning uses it so that a struct field nobody owns any more (``.spec.strategy``)
    goes away as a whole, while free-form map entries and list items do not.
    """
    if not fs.children:
        return fs
    members = set(fs.members)
    children: dict[str, FieldSet] = {}
    for element, child in fs.children.items():
        sub = _child_node(node, element)
        if (
            element.startswith("f:")
            and node.kind == schemas.MAP
            and node.is_named_field(element[2:])
        ):
            members.add(element)
        children[element] = ensure_named_fields_are_members(child, sub)
    return FieldSet(members, children)


def _child_node(node: schemas.Node, element: str) -> schemas.Node:
    if element.startswith("f:"):
        return node.child(element[2:]) if node.kind == schemas.MAP else schemas.UNTYPED_NODE
    if node.kind == schemas.LIST and node.elem is not None:
        return node.elem
    return schemas.UNTYPED_NODE


# --- FieldsV1 --------------------------------------------------------------------


_RANK = {"f": 1, "k": 2, "v": 3, "i": 4}


def _order(element: str) -> tuple[int, str]:
    return (_RANK.get(element[:1], 5), element)


def to_fields_v1(fs: FieldSet) -> dict[str, Any]:
    """The FieldsV1 JSON object of a set (``.`` marks a member that has children)."""
    out: dict[str, Any] = {}
    for element in sorted(fs.members | set(fs.children), key=_order):
        child = fs.children.get(element)
        if child is None:
            out[element] = {}
            continue
        encoded = to_fields_v1(child)
        if element in fs.members:
            encoded = {".": {}, **encoded}
        out[element] = encoded
    return out


def from_fields_v1(encoded: Mapping[str, Any], where: str = "fieldsV1") -> FieldSet:
    """Parse a FieldsV1 object; raises :class:`FieldSetError` naming ``where``."""
    if not isinstance(encoded, Mapping):
        raise FieldSetError(f"{where}: expected an object, got {type(encoded).__name__}")
    members: set[str] = set()
    children: dict[str, FieldSet] = {}
    for element, sub in encoded.items():
        if element == ".":
            continue
        if element[:2] not in ("f:", "k:", "v:", "i:"):
            raise FieldSetError(f"{where}: unknown path element {element!r}")
        if not isinstance(sub, Mapping):
            raise FieldSetError(f"{where}: value of {element!r} is not an object")
        if not sub or "." in sub:
            members.add(element)
        if any(k != "." for k in sub):
            children[element] = from_fields_v1(sub, where)
    return FieldSet(members, children)


# --- path elements ------------------------------------------------------------------


def field_element(name: str) -> str:
    return f"f:{name}"


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def item_element(node: schemas.Node, item: Any, where: str = "") -> str:
    """The path element of an item of associative or set list ``node``."""
    if node.list_type == "map" and node.keys:
        if not isinstance(item, Mapping):
            raise FieldSetError(
                f"{where}: associative list with keys may not have non-map elements"
            )
        key: dict[str, Any] = {}
        for name in node.keys:
            if name in item and item[name] is not None:
                key[name] = item[name]
            elif name in node.key_defaults:
                key[name] = node.key_defaults[name]
        if not key:
            names = " ".join(_json(k) for k in node.keys)
            raise FieldSetError(
                f"{where}: associative list with keys has an element that omits all key "
                f"fields [{names}] (and doesn't have default values for any key fields)"
            )
        return "k:" + _json(key)
    return "v:" + _json(item)


def path_string(path: tuple[str, ...]) -> str:
    """A path as kube prints it: ``.spec.containers[name="web"].image``."""
    parts: list[str] = []
    for element in path:
        tag, body = element[:2], element[2:]
        if tag == "f:":
            parts.append(f".{body}")
        elif tag == "k:":
            key = orjson.loads(body)
            parts.append("[" + ",".join(f"{k}={_print_value(v)}" for k, v in key.items()) + "]")
        elif tag == "v:":
            parts.append(f"[={_print_value(orjson.loads(body))}]")
        else:
            parts.append(f"[{body}]")
    return "".join(parts)


def _print_value(value: Any) -> str:
    if isinstance(value, str):
        return _json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return _json(value)


# --- sets of values -----------------------------------------------------------------


def is_leaf(value: Any, node: schemas.Node) -> bool:
    """Whether ``value`` is owned whole (scalar, atomic, or untyped list)."""
    if isinstance(value, dict):
        return (node.kind == schemas.MAP and node.atomic) or node.kind in (
            schemas.SCALAR,
            schemas.LIST,
        )
    if isinstance(value, list):
        return node.kind != schemas.LIST or node.list_type == "atomic"
    return True


def from_value(
    value: Any, node: schemas.Node, where: str = "", *, allow_duplicates: bool = True
) -> FieldSet:
    """The field set of ``value`` (structured-merge-diff ``ToFieldSet``).

    Live objects may hold duplicate keys in associative lists (they are owned as
    a whole); an applied configuration may not (``allow_duplicates=False``).
    """
    if isinstance(value, dict):
        if node.kind == schemas.MAP and node.atomic:
            return _EMPTY
        if node.kind not in (schemas.MAP, schemas.UNTYPED):
            return _EMPTY
        members: set[str] = set()
        children: dict[str, FieldSet] = {}
        for name, sub in value.items():
            element = "f:" + name
            sub_node = node.child(name) if node.kind == schemas.MAP else schemas.UNTYPED_NODE
            if is_leaf(sub, sub_node):
                members.add(element)
                continue
            if isinstance(sub, dict) and (not sub or not node.is_named_field(name)):
                members.add(element)
            child = from_value(sub, sub_node, f"{where}.{name}", allow_duplicates=allow_duplicates)
            if not child.empty():
                children[element] = child
        return FieldSet(members, children)
    if isinstance(value, list) and node.kind == schemas.LIST and node.list_type != "atomic":
        assert node.elem is not None
        members = set()
        children = {}
        seen: set[str] = set()
        duplicates: set[str] = set()
        elements = [item_element(node, item, where) for item in value]
        for element in elements:
            if element in seen:
                if not allow_duplicates:
                    raise FieldSetError(
                        f"{where}: duplicate entries for key {path_string((element,))}"
                    )
                duplicates.add(element)
            seen.add(element)
        members.update(duplicates)
        for element, item in zip(elements, value, strict=True):
            if element in duplicates:
                continue
            members.add(element)
            if not is_leaf(item, node.elem):
                child = from_value(
                    item,
                    node.elem,
                    where + path_string((element,)),
                    allow_duplicates=allow_duplicates,
                )
                if not child.empty():
                    children[element] = child
        return FieldSet(members, children)
    return _EMPTY


def remove_items(value: Any, fs: FieldSet, node: schemas.Node) -> Any:
    """``value`` without the paths of ``fs`` (``RemoveItems``); emptied containers become None."""
    if fs.empty():
        return value
    if isinstance(value, dict):
        if not value or (node.kind == schemas.MAP and node.atomic):
            return None
        out: dict[str, Any] = {}
        for name, sub in value.items():
            element = "f:" + name
            if element in fs.members:
                continue
            child = fs.children.get(element)
            if child is not None:
                sub_node = node.child(name) if node.kind == schemas.MAP else schemas.UNTYPED_NODE
                sub = remove_items(sub, child, sub_node)
            out[name] = sub
        return out or None
    if isinstance(value, list):
        if not value or node.kind != schemas.LIST or node.list_type == "atomic":
            return None
        assert node.elem is not None
        items: list[Any] = []
        for item in value:
            element = item_element(node, item)
            if element in fs.members:
                continue
            child = fs.children.get(element)
            items.append(item if child is None else remove_items(item, child, node.elem))
        return items or None
    return value
