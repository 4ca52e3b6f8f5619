"""Values under server-side apply: equality and the merge of a configuration into live.

:func:`merge` lays an applied configuration over the live object along its
type tree (:mod:`.schemas`): granular maps merge key by key, associative and
set lists item by item keeping live order (as structured-merge-diff's
visitListItems), everything else is replaced. :func:`equal` is
structured-merge-diff's value equality (``1`` equals ``1.0``, not ``true``).
Used by :mod:`.applying` and :mod:`.comparing`.
"""

from __future__ import annotations

from typing import Any

from gitward import errors
from gitward.testing.kubeapi import fieldsets, schemas

MISSING: Any = object()


class ApplyInvalid(errors.ApplyError):
    """The applied configuration cannot be applied at all.

    ``code`` is what kube-apiserver answers: 400 for a configuration carrying
    managedFields or the wrong apiVersion, 500 (sic) when it cannot be typed
    (duplicate keys in an associative list, a keyed item without its keys).
    """

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and len(a) == len(b)
            and all(k in b and equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def granular_map(value: Any, node: schemas.Node) -> bool:
    return isinstance(value, dict) and (
        node.kind == schemas.UNTYPED or (node.kind == schemas.MAP and not node.atomic)
    )


def granular_list(value: Any, node: schemas.Node) -> bool:
    return isinstance(value, list) and node.kind == schemas.LIST and node.list_type != "atomic"


def child(node: schemas.Node, name: str) -> schemas.Node:
    return node.child(name) if node.kind == schemas.MAP else schemas.UNTYPED_NODE


def index(node: schemas.Node, items: list[Any], where: str) -> list[str]:
    try:
        return [fieldsets.item_element(node, item, where) for item in items]
    except fieldsets.FieldSetError as exc:
        raise ApplyInvalid(f"failed to create typed object: {exc}", 500) from exc


def merge(lhs: Any, rhs: Any, node: schemas.Node, where: str) -> Any:
    """Apply's merge: ``rhs`` (the configuration) over ``lhs`` (live)."""
    if rhs is MISSING:
        return lhs
    if lhs is MISSING:
        return rhs
    if rhs is None and (granular_map(lhs, node) or granular_list(lhs, node)) and lhs:
        # A null container in the configuration merges as an empty one.
        return lhs
    if granular_map(lhs, node) and granular_map(rhs, node):
        if not lhs or not rhs:
            return rhs if not lhs and not rhs else {**lhs, **rhs}
        out = {}
        for key, value in lhs.items():
            out[key] = merge(value, rhs.get(key, MISSING), child(node, key), f"{where}.{key}")
        for key, value in rhs.items():
            if key not in lhs:
                out[key] = value
        return out
    if granular_list(lhs, node) and granular_list(rhs, node) and (lhs or rhs):
        return _merge_lists(lhs, rhs, node, where)
    return rhs


def _merge_lists(lhs: list[Any], rhs: list[Any], node: schemas.Node, where: str) -> list[Any]:
    """Associative merge keeping live order, as structured-merge-diff's visitListItems."""
    assert node.elem is not None
    elem = node.elem
    rhs_pes = index(node, rhs, where)
    if len(set(rhs_pes)) != len(rhs_pes):
        dup = next(pe for pe in rhs_pes if rhs_pes.count(pe) > 1)
        raise ApplyInvalid(
            f"failed to create typed patch object: {where}: duplicate entries for key "
            f"{fieldsets.path_string((dup,))}",
            500,
        )
    lhs_pes = index(node, lhs, where)
    observed_rhs = dict(zip(rhs_pes, rhs, strict=True))
    observed_lhs: dict[str, Any] = {}
    for pe, item in zip(lhs_pes, lhs, strict=True):
        # Duplicated live items are not merged with the new value.
        observed_lhs[pe] = MISSING if pe in observed_lhs else item
    shared = [pe for pe in rhs_pes if pe in observed_lhs]
    shared_at = 0
    next_shared = shared[0] if shared else None
    merged_rhs: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(lhs_pes) or ri < len(rhs_pes):
        if li < len(lhs_pes) and ri < len(rhs_pes):
            pe = lhs_pes[li]
            if pe == rhs_pes[ri]:
                merged_rhs.add(pe)
                out.append(merge(observed_lhs[pe], observed_rhs[pe], elem, where))
                li += 1
                ri += 1
                shared_at += 1
                next_shared = shared[shared_at] if shared_at < len(shared) else None
                continue
            if pe in observed_rhs and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lhs_pes):
            pe = lhs_pes[li]
            if pe not in observed_rhs:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
        if ri < len(rhs_pes):
            pe = rhs_pes[ri]
            merged_rhs.add(pe)
            out.append(merge(observed_lhs.get(pe, MISSING), observed_rhs[pe], elem, where))
            ri += 1
            if next_shared is not None and next_shared == pe:
                shared_at += 1
                next_shared = shared[shared_at] if shared_at < len(shared) else None
    return out
