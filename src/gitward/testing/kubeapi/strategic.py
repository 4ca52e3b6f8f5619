"""Strategic merge patch for the Kubernetes API test server.

:func:`strategic_merge_patch` follows k8s.io/apimachinery's strategicpatch:
lists merge by their ``patchMergeKey`` where the type (:mod:`.schemas`) says
so (containers by name, ports by containerPort...), ``$patch:
replace|delete``, ``$retainKeys``, ``$setElementOrder/<list>``,
``$deleteFromPrimitiveList/<list>`` and ``null`` deletes; this is what
``kubectl apply`` (client-side) and ``kubectl edit`` send. Custom resources
refuse it (:class:`.patching.UnsupportedPatch`, 415) as kube-apiserver does.
Errors are :class:`.patching.PatchError`. Inputs are never mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from gitward.testing.kubeapi import patching, schemas
from gitward.testing.kubeapi import types as kubetypes

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_ORDER_PREFIX = "$setElementOrder/"
_DELETE_PREFIX = "$deleteFromPrimitiveList/"


def strategic_merge_patch(
    obj: dict[str, Any], patch: dict[str, Any], *, rtype: kubetypes.ResourceType
) -> dict[str, Any]:
    """Apply a strategic merge patch as kube-apiserver does for built-in kinds."""
    if rtype.is_custom:
        raise patching.UnsupportedPatch(
            f"the body of the request was in an unknown format - accepted media types "
            f"include: application/json-patch+json, application/merge-patch+json, "
            f"application/apply-patch+yaml (strategic merge patch is not supported for "
            f"{rtype.plural}.{rtype.group})"
        )
    if not isinstance(patch, Mapping):
        raise patching.PatchError("strategic merge patch must be a JSON object", 400)
    node = schemas.node_for(rtype)
    return _merge_map(copy.deepcopy(obj), copy.deepcopy(dict(patch)), node, "")


def _child(node: schemas.Node, key: str) -> schemas.Node:
    return node.child(key) if node.kind == schemas.MAP else schemas.UNTYPED_NODE


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], node: schemas.Node, where: str
) -> dict[str, Any]:
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            replaced: dict[str, Any] = _strip(patch)
            return replaced
        if directive == "delete":
            return {}
        raise patching.PatchError(f"{where or '.'}: unknown patch type {directive!r}")
    _retain_keys(original, patch, where)
    _merge_ordered_lists(original, patch, node, where)
    for key in list(patch):
        value = patch[key]
        delete_list = key.startswith(_DELETE_PREFIX)
        if delete_list:
            key = key[len(_DELETE_PREFIX) :]
            current = original.get(key)
            if not isinstance(value, list):
                raise patching.PatchError(f"{where}.{key}: {_DELETE_PREFIX}{key} must be a list")
            if isinstance(current, list):
                original[key] = [
                    v for v in current if not any(patching.json_equal(v, d) for d in value)
                ]
            continue
        if key.startswith("$"):
            continue
        if value is None:
            original.pop(key, None)
            continue
        sub = _child(node, key)
        path = f"{where}.{key}"
        if key not in original:
            original[key] = _fresh(value, sub, path)
            continue
        current = original[key]
        if isinstance(current, dict) and isinstance(value, dict):
            if "replace" in node.field_strategies.get(key, "").split(","):
                original[key] = _strip(value)
            else:
                original[key] = _merge_map(current, value, sub, path)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list_field(current, value, sub, path)
        else:
            original[key] = _fresh(value, sub, path)
    return original


def _fresh(value: Any, node: schemas.Node, where: str) -> Any:
    """A patch value with no original: directives resolved, nulls dropped."""
    if isinstance(value, dict):
        return _merge_map({}, value, node, where)
    if isinstance(value, list):
        return _merge_list_field([], value, node, where)
    return value


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not None and not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and _DIRECTIVE in v)]
    return value


def _retain_keys(original: dict[str, Any], patch: dict[str, Any], where: str) -> None:
    if _RETAIN_KEYS not in patch:
        return
    keep = patch.pop(_RETAIN_KEYS)
    if not isinstance(keep, list):
        raise patching.PatchError(f"{where or '.'}: $retainKeys must be a list of field names")
    allowed = set(keep)
    for key, value in patch.items():
        if value is None or key.startswith(("$", _DELETE_PREFIX, _ORDER_PREFIX)):
            continue
        if key not in allowed:
            raise patching.PatchError(
                f"{where or '.'}: doesn't satisfy strategic merge patch format: "
                f"all fields in the patch must be present in $retainKeys (missing {key!r})"
            )
    for key in list(original):
        if key not in allowed:
            del original[key]


def _merge_ordered_lists(
    original: dict[str, Any], patch: dict[str, Any], node: schemas.Node, where: str
) -> None:
    """``$setElementOrder/<list>``: merge the list, then order it as the directive says."""
    for directive in [k for k in patch if k.startswith(_ORDER_PREFIX)]:
        order = patch.pop(directive)
        key = directive[len(_ORDER_PREFIX) :]
        if not isinstance(order, list):
            raise patching.PatchError(f"{where}.{key}: {directive} must be a list")
        sub = _child(node, key)
        path = f"{where}.{key}"
        current = original.get(key)
        current_list = current if isinstance(current, list) else []
        value: Any = None
        if key in patch:
            value = patch.pop(key)
            if value is None:
                original.pop(key, None)
                continue
            if not isinstance(value, list):
                raise patching.PatchError(f"{path}: expected a list")
            merged = _merge_list_field(list(current_list), value, sub, path, reorder=False)
        else:
            merged = list(current_list)
        merge_key = sub.merge_key
        patch_items = [item for item in merged if _position(order, item, merge_key) >= 0]
        server_only = [item for item in merged if _position(order, item, merge_key) < 0]
        if not merged and key not in original:
            continue
        server_order = current_list
        if merge_key and key in original and isinstance(value, list):
            server_order = _aliased_order(current_list, value, merge_key)
        original[key] = _normalize_order(patch_items, server_only, order, server_order, merge_key)


def _aliased_order(current: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    """The live list as apimachinery sees it when it orders a ``$setElementOrder`` list.

    strategicpatch deletes (``$patch: delete``) and appends in place in the live
    list's backing array, so the order it then uses for server-only items is
    that array: later items shifted left, new patch items written over the
    vacated tail. kubectl's three-way patches (delete one container, add
    another, while the server holds a third) come out in this order.
    """
    backing = list(current)
    size = length = len(backing)
    for item in patch:
        if isinstance(item, dict) and item.get(_DIRECTIVE) == "delete" and merge_key in item:
            while (at := _position(backing[:length], item, merge_key)) >= 0:
                backing[at : length - 1] = backing[at + 1 : length]
                length -= 1
    for item in patch:
        if not isinstance(item, dict) or _DIRECTIVE in item:
            continue
        if _position(backing[:length], item, merge_key) < 0:
            if length < size:
                backing[length] = item
            length += 1
    return backing


def _merge_list_field(
    original: list[Any], patch: list[Any], node: schemas.Node, where: str, *, reorder: bool = True
) -> list[Any]:
    strategies = node.patch_strategy.split(",")
    if node.kind != schemas.LIST or "merge" not in strategies:
        # Lists without a merge strategy are replaced by the patch value.
        return patch
    if not original and not patch:
        return original
    elem = node.elem if node.elem is not None else schemas.UNTYPED_NODE
    is_maps = any(isinstance(v, dict) for v in [*original, *patch])
    if not is_maps:
        merged: list[Any] = []
        for value in [*original, *patch]:
            if not any(patching.json_equal(value, seen) for seen in merged):
                merged.append(value)
        patch_order = patch
    else:
        merge_key = node.merge_key
        if not merge_key:
            raise patching.PatchError(f"{where}: cannot merge lists without merge key")
        original, remaining, replaced = _special_elements(original, patch, merge_key, where)
        if replaced:
            return original
        server_order = list(original)
        for item in remaining:
            if not isinstance(item, dict) or merge_key not in item:
                raise patching.PatchError(
                    f"{where}: map: {item!r} does not contain declared merge key: {merge_key}"
                )
            at = next(
                (
                    i
                    for i, o in enumerate(original)
                    if isinstance(o, dict)
                    and patching.json_equal(o.get(merge_key), item[merge_key])
                ),
                -1,
            )
            if at >= 0:
                original[at] = _merge_map(
                    original[at], item, elem, f"{where}[{merge_key}={item[merge_key]}]"
                )
            else:
                original.append(_fresh(item, elem, where))
        merged = original
        original = server_order
        patch_order = remaining
    if not reorder:
        return merged
    merge_key = node.merge_key if is_maps else ""
    patch_items = [item for item in merged if _position(patch_order, item, merge_key) >= 0]
    server_only = [item for item in merged if _position(patch_order, item, merge_key) < 0]
    return _normalize_order(patch_items, server_only, patch_order, original, merge_key)


def _special_elements(
    original: list[Any], patch: list[Any], merge_key: str, where: str
) -> tuple[list[Any], list[Any], bool]:
    remaining: list[Any] = []
    replace = False
    for item in patch:
        if not isinstance(item, dict) or _DIRECTIVE not in item:
            remaining.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise patching.PatchError(
                    f"{where}: map: {item!r} does not contain declared merge key: {merge_key}"
                )
            original = [
                o
                for o in original
                if not (
                    isinstance(o, dict) and patching.json_equal(o.get(merge_key), item[merge_key])
                )
            ]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise patching.PatchError(
                f"{where}: merging lists cannot yet be specified in the patch"
            )
        else:
            raise patching.PatchError(f"{where}: unknown patch type {directive!r}")
    if replace:
        return [_strip(v) for v in remaining], [], True
    return original, remaining, False


def _position(order: list[Any], item: Any, merge_key: str) -> int:
    for i, candidate in enumerate(order):
        if merge_key:
            if (
                isinstance(candidate, dict)
                and isinstance(item, dict)
                and patching.json_equal(candidate.get(merge_key), item.get(merge_key))
            ):
                return i
        elif patching.json_equal(candidate, item):
            return i
    return -1


def _normalize_order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
) -> list[Any]:
    """strategicpatch's normalizeElementOrder: patch items in patch order, server-only
    items in server order, interleaved where the server order says so."""
    right = sorted(patch_items, key=lambda item: _position(patch_order, item, merge_key))
    left = sorted(
        server_only,
        key=lambda item: p if (p := _position(server_order, item, merge_key)) >= 0 else 1 << 30,
    )
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _position(server_order, left[i], merge_key)
            ri = _position(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out
