"""Secret values never leave gitward: masking for every output path.

``planning`` masks the field changes of Secrets when it builds a Plan, so a
Plan is safe to print, store and send; ``reports`` masks again on output (a
Plan built elsewhere must not leak either); the engine's views and the CLI
call :func:`mask_object` before printing any manifest.

What is masked on a Secret: every value under ``data`` and ``stringData``
and the ``kubectl.kubernetes.io/last-applied-configuration`` annotation (it
holds the whole Secret, values included). Keys stay visible, as ``kubectl
describe secret`` shows them, so people can see *which* entry changed.

The same goes for a secret host object (``spec.secret: true``, set by the
render for SOPS-decrypted content): a File's ``spec.content`` and the values
of a Command's ``spec.env`` are masked.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from gitward.diff import _pointers, normalising
from gitward.model import hostobjects, plans, resources

_SECRET_MAPS = ("data", "stringData")
_LAST_APPLIED = "/metadata/annotations/" + _pointers.escape(normalising.LAST_APPLIED_ANNOTATION)


def is_secret_key(key: resources.ResourceKey) -> bool:
    return key.group == "" and key.kind == "Secret"


def mask_object(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj`` with Secret values masked; other objects are returned unchanged.

    A ``List`` (``kind: List``) has each of its items masked.
    """
    if obj.get("kind") == "List" and isinstance(obj.get("items"), list):
        masked_list = dict(obj)
        masked_list["items"] = [
            mask_object(item) if isinstance(item, Mapping) else item for item in obj["items"]
        ]
        return masked_list
    if hostobjects.is_secret(obj):
        return _mask_host(obj)
    if not normalising.is_secret(obj):
        return obj
    return _mask_secret(obj)


def _mask_host(obj: Mapping[str, Any]) -> dict[str, Any]:
    masked = copy.deepcopy(dict(obj))
    spec = masked.get("spec")
    if isinstance(spec, dict):
        masked["spec"] = _mask_host_spec(spec)
    return masked


def _mask_host_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A secret host object's spec: a File's content and a Command's
    environment values masked (the variables' names stay visible)."""
    out = dict(spec)
    if "content" in out:
        out["content"] = plans.MASK
    env = out.get("env")
    if isinstance(env, Mapping):
        out["env"] = dict.fromkeys(env, plans.MASK)
    elif env is not None:
        out["env"] = plans.MASK
    return out


def _mask_secret(obj: Mapping[str, Any]) -> dict[str, Any]:
    masked = copy.deepcopy(dict(obj))
    for name in _SECRET_MAPS:
        values = masked.get(name)
        if isinstance(values, dict):
            masked[name] = dict.fromkeys(values, plans.MASK)
        elif values is not None:
            masked[name] = plans.MASK
    meta = masked.get("metadata")
    if isinstance(meta, dict):
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and normalising.LAST_APPLIED_ANNOTATION in annotations:
            annotations[normalising.LAST_APPLIED_ANNOTATION] = plans.MASK
    return masked


def mask_changes(
    key: resources.ResourceKey, changes: Iterable[plans.FieldChange], *, secret: bool = False
) -> tuple[plans.FieldChange, ...]:
    """``changes`` of the object ``key`` with Secret values masked; ``secret``:
    the object is a secret host File or Command (its key cannot say so)."""
    if secret and key.group == hostobjects.GROUP:
        mask = _mask_host_value
    elif is_secret_key(key):
        mask = _mask_value
    else:
        return tuple(changes)
    return tuple(
        plans.FieldChange(
            path=change.path,
            before=mask(change.path, change.before),
            after=mask(change.path, change.after),
        )
        for change in changes
    )


def _mask_host_value(path: str, value: Any) -> Any:
    if value is None:
        return None
    if path == "/spec/env" and isinstance(value, Mapping):
        return dict.fromkeys(value, plans.MASK)
    if path in ("/spec/content", "/spec/env") or path.startswith("/spec/env/"):
        return plans.MASK
    if path in ("", "/spec") and isinstance(value, Mapping):
        if path == "":
            return _mask_host(value)
        return _mask_host_spec(value)
    return value


def _mask_value(path: str, value: Any) -> Any:
    """Mask what ``value`` at ``path`` of a Secret may reveal; None (absent) stays."""
    if value is None:
        return None
    tokens = _pointers.parse(path, "field change") if path else ()
    if not tokens:
        # The whole object (a type change at the root): mask it as an object.
        return _mask_secret(value) if isinstance(value, Mapping) else plans.MASK
    if tokens[0] in _SECRET_MAPS:
        if len(tokens) == 1 and isinstance(value, Mapping):
            return dict.fromkeys(value, plans.MASK)
        return plans.MASK
    if path == _LAST_APPLIED or path.startswith(_LAST_APPLIED + "/"):
        return plans.MASK
    if tokens == ("metadata",) or tokens == ("metadata", "annotations"):
        return _mask_metadata(tokens, value)
    return value


def _mask_metadata(tokens: tuple[str, ...], value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    masked = copy.deepcopy(dict(value))
    annotations = masked if tokens[-1] == "annotations" else masked.get("annotations")
    if isinstance(annotations, dict) and normalising.LAST_APPLIED_ANNOTATION in annotations:
        annotations[normalising.LAST_APPLIED_ANNOTATION] = plans.MASK
    return masked
