"""Read live objects: by key, and an Application's inventory by kind.

Called by :meth:`KubernetesTarget.read` and :meth:`KubernetesTarget.inventory`.

``read`` gets many objects concurrently, at most ``concurrency`` requests in
flight: where an Application has :data:`LIST_FROM` or more objects of one kind
in one namespace, one LIST of that kind in that namespace answers for all of
them (a sync of 500 objects of 5 kinds reads with 5 requests, not 500); fewer,
or a LIST the identity may not make (RBAC allowing ``get`` only), are read one
GET each. A kind the cluster does not serve yields None (its objects cannot
exist: a CRD not yet applied), as does a 404.

``inventory`` lists, kind by kind, the objects labelled
``gitward.dev/app=<app>`` and keeps those whose tracking annotation matches
their own identity (see ``preparing``). Which kinds: the caller passes them
(the target's :class:`recording.KindRecord`: every kind the Application
declared or gitward applied for it, ever). Least privilege: a namespaced kind
is first listed across all namespaces; when that is forbidden (an identity
bound to a few namespaces by RoleBindings), it is listed in each namespace the
Application uses instead, and only a forbidden namespace list is an error,
naming the kind and namespace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gitward import errors
from gitward.model import resources
from gitward.targets.kubernetes import discovery as discovering
from gitward.targets.kubernetes import preparing, requesting

DEFAULT_CONCURRENCY = 16
# From this many objects of one kind in one namespace, one LIST reads them all
# (fewer are read one GET each: Applications sharing a big namespace must not
# each list all of it).
LIST_FROM = 16


class ForbiddenError(errors.ApplyError):
    """The target's identity may not read what gitward needs (RBAC)."""


async def read(
    api: requesting.Api,
    discovery: discovering.Discovery,
    keys: Sequence[resources.ResourceKey],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[resources.ResourceKey, Mapping[str, Any] | None]:
    semaphore = asyncio.Semaphore(concurrency)
    unique = list(dict.fromkeys(keys))
    found: dict[resources.ResourceKey, Mapping[str, Any] | None] = {}

    async def one(key: resources.ResourceKey, rtype: discovering.ResourceType) -> None:
        async with semaphore:
            try:
                code, body, _ = await api.request(
                    "GET",
                    rtype.object_path(key.namespace, key.name),
                    what=f"reading {key}",
                    allow=frozenset({404}),
                )
            except requesting.StatusError as exc:
                raise _read_error(str(key), "get", exc) from exc
        found[key] = body if code != 404 and isinstance(body, Mapping) else None

    async def many(
        rtype: discovering.ResourceType, namespace: str, wanted: list[resources.ResourceKey]
    ) -> None:
        async with semaphore:
            listed = await _list_namespace(api, rtype, namespace)
        if listed is None:  # not allowed to list: one GET each
            await asyncio.gather(*(one(key, rtype) for key in wanted))
            return
        for key in wanted:
            found[key] = listed.get(key.name)

    groups: dict[tuple[str, str, str], list[resources.ResourceKey]] = {}
    for key in unique:
        groups.setdefault((key.group, key.kind, key.namespace), []).append(key)
    work = []
    for (group, kind, namespace), wanted in groups.items():
        rtype = await discovery.lookup(group, kind)
        if rtype is None:
            found.update(dict.fromkeys(wanted))
        elif len(wanted) >= LIST_FROM:
            work.append(many(rtype, namespace if rtype.namespaced else "", wanted))
        else:
            work.extend(one(key, rtype) for key in wanted)
    await asyncio.gather(*work)
    return {key: found.get(key) for key in unique}


async def _list_namespace(
    api: requesting.Api, rtype: discovering.ResourceType, namespace: str
) -> dict[str, Mapping[str, Any]] | None:
    """Every object of a kind in ``namespace`` (all of a cluster-scoped kind), by
    name, as self-describing objects; None when listing is forbidden."""
    where = f" in namespace {namespace}" if namespace else ""
    try:
        items, _ = await list_all(
            api,
            rtype.collection_path(namespace),
            what=f"listing {rtype.group_kind}{where}",
            selector="",
        )
    except requesting.StatusError as exc:
        if exc.code == 403:
            return None
        if exc.code == 404:
            return {}  # the namespace does not exist: nothing in it does either
        raise _read_error(f"{rtype.group_kind}{where}", "list", exc) from exc
    typed = {"apiVersion": rtype.api_version(), "kind": rtype.kind}
    return {
        str((item.get("metadata") or {}).get("name") or ""): {**item, **typed} for item in items
    }


def _read_error(what: str, verb: str, exc: requesting.StatusError) -> errors.GitwardError:
    if exc.code in (401, 403):
        return ForbiddenError(f"{what}: forbidden to {verb}: {exc.status.message}")
    return errors.ApplyError(f"{what}: {verb} failed ({exc.code}): {exc.status.message}")


async def list_all(
    api: requesting.Api, path: str, *, what: str, selector: str
) -> tuple[list[Mapping[str, Any]], str]:
    """Every item of a collection (following ``continue``); with the list's
    resourceVersion."""
    items: list[Mapping[str, Any]] = []
    params = {"labelSelector": selector, "limit": "500"} if selector else {"limit": "500"}
    while True:
        _, body, _ = await api.request("GET", path, what=what, params=params)
        body = body or {}
        items.extend(i for i in body.get("items") or () if isinstance(i, Mapping))
        meta = body.get("metadata") or {}
        token = meta.get("continue")
        if not token:
            return items, str(meta.get("resourceVersion") or "")
        params = {**params, "continue": str(token)}


async def list_kind(
    api: requesting.Api,
    rtype: discovering.ResourceType,
    *,
    selector: str = "",
    namespaces: Iterable[str] = (),
) -> list[Mapping[str, Any]]:
    """Objects of one kind, across namespaces, falling back to ``namespaces``
    one by one when listing across namespaces is forbidden."""
    what = f"listing {rtype.group_kind}"
    try:
        items, _ = await list_all(api, rtype.collection_path(), what=what, selector=selector)
        return items
    except requesting.StatusError as exc:
        if exc.code != 403 or not rtype.namespaced:
            raise _read_error(f"{rtype.group_kind} (all namespaces)", "list", exc) from exc
    results: list[Mapping[str, Any]] = []
    for namespace in sorted(set(namespaces)):
        try:
            items, _ = await list_all(
                api,
                rtype.collection_path(namespace),
                what=f"{what} in namespace {namespace}",
                selector=selector,
            )
        except requesting.StatusError as exc:
            if exc.code == 404:
                continue  # a namespace that no longer exists holds nothing of ours
            raise _read_error(f"{rtype.group_kind} in namespace {namespace}", "list", exc) from exc
        results.extend(items)
    return results


async def inventory(
    api: requesting.Api,
    discovery: discovering.Discovery,
    app: str,
    *,
    kinds: Iterable[tuple[str, str]],
    namespaces: Iterable[str],
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[Mapping[str, Any]]:
    """Every live object tracked as ``app``'s, for the given (group, kind)s."""
    selector = f"{resources.APP_LABEL}={app}"
    namespace_list = sorted(set(namespaces))
    semaphore = asyncio.Semaphore(concurrency)

    async def one(group: str, kind: str) -> list[Mapping[str, Any]]:
        # No refresh per missing kind: a kind whose CRD was deleted would
        # otherwise cost a discovery read on every inventory.
        await discovery.ensure_loaded()
        rtype = await discovery.lookup(group, kind, refresh=False)
        if rtype is None:
            return []  # a kind no longer served has no objects left
        async with semaphore:
            items = await list_kind(api, rtype, selector=selector, namespaces=namespace_list)
        # Lists answer items without apiVersion/kind; restore them so every
        # object is self-describing across the Target seam.
        return [
            {**item, "apiVersion": rtype.api_version(), "kind": rtype.kind}
            for item in items
            if preparing.is_tracked(
                {**item, "apiVersion": rtype.api_version(), "kind": rtype.kind}, app
            )
        ]

    found = await asyncio.gather(*(one(g, k) for g, k in sorted(set(kinds))))
    objects = [obj for group in found for obj in group]
    objects.sort(key=lambda o: resources.ResourceKey.of(o))
    return objects
