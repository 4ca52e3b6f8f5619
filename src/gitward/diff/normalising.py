"""Normalise desired and live objects before they are compared.

Called by ``planning`` on both sides of every comparison. Drops what the API
server or controllers set and Git never declares (``metadata.managedFields``,
``resourceVersion``, ``uid``, ``generation``, timestamps, ``status``, the
``kubectl.kubernetes.io/last-applied-configuration`` and
``gitward.dev/fields-digest`` annotations), drops
``null`` values (server-side apply reads a null as "not set"), and folds a
Secret's ``stringData`` into base64 ``data`` the way the API server stores it,
so a Secret declared with ``stringData`` is not reported as drift forever.

Values the API server defaults are not handled here: the server-side dry-run
path sees them on both sides, and the structural path compares only fields
present in the desired object.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from gitward.model import resources

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
# Bookkeeping of appliers, not configuration: never reported as a difference.
_BOOKKEEPING_ANNOTATIONS = (LAST_APPLIED_ANNOTATION, resources.FIELDS_DIGEST_ANNOTATION)

# Set by the API server on every object; never declared in Git.
_SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def is_secret(obj: Mapping[str, Any]) -> bool:
    """A core-group Secret (``apiVersion: v1``)."""
    return obj.get("kind") == "Secret" and "/" not in str(obj.get("apiVersion") or "v1")


def normalise(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A normalised deep copy of ``obj``; ``obj`` itself is not changed."""
    # _drop_nulls builds new maps and lists all the way down: a deep copy.
    result: dict[str, Any] = {
        k: _drop_nulls(v)
        for k, v in obj.items()
        if v is not None and k not in ("status", "metadata")
    }
    meta_in = obj.get("metadata")
    if isinstance(meta_in, Mapping):
        # Skip managedFields before copying: it is the bulk of a live object.
        meta = {
            k: _drop_nulls(v)
            for k, v in meta_in.items()
            if v is not None and k not in _SERVER_METADATA
        }
        result["metadata"] = meta
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            for name in _BOOKKEEPING_ANNOTATIONS:
                annotations.pop(name, None)
        for name in ("annotations", "labels"):
            if meta.get(name) == {}:
                del meta[name]
    elif meta_in is not None:
        result["metadata"] = meta_in
    if is_secret(result):
        _fold_string_data(result)
    return result


def _drop_nulls(value: Any) -> Any:
    # Plain maps, lists and scalars are asked first: the Mapping ABC check is
    # slow, and this runs for every field of every object of a plan.
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    return value


def _fold_string_data(secret: dict[str, Any]) -> None:
    string_data = secret.pop("stringData", None)
    if not isinstance(string_data, dict) or not string_data:
        return
    data = secret.get("data")
    merged = dict(data) if isinstance(data, dict) else {}
    # stringData wins over data for the same key, as in the API server.
    for key, value in string_data.items():
        merged[key] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
    secret["data"] = merged
