"""List requests of the Kubernetes API test server: selectors, order and pages.

:func:`list_objects` answers a LIST as kube-apiserver does from etcd: objects
in (namespace, name) order, a label selector's equality terms answered by the
bucket's label index (:mod:`.storing`) and the whole selector and field
selector checked on what it returns, ``limit`` with an opaque ``continue``
token that keeps the list's resourceVersion, 410 Gone once that version is
compacted away. Called by :mod:`.serving` and :mod:`.deleting`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from gitward.testing.kubeapi import selecting, storing, types, validating


def list_objects(
    store: storing.Store,
    rtype: types.ResourceType,
    namespace: str,
    *,
    label_selector: str = "",
    field_selector: str = "",
    limit: int = 0,
    continue_token: str = "",
) -> tuple[list[dict[str, Any]], str, str, int | None]:
    """Matching objects in name order, list resourceVersion, continue token, remaining.

    Equality terms of the label selector are answered by the bucket's label
    index; the whole selector and the field selector then check what it returns.
    """
    labels, terms = selecting.parse_label_selector(label_selector)
    fields = selecting.field_selector(field_selector, rtype)
    bucket = store.bucket(rtype.group, rtype.plural)
    list_rv = store.rv
    start: tuple[str, str] | None = None
    if continue_token:
        list_rv, start = _decode_continue(continue_token, bucket)
    keys = bucket.ordered(namespace, after=start, labels=terms)
    items: list[dict[str, Any]] = []
    next_token = ""
    remaining: int | None = None
    for i, key in enumerate(keys):
        obj = bucket.objects[key]
        if labels is not None and not labels(obj):
            continue
        if fields is not None and not fields(obj):
            continue
        if limit and len(items) == limit:
            next_token = _encode_continue(list_rv, items[-1]["metadata"])
            if labels is None and fields is None:
                remaining = len(keys) - i
            break
        items.append(obj)
    return items, str(list_rv), next_token, remaining


def _encode_continue(rv: int, meta: Mapping[str, Any]) -> str:
    raw = orjson.dumps(
        {"v": "meta.k8s.io/v1", "rv": rv, "start": [meta.get("namespace") or "", meta["name"]]}
    )
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str, bucket: storing.Bucket) -> tuple[int, tuple[str, str]]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        rv = int(data["rv"])
        start = (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise validating.bad_request("continue key is not valid: illegal base64 data") from exc
    if rv < bucket.floor:
        raise validating.gone(
            "The provided continue parameter is too old to display a consistent list result. "
            "You can start a new list without the continue parameter."
        )
    return rv, start
