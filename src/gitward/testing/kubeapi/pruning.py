"""Unknown fields: field validation (Strict / Warn / Ignore) and pruning.

kube-apiserver decodes built-in objects into Go types, which drops fields the
type does not have, and prunes custom resources to their structural schema.
With ``fieldValidation=Strict`` (kubectl's default) it refuses such a request
instead (400, ``strict decoding error: unknown field "spec.replica"``); with
``Warn`` (the default) it answers with a ``Warning`` header. Server-side apply
refuses undeclared fields whatever the mode. The shape comes from
:func:`schemas.node_for`. Called by :mod:`.handling` on every write.
"""

from __future__ import annotations

from typing import Any

from gitward.testing.kubeapi import schemas, types, validating

# Server-managed metadata never counts as unknown.
_MODES = ("Strict", "Warn", "Ignore")


def unknown_fields(obj: Any, node: schemas.Node, path: str = "") -> list[str]:
    """Paths (``spec.template.spec.containers[0].foo``) of fields the schema lacks."""
    found: list[str] = []
    if node.kind == schemas.UNTYPED:
        return found
    if node.kind == schemas.MAP and isinstance(obj, dict):
        closed = node.elem is None and bool(node.fields)
        for key, value in obj.items():
            child_path = f"{path}.{key}" if path else str(key)
            if closed and key not in node.fields:
                found.append(child_path)
                continue
            found.extend(unknown_fields(value, node.child(key), child_path))
    elif node.kind == schemas.LIST and isinstance(obj, list) and node.elem is not None:
        for i, item in enumerate(obj):
            found.extend(unknown_fields(item, node.elem, f"{path}[{i}]"))
    return found


def _drop(obj: Any, path: str) -> None:
    parts: list[str | int] = []
    for segment in path.split("."):
        name, _, rest = segment.partition("[")
        if name:
            parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            parts.append(int(index))
            rest = rest.lstrip("[")
    node = obj
    for part in parts[:-1]:
        node = node[part]
    del node[parts[-1]]


def enforce(rtype: types.ResourceType, obj: dict[str, Any], mode: str, warnings: list[str]) -> None:
    """Apply the request's fieldValidation mode to ``obj`` (pruned in place)."""
    unknown = unknown_fields(obj, schemas.node_for(rtype))
    if not unknown:
        return
    if mode == "Strict":
        raise validating.bad_request(
            "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in unknown)
        )
    if mode != "Ignore":
        warnings.extend(f'unknown field "{p}"' for p in unknown)
    for path in reversed(unknown):
        _drop(obj, path)


def check_applied(rtype: types.ResourceType, applied: dict[str, Any]) -> None:
    """Server-side apply refuses undeclared fields (structured-merge-diff's typed conversion)."""
    unknown = unknown_fields(applied, schemas.node_for(rtype))
    if unknown:
        group = rtype.group
        raise validating.bad_request(
            f"failed to create typed patch object ({group}/{rtype.version}, Kind={rtype.kind}): "
            + ", ".join(f".{p}: field not declared in schema" for p in unknown)
        )


def valid_mode(mode: str) -> str:
    if mode and mode not in _MODES:
        raise validating.bad_request(
            f'fieldValidation: Unsupported value: "{mode}": supported values: '
            '"Ignore", "Strict", "Warn"'
        )
    return mode or "Warn"
