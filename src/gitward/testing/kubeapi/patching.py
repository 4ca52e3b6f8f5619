"""JSON patch, merge patch and strategic merge patch for the Kubernetes API test server.

Called by the server's PATCH handler with the live object and the decoded
patch document, one function per content type:

* ``application/json-patch+json`` -> :func:`json_patch` (RFC 6902);
* ``application/merge-patch+json`` -> :func:`merge_patch` (RFC 7386);
* ``application/strategic-merge-patch+json`` -> :func:`strategic_merge_patch`,
  following k8s.io/apimachinery's strategicpatch: lists merge by their
  ``patchMergeKey`` where the type says so (containers by name, ports by
  containerPort...), ``$patch: replace|delete``, ``$retainKeys``,
  ``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>`` and ``null``
  deletes; this is what ``kubectl apply`` (client-side) and ``kubectl edit`` send.
  Custom resources refuse it (:class:`UnsupportedPatch`, 415) as kube-apiserver does.

Inputs are never mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from gitward import errors
from gitward.testing.kubeapi import schemas
from gitward.testing.kubeapi import types as kubetypes


class PatchError(errors.InputError):
    """The patch document is invalid or cannot be applied.

    ``code`` is the HTTP status kube-apiserver answers: 400 for a document it
    cannot decode, 422 when applying it fails (a ``test`` op, a missing path).
    """

    reason = "Invalid"

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


class UnsupportedPatch(PatchError):
    """Strategic merge patch was sent for a custom resource (415)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 415)


# --- RFC 6902 ------------------------------------------------------------------------


def _pointer(path: Any, where: str) -> list[str]:
    if not isinstance(path, str):
        raise PatchError(f"{where}: path must be a string, got {path!r}", 400)
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"{where}: JSON pointer {path!r} must start with '/'", 400)
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _list_index(container: list[Any], segment: str, path: str, *, adding: bool) -> int:
    if adding and segment == "-":
        return len(container)
    if not segment.isdigit() or (len(segment) > 1 and segment.startswith("0")):
        raise PatchError(f"invalid array index {segment!r} in path {path!r}")
    index = int(segment)
    limit = len(container) if adding else len(container) - 1
    if index > limit:
        raise PatchError(f"array index {index} out of bounds in path {path!r}")
    return index


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for token in parts[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"doc is missing path: {path!r}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_list_index(node, token, path, adding=False)]
        else:
            raise PatchError(f"doc is missing path: {path!r}")
    return node


def _get(doc: Any, parts: list[str], path: str) -> Any:
    if not parts:
        return doc
    parent = _parent(doc, parts, path)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"doc is missing path: {path!r}")
        return parent[token]
    if isinstance(parent, list):
        return parent[_list_index(parent, token, path, adding=False)]
    raise PatchError(f"doc is missing path: {path!r}")


def _add(doc: Any, parts: list[str], value: Any, path: str) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts, path)
    token = parts[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, token, path, adding=True), value)
    else:
        raise PatchError(f"doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, parts: list[str], path: str) -> tuple[Any, Any]:
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, parts, path)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"unable to remove nonexistent key: {token!r}: missing value")
        return doc, parent.pop(token)
    if isinstance(parent, list):
        return doc, parent.pop(_list_index(parent, token, path, adding=False))
    raise PatchError(f"doc is missing path: {path!r}")


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def json_patch(obj: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """Apply an RFC 6902 patch; raises :class:`PatchError` (400 malformed, 422 failed)."""
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations", 400)
    doc: Any = copy.deepcopy(obj)
    for number, op in enumerate(ops):
        where = f"operation {number}"
        if not isinstance(op, Mapping):
            raise PatchError(f"{where}: must be an object", 400)
        kind = op.get("op")
        path = op.get("path")
        parts = _pointer(path, where)
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{where}: {kind} operation is missing 'value'", 400)
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op["value"]), str(path))
        elif kind == "remove":
            doc, _ = _remove(doc, parts, str(path))
        elif kind == "replace":
            if not parts:
                doc = copy.deepcopy(op["value"])
                continue
            parent = _parent(doc, parts, str(path))
            token = parts[-1]
            if isinstance(parent, dict):
                if token not in parent:
                    raise PatchError(
                        f"replace operation does not apply: doc is missing key: {path!r}"
                    )
                parent[token] = copy.deepcopy(op["value"])
            elif isinstance(parent, list):
                parent[_list_index(parent, token, str(path), adding=False)] = copy.deepcopy(
                    op["value"]
                )
            else:
                raise PatchError(f"replace operation does not apply: doc is missing path: {path!r}")
        elif kind in ("move", "copy"):
            source = op.get("from")
            from_parts = _pointer(source, where)
            if kind == "move" and parts[: len(from_parts)] == from_parts and parts != from_parts:
                raise PatchError(f"{where}: cannot move {source!r} into its own child {path!r}")
            if kind == "move":
                doc, value = _remove(doc, from_parts, str(source))
            else:
                value = copy.deepcopy(_get(doc, from_parts, str(source)))
            doc = _add(doc, parts, value, str(path))
        elif kind == "test":
            if not _json_equal(_get(doc, parts, str(path)), op["value"]):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"{where}: unexpected kind of operation {kind!r}", 400)
    if not isinstance(doc, dict):
        raise PatchError("json patch result is not an object")
    return dict(doc)


# --- RFC 7386 ------------------------------------------------------------------------


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def merge_patch(obj: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply an RFC 7386 merge patch (null deletes, objects merge, the rest replaces)."""
    if not isinstance(patch, Mapping):
        raise PatchError("merge patch must be a JSON object", 400)
    result = _merge(obj, patch)
    assert isinstance(result, dict)
    return result


# --- strategic merge patch ----------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_ORDER_PREFIX = "$setElementOrder/"
_DELETE_PREFIX = "$deleteFromPrimitiveList/"


def strategic_merge_patch(
    obj: dict[str, Any], patch: dict[str, Any], *, rtype: kubetypes.ResourceType
) -> dict[str, Any]:
    """Apply a strategic merge patch as kube-apiserver does for built-in kinds."""
    if rtype.is_custom:
        raise UnsupportedPatch(
            f"the body of the request was in an unknown format - accepted media types "
            f"include: application/json-patch+json, application/merge-patch+json, "
            f"application/apply-patch+yaml (strategic merge patch is not supported for "
            f"{rtype.plural}.{rtype.group})"
        )
    if not isinstance(patch, Mapping):
        raise PatchError("strategic merge patch must be a JSON object", 400)
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
        raise PatchError(f"{where or '.'}: unknown patch type {directive!r}")
    _retain_keys(original, patch, where)
    _merge_ordered_lists(original, patch, node, where)
    for key in list(patch):
        value = patch[key]
        delete_list = key.startswith(_DELETE_PREFIX)
        if delete_list:
            key = key[len(_DELETE_PREFIX) :]
            current = original.get(key)
            if not isinstance(value, list):
                raise PatchError(f"{where}.{key}: {_DELETE_PREFIX}{key} must be a list")
            if isinstance(current, list):
                original[key] = [v for v in current if not any(_json_equal(v, d) for d in value)]
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
        raise PatchError(f"{where or '.'}: $retainKeys must be a list of field names")
    allowed = set(keep)
    for key, value in patch.items():
        if value is None or key.startswith(("$", _DELETE_PREFIX, _ORDER_PREFIX)):
            continue
        if key not in allowed:
            raise PatchError(
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
            raise PatchError(f"{where}.{key}: {directive} must be a list")
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
                raise PatchError(f"{path}: expected a list")
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
            if not any(_json_equal(value, seen) for seen in merged):
                merged.append(value)
        patch_order = patch
    else:
        merge_key = node.merge_key
        if not merge_key:
            raise PatchError(f"{where}: cannot merge lists without merge key")
        original, remaining, replaced = _special_elements(original, patch, merge_key, where)
        if replaced:
            return original
        server_order = list(original)
        for item in remaining:
            if not isinstance(item, dict) or merge_key not in item:
                raise PatchError(
                    f"{where}: map: {item!r} does not contain declared merge key: {merge_key}"
                )
            at = next(
                (
                    i
                    for i, o in enumerate(original)
                    if isinstance(o, dict) and _json_equal(o.get(merge_key), item[merge_key])
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
                raise PatchError(
                    f"{where}: map: {item!r} does not contain declared merge key: {merge_key}"
                )
            original = [
                o
                for o in original
                if not (isinstance(o, dict) and _json_equal(o.get(merge_key), item[merge_key]))
            ]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError(f"{where}: merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(f"{where}: unknown patch type {directive!r}")
    if replace:
        return [_strip(v) for v in remaining], [], True
    return original, remaining, False


def _position(order: list[Any], item: Any, merge_key: str) -> int:
    for i, candidate in enumerate(order):
        if merge_key:
            if (
                isinstance(candidate, dict)
                and isinstance(item, dict)
                and _json_equal(candidate.get(merge_key), item.get(merge_key))
            ):
                return i
        elif _json_equal(candidate, item):
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
