"""gitward's discovery cache: which kinds a cluster serves, and how.

Called by every other module of ``targets.kubernetes`` to turn a (group, kind)
into a URL and a scope. It reads ``/api`` and ``/apis`` with aggregated
discovery (``apidiscovery.k8s.io/v2``, one request each) when the server offers
it and the legacy per-group-version documents otherwise, and maps
(group, kind) → :class:`ResourceType` (served versions, preferred first;
plural; namespaced; verbs).

The cache is refreshed on a miss, because a kind may have appeared since the
last read (a CRD applied a moment ago), but never more often than
``min_refresh_interval``: a manifest with a misspelt kind must not turn every
reconcile into a discovery storm. Concurrent misses share one refresh.

For each (group, version, kind) a lightkube generic resource class is created
once and cached here (not in lightkube's process-wide registry, which refuses
a kind whose scope changed, e.g. a CRD re-created Cluster-scoped, and would
mix several clusters' definitions).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lightkube import generic_resource
from lightkube.core import resource as lk_resource

from gitward import errors
from gitward.targets.kubernetes import requesting

AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)

_LIGHTKUBE_VERBS = {
    "delete": ("delete",),
    "deletecollection": ("deletecollection",),
    "get": ("get",),
    "list": ("list", "global_list"),
    "patch": ("patch",),
    "create": ("post",),
    "update": ("put",),
    "watch": ("watch", "global_watch"),
}


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One kind as the cluster serves it."""

    group: str
    kind: str
    plural: str
    namespaced: bool
    versions: tuple[str, ...]  # served versions, preferred first
    verbs: frozenset[str] = field(default_factory=frozenset)

    @property
    def preferred_version(self) -> str:
        return self.versions[0]

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def api_version(self, version: str | None = None) -> str:
        v = version or self.preferred_version
        return f"{self.group}/{v}" if self.group else v

    def collection_path(self, namespace: str = "", version: str | None = None) -> str:
        """URL path of the collection; all namespaces when ``namespace`` is empty."""
        v = version or self.preferred_version
        base = f"/apis/{self.group}/{v}" if self.group else f"/api/{v}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, namespace: str, name: str, version: str | None = None) -> str:
        return f"{self.collection_path(namespace if self.namespaced else '', version)}/{name}"


class Discovery:
    """The discovery cache of one target."""

    def __init__(
        self,
        api: requesting.Api,
        *,
        min_refresh_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        aggregated: bool = True,
    ) -> None:
        self._api = api
        # False reads only the legacy documents (servers or proxies that
        # mishandle aggregated discovery's Accept header).
        self._accept = AGGREGATED_ACCEPT if aggregated else "application/json"
        self._min_interval = min_refresh_interval
        self._clock = clock
        self._types: dict[tuple[str, str], ResourceType] = {}
        self._classes: dict[tuple[str, str, str], type[lk_resource.Resource]] = {}
        self._last_refresh: float | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0  # how many times /api and /apis were read (for tests and metrics)

    async def lookup(self, group: str, kind: str, *, refresh: bool = True) -> ResourceType | None:
        """The served type of (group, kind), refreshing once on a miss."""
        found = self._types.get((group, kind))
        if found is not None or not refresh:
            return found
        await self.refresh(seen=self.refreshes)
        return self._types.get((group, kind))

    def known(self) -> dict[tuple[str, str], ResourceType]:
        """Every kind of the last read (a copy)."""
        return dict(self._types)

    async def ensure_loaded(self) -> None:
        """Read discovery if it was never read."""
        if self.refreshes == 0:
            await self.refresh(seen=0)

    async def wait_for(self, group: str, kind: str, *, within: float) -> ResourceType | None:
        """Like :meth:`lookup`, retrying (at the refresh rate) for up to ``within``
        seconds: a CRD applied a moment ago takes a little while to be served."""
        deadline = self._clock() + within
        while True:
            found = await self.lookup(group, kind)
            if found is not None or self._clock() >= deadline:
                return found
            await asyncio.sleep(min(self._min_interval, max(deadline - self._clock(), 0.0)))

    async def refresh(self, *, seen: int | None = None) -> None:
        """Re-read discovery, unless it was re-read since the caller saw
        ``seen`` refreshes (concurrent misses then share one read).

        Waits out ``min_refresh_interval`` when the last read was too recent.
        """
        async with self._lock:
            if seen is not None and seen != self.refreshes:
                return
            if self._last_refresh is not None:
                wait = self._last_refresh + self._min_interval - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            types = await self._read()
            self._types = types
            self._last_refresh = self._clock()
            self.refreshes += 1

    def resource_class(self, rtype: ResourceType, version: str) -> type[lk_resource.Resource]:
        """A lightkube generic resource class for (group, version, kind), cached."""
        cache_key = (rtype.group, version, rtype.kind)
        cls = self._classes.get(cache_key)
        if cls is not None and getattr(cls, "_gitward_type", None) == rtype:
            return cls
        # Unknown verbs (a legacy document without them) allow everything and
        # leave the decision to the API server.
        verbs = sorted({v for verb in rtype.verbs for v in _LIGHTKUBE_VERBS.get(verb, ())})
        api_info = generic_resource.create_api_info(
            rtype.group, version, rtype.kind, rtype.plural, verbs=verbs or None
        )
        base: type[Any] = (
            generic_resource.GenericNamespacedResource
            if rtype.namespaced
            else generic_resource.GenericGlobalResource
        )
        cls = type(rtype.kind, (base,), {"_api_info": api_info, "_gitward_type": rtype})
        self._classes[cache_key] = cls
        return cls

    # --- reading discovery -------------------------------------------------

    async def _read(self) -> dict[tuple[str, str], ResourceType]:
        try:
            return await self._read_documents()
        except requesting.StatusError as exc:
            # Discovery is readable by every authenticated identity; anything
            # else means the server (or a proxy in front of it) is unwell.
            raise errors.TargetUnavailable(
                f"Kubernetes API {self._api.server} answered {exc} to discovery"
            ) from exc

    async def _read_documents(self) -> dict[tuple[str, str], ResourceType]:
        core, groups = await asyncio.gather(
            self._api.request("GET", "/api", what="reading discovery /api", accept=self._accept),
            self._api.request("GET", "/apis", what="reading discovery /apis", accept=self._accept),
        )
        types: dict[tuple[str, str], ResourceType] = {}
        for (_, body, headers), legacy in (
            (core, self._legacy_core),
            (groups, self._legacy_groups),
        ):
            if _is_aggregated(headers.get("content-type", ""), body):
                _merge_aggregated(types, body)
            else:
                for group, versions in await legacy(body):
                    _merge_legacy(types, group, versions)
        return types

    async def _legacy_core(self, body: Any) -> list[tuple[str, list[tuple[str, Any]]]]:
        versions = [str(v) for v in (body or {}).get("versions") or ()]
        docs = await asyncio.gather(*(self._resource_list(f"/api/{v}") for v in versions))
        return [("", list(zip(versions, docs, strict=True)))]

    async def _legacy_groups(self, body: Any) -> list[tuple[str, list[tuple[str, Any]]]]:
        result: list[tuple[str, list[tuple[str, Any]]]] = []
        plan: list[tuple[str, list[str]]] = []
        for group in (body or {}).get("groups") or ():
            name = str(group.get("name") or "")
            versions = [str(v.get("version")) for v in group.get("versions") or ()]
            preferred = str((group.get("preferredVersion") or {}).get("version") or "")
            if preferred in versions:
                versions.remove(preferred)
                versions.insert(0, preferred)
            plan.append((name, versions))
        paths = [f"/apis/{g}/{v}" for g, vs in plan for v in vs]
        docs = iter(await asyncio.gather(*(self._resource_list(p) for p in paths)))
        for name, versions in plan:
            result.append((name, [(v, next(docs)) for v in versions]))
        return result

    async def _resource_list(self, path: str) -> Any:
        # A group-version whose aggregated API server is down answers 503; skip
        # it (like kubectl) instead of failing discovery of everything else.
        try:
            _, body, _ = await self._api.request(
                "GET", path, what=f"reading discovery {path}", allow=frozenset({404})
            )
        except requesting.StatusError:
            return None
        return body


def _is_aggregated(content_type: str, body: Any) -> bool:
    return "as=APIGroupDiscoveryList" in content_type or (
        isinstance(body, Mapping) and body.get("kind") == "APIGroupDiscoveryList"
    )


def _add(
    types: dict[tuple[str, str], ResourceType],
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool,
    verbs: frozenset[str],
) -> None:
    existing = types.get((group, kind))
    if existing is None:
        types[(group, kind)] = ResourceType(group, kind, plural, namespaced, (version,), verbs)
    elif version not in existing.versions:
        types[(group, kind)] = ResourceType(
            group,
            kind,
            existing.plural,
            existing.namespaced,
            (*existing.versions, version),
            existing.verbs,
        )


def _merge_aggregated(types: dict[tuple[str, str], ResourceType], body: Mapping[str, Any]) -> None:
    for item in body.get("items") or ():
        group = str((item.get("metadata") or {}).get("name") or "")
        # Versions are listed in preference order.
        for version_doc in item.get("versions") or ():
            version = str(version_doc.get("version") or "")
            for res in version_doc.get("resources") or ():
                kind = str((res.get("responseKind") or {}).get("kind") or "")
                plural = str(res.get("resource") or "")
                if not kind or not plural or "/" in plural:
                    continue
                _add(
                    types,
                    group,
                    version,
                    kind,
                    plural,
                    res.get("scope") == "Namespaced",
                    frozenset(res.get("verbs") or ()),
                )


def _merge_legacy(
    types: dict[tuple[str, str], ResourceType], group: str, versions: list[tuple[str, Any]]
) -> None:
    for version, doc in versions:
        for res in (doc or {}).get("resources") or ():
            plural = str(res.get("name") or "")
            kind = str(res.get("kind") or "")
            if not kind or "/" in plural:  # subresources (deployments/scale)
                continue
            _add(
                types,
                group,
                version,
                kind,
                plural,
                bool(res.get("namespaced")),
                frozenset(res.get("verbs") or ()),
            )
