"""JSON patch and merge patch for the Kubernetes API test server.

Called by the server's PATCH handler with the live object and the decoded
patch document, one function per content type:

* ``application/json-patch+json`` -> :func:`json_patch` (RFC 6902);
* ``application/merge-patch+json`` -> :func:`merge_patch` (RFC 7386);
* ``application/strategic-merge-patch+json`` -> :func:`.strategic.strategic_merge_patch`.

:class:`PatchError` (and :class:`UnsupportedPatch`, 415) carry the status
kube-apiserver answers a patch it cannot apply with. Inputs are never mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from gitward import errors


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


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
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
            if not json_equal(_get(doc, parts, str(path)), op["value"]):
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
