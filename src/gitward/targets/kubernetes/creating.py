"""Writes other than server-side apply: create (POST), replace (PUT), and the
runs of generated hooks.

Called by :meth:`KubernetesTarget.create`, :meth:`KubernetesTarget.replace`
and :meth:`KubernetesTarget.hook_runs`.

* **create**: a hook with only ``metadata.generateName`` cannot be applied
  (server-side apply needs a name); it is POSTed and the API server names it,
  once per run, as ``kubectl create`` and Argo CD's hooks do.
* **replace**: Argo CD's ``Replace=true`` sync option: the whole object is
  PUT at the live ``resourceVersion`` (``kubectl replace``), or POSTed when it
  does not exist; for objects server-side apply cannot change in place.
* **hook_runs**: the objects earlier runs of a generated hook left (their
  tracking id names the prefix, ``<app>:batch/Job:ns/migrate-*``), so
  ``BeforeHookCreation`` can remove them before the next run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gitward import errors
from gitward.model import resources
from gitward.targets import base
from gitward.targets.kubernetes import applying, connecting, preparing, reading, requesting
from gitward.targets.kubernetes import discovery as discovering


def _body(manifest: resources.Manifest) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(manifest.body))  # a deep copy
    return body


async def create(
    connection: connecting.Connection,
    discovery: discovering.Discovery,
    manifest: resources.Manifest,
    *,
    wait_for_kind: float = 0.0,
) -> base.ApplyResult:
    """POST ``manifest``; the result's key names the object the server created."""
    rtype = await applying.resolve(discovery, manifest, wait=wait_for_kind)
    key = manifest.key
    version = manifest.api_version.rpartition("/")[2]
    body = _body(manifest)
    meta = body.setdefault("metadata", {})
    if key.generated:
        meta.pop("name", None)
    try:
        _, live, _ = await connection.api.request(
            "POST",
            rtype.collection_path(key.namespace, version),
            what=f"creating {key}",
            params={"fieldManager": applying.FIELD_MANAGER},
            body=body,
        )
    except requesting.StatusError as exc:
        raise applying.status_error(key, exc.status, "create") from exc
    live_body = dict(live) if isinstance(live, Mapping) else {}
    return base.ApplyResult(
        key=resources.ResourceKey.of(live_body) if live_body else key,
        outcome=base.ApplyOutcome.CREATED,
        live=live_body,
    )


async def replace(
    connection: connecting.Connection,
    discovery: discovering.Discovery,
    manifest: resources.Manifest,
    *,
    wait_for_kind: float = 0.0,
) -> base.ApplyResult:
    """PUT ``manifest`` over the live object (at its resourceVersion), or create it."""
    rtype = await applying.resolve(discovery, manifest, wait=wait_for_kind)
    key = manifest.key
    version = manifest.api_version.rpartition("/")[2]
    path = rtype.object_path(key.namespace, key.name, version)
    try:
        code, before, _ = await connection.api.request(
            "GET", path, what=f"reading {key}", allow=frozenset({404})
        )
    except requesting.StatusError as exc:
        raise applying.status_error(key, exc.status, "read") from exc
    if code == 404 or not isinstance(before, Mapping):
        return await create(connection, discovery, manifest)
    old_version = str((before.get("metadata") or {}).get("resourceVersion") or "")
    body = _body(manifest)
    body.setdefault("metadata", {})["resourceVersion"] = old_version
    try:
        _, live, _ = await connection.api.request(
            "PUT",
            path,
            what=f"replacing {key}",
            params={"fieldManager": applying.FIELD_MANAGER},
            body=body,
        )
    except requesting.StatusError as exc:
        if exc.code == 409:
            raise errors.ApplyError(
                f"{key}: changed by someone else while being replaced; the next sync retries"
            ) from exc
        raise applying.status_error(key, exc.status, "replace") from exc
    live_body = dict(live) if isinstance(live, Mapping) else {}
    moved = str((live_body.get("metadata") or {}).get("resourceVersion") or "") != old_version
    return base.ApplyResult(
        key=key,
        outcome=base.ApplyOutcome.CONFIGURED if moved else base.ApplyOutcome.UNCHANGED,
        live=live_body,
    )


async def hook_runs(
    api: requesting.Api,
    discovery: discovering.Discovery,
    app: str,
    key: resources.ResourceKey,
) -> list[Mapping[str, Any]]:
    """Live objects earlier runs of the generated hook ``key`` created for ``app``."""
    rtype = await discovery.lookup(key.group, key.kind)
    if rtype is None:
        return []
    wanted = preparing.tracking_id(app, key)
    try:
        items, _ = await reading.list_all(
            api,
            rtype.collection_path(key.namespace),
            what=f"listing earlier runs of hook {key}",
            selector=f"{resources.APP_LABEL}={app}",
        )
    except requesting.StatusError as exc:
        if exc.code == 404:
            return []  # the namespace is gone, and the runs with it
        raise errors.ApplyError(
            f"{key}: cannot list earlier runs of the hook ({exc.code}): {exc.status.message}"
        ) from exc
    return [
        {**item, "apiVersion": rtype.api_version(), "kind": rtype.kind}
        for item in items
        if ((item.get("metadata") or {}).get("annotations") or {}).get(
            resources.TRACKING_ANNOTATION
        )
        == wanted
    ]
