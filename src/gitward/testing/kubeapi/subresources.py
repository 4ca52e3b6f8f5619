"""Subresources of the Kubernetes API test server with a shape of their own.

``scale`` (GET, PUT, PATCH: an autoscaling/v1 Scale over a workload's
spec.replicas and its selector) and a namespace's ``finalize`` (PUT: only
spec.finalizers changes). The other subresource, ``status``, is the write
handlers' (:mod:`.handling`). Called by :class:`.serving.Router`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gitward.testing.kubeapi import deleting, handling, patching, storing, types, validating
from gitward.testing.kubeapi.connections import Request


def put_scale(
    api: handling.Api,
    rtype: types.ResourceType,
    namespace: str,
    name: str,
    body: Mapping[str, Any],
    opts: handling.WriteOptions,
) -> dict[str, Any]:
    replicas = (body.get("spec") or {}).get("replicas")
    return _set_replicas(
        api,
        rtype,
        namespace,
        name,
        replicas,
        opts,
        (body.get("metadata") or {}).get("resourceVersion"),
    )


def patch_scale(
    api: handling.Api,
    rtype: types.ResourceType,
    namespace: str,
    name: str,
    request: Request,
    opts: handling.WriteOptions,
) -> dict[str, Any]:
    current = scale_of(rtype, api.get(rtype, namespace, name))
    try:
        patch = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise validating.bad_request(f"error decoding patch: {exc}") from exc
    if request.content_type == handling.JSON_PATCH and isinstance(patch, list):
        patched = patching.json_patch(storing.copy(current), patch)
    elif isinstance(patch, dict):
        patched = patching.merge_patch(storing.copy(current), patch)
    else:
        raise validating.bad_request("patch body must be a JSON object")
    return _set_replicas(
        api, rtype, namespace, name, (patched.get("spec") or {}).get("replicas"), opts, None
    )


def _set_replicas(
    api: handling.Api,
    rtype: types.ResourceType,
    namespace: str,
    name: str,
    replicas: Any,
    opts: handling.WriteOptions,
    rv: str | None,
) -> dict[str, Any]:
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise validating.invalid(
            rtype,
            name,
            [
                validating.Cause(
                    "FieldValueInvalid",
                    "spec.replicas",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                )
            ],
        )
    obj = storing.copy(api.get(rtype, namespace, name))
    if rv and rv != obj["metadata"]["resourceVersion"]:
        raise validating.modified_conflict(rtype, name)
    obj.setdefault("spec", {})["replicas"] = replicas
    obj["metadata"].pop("resourceVersion", None)
    updated = api.update(rtype, namespace, name, obj, opts, "")
    return scale_of(rtype, updated)


def finalize(
    api: handling.Api, name: str, body: Mapping[str, Any], opts: handling.WriteOptions
) -> dict[str, Any]:
    ns_type = api.registry.lookup("", "v1", "namespaces")
    assert ns_type is not None
    obj = storing.copy(api.get(ns_type, "", name))
    obj.setdefault("spec", {})["finalizers"] = list(
        (body.get("spec") or {}).get("finalizers") or []
    )
    return deleting.finalize_namespace(api, obj, opts)


def scale_of(rtype: types.ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    selector = (obj.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())),
        },
    }
