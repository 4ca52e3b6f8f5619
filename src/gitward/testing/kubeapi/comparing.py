"""Which fields two versions of an object differ in, as server-side apply sees it.

:func:`compare_objects` is structured-merge-diff's Compare: the leaves added,
modified and removed between two values along their type tree, plus added or
removed containers (so an Update owns ``.metadata.labels`` itself when it adds
it), less the fields nobody owns. Used by :mod:`.applying`.
"""

from __future__ import annotations

from typing import Any

from gitward.testing.kubeapi import fieldsets, merging, schemas


class Comparison:
    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added = fieldsets.FieldSet()
        self.modified = fieldsets.FieldSet()
        self.removed = fieldsets.FieldSet()


def _insert(fs: fieldsets.FieldSet, path: tuple[str, ...]) -> None:
    if not path:
        return
    node = fs
    for element in path[:-1]:
        child = node.children.get(element)
        if child is None:
            child = node.children[element] = fieldsets.FieldSet()
        node = child
    node.members.add(path[-1])


def _compare(lhs: Any, rhs: Any, node: schemas.Node, path: tuple[str, ...], c: Comparison) -> None:
    """structured-merge-diff's Compare: leaves added/modified/removed, plus added or
    removed containers (so an Update owns ``.metadata.labels`` itself when it adds it)."""
    l_missing, r_missing = lhs is merging.MISSING, rhs is merging.MISSING
    # A null container compares as an empty one that exists (no "." for it).
    l_empty, r_empty = l_missing or lhs is None, r_missing or rhs is None
    if (l_empty or merging.granular_map(lhs, node)) and (
        r_empty or merging.granular_map(rhs, node)
    ):
        left = {} if l_empty else lhs
        right = {} if r_empty else rhs
        if left or right:
            for key, value in left.items():
                sub = (*path, f"f:{key}")
                _compare(value, right.get(key, merging.MISSING), merging.child(node, key), sub, c)
            for key, value in right.items():
                if key not in left:
                    _compare(
                        merging.MISSING, value, merging.child(node, key), (*path, f"f:{key}"), c
                    )
            _container_hook(lhs, rhs, path, c)
            return
    elif (l_empty or merging.granular_list(lhs, node)) and (
        r_empty or merging.granular_list(rhs, node)
    ):
        left_items = [] if l_empty else lhs
        right_items = [] if r_empty else rhs
        if left_items or right_items:
            _compare_lists(left_items, right_items, node, path, c)
            _container_hook(lhs, rhs, path, c)
            return
    if l_missing:
        _insert(c.added, path)
    elif r_missing:
        _insert(c.removed, path)
    elif not merging.equal(lhs, rhs):
        _insert(c.modified, path)


def _container_hook(lhs: Any, rhs: Any, path: tuple[str, ...], c: Comparison) -> None:
    if lhs is merging.MISSING:
        _insert(c.added, path)
    elif rhs is merging.MISSING:
        _insert(c.removed, path)


def _compare_lists(
    lhs: list[Any], rhs: list[Any], node: schemas.Node, path: tuple[str, ...], c: Comparison
) -> None:
    assert node.elem is not None
    where = fieldsets.path_string(path)
    left: dict[str, list[Any]] = {}
    order: list[str] = []
    for pe, item in zip(merging.index(node, lhs, where), lhs, strict=True):
        if pe not in left:
            order.append(pe)
        left.setdefault(pe, []).append(item)
    right: dict[str, list[Any]] = {}
    for pe, item in zip(merging.index(node, rhs, where), rhs, strict=True):
        if pe not in right and pe not in left:
            order.append(pe)
        right.setdefault(pe, []).append(item)
    for pe in order:
        lv, rv = left.get(pe, []), right.get(pe, [])
        item_path = (*path, pe)
        if len(lv) <= 1 and len(rv) <= 1:
            _compare(
                lv[0] if lv else merging.MISSING,
                rv[0] if rv else merging.MISSING,
                node.elem,
                item_path,
                c,
            )
        elif len(lv) >= 2 and len(rv) >= 2:
            if not merging.equal(lv, rv):
                _insert(c.modified, item_path)
        elif len(lv) >= 2:
            if rv:
                _compare(merging.MISSING, rv[0], node.elem, item_path, c)
            _insert(c.removed, item_path)
        else:
            if lv:
                _compare(lv[0], merging.MISSING, node.elem, item_path, c)
            _insert(c.added, item_path)


def compare_objects(
    lhs: Any, rhs: Any, node: schemas.Node, ignored: fieldsets.FieldSet
) -> Comparison:
    c = Comparison()
    _compare(lhs, rhs, node, (), c)
    if not ignored.empty():
        c.added = fieldsets.recursive_difference(c.added, ignored)
        c.modified = fieldsets.recursive_difference(c.modified, ignored)
        c.removed = fieldsets.recursive_difference(c.removed, ignored)
    return c
