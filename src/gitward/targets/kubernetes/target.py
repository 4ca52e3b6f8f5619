"""KubernetesTarget: the Target Protocol over a Kubernetes API.

Built by the engine from a target's settings (``KubernetesTarget.connect``),
one per cluster, shared by every Application deploying there. It composes the
modules beside it: ``connecting`` (kubeconfig → client), ``discovery``,
``preparing``, ``applying``, ``creating``, ``reading``, ``pruning``, ``watching`` and the
per-target ``recording`` of kinds and namespaces each Application used.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitward import errors
from gitward.model import resources
from gitward.targets import base
from gitward.targets.kubernetes import (
    applying,
    connecting,
    creating,
    preparing,
    pruning,
    reading,
    recording,
    requesting,
    watching,
)
from gitward.targets.kubernetes import discovery as discovering

# How long apply waits for the kind of a CRD it applied itself to be served.
DEFAULT_CRD_WAIT = 15.0


class KubernetesTarget:
    """One Kubernetes cluster as a gitward Target."""

    def __init__(
        self,
        name: str,
        connection: connecting.Connection,
        *,
        record: recording.KindRecord | None = None,
        read_concurrency: int = reading.DEFAULT_CONCURRENCY,
        crd_wait: float = DEFAULT_CRD_WAIT,
        min_discovery_interval: float = 1.0,
        watch_server_timeout: int = watching.SERVER_TIMEOUT,
        watch_backoff: tuple[float, float] = (0.2, 10.0),
        watch_namespace_poll: float = watching.NAMESPACE_POLL,
    ) -> None:
        self.name = name
        self.connection = connection
        self.discovery = discovering.Discovery(
            connection.api, min_refresh_interval=min_discovery_interval
        )
        self.record = record or recording.KindRecord()
        self._read_concurrency = read_concurrency
        self._crd_wait = crd_wait
        # Kinds declared by CRDs this target applied: apply waits for them to
        # be served instead of failing at once (CRD then its objects, one sync).
        self._declared_kinds: set[tuple[str, str]] = set()
        self._followed: set[str] = set()  # namespaces callers asked to watch in
        self.watches = watching.WatchHub(
            connection.api,
            self.discovery,
            namespaces=self._all_namespaces,
            server_timeout=watch_server_timeout,
            min_backoff=watch_backoff[0],
            max_backoff=watch_backoff[1],
            namespace_poll=watch_namespace_poll,
        )

    @classmethod
    def connect(
        cls,
        name: str,
        *,
        kubeconfig: str | Path | None = None,
        context: str | None = None,
        in_cluster: bool = False,
        allow_exec: bool = False,
        timeout: float = connecting.DEFAULT_TIMEOUT,
        record_path: Path | None = None,
        service_account_dir: Path = connecting.SERVICE_ACCOUNT_DIR,
        **options: Any,
    ) -> KubernetesTarget:
        """A target for a kubeconfig context (or the in-cluster service account).

        ``record_path`` keeps the record of kinds each Application used across
        restarts (see ``recording``). ``options`` go to the constructor.
        """
        settings = connecting.Settings(
            kubeconfig=Path(kubeconfig).expanduser() if kubeconfig is not None else None,
            context=context,
            in_cluster=in_cluster,
            allow_exec=allow_exec,
            timeout=timeout,
            service_account_dir=service_account_dir,
        )
        connection = connecting.connect(settings)
        return cls(name, connection, record=recording.KindRecord(record_path), **options)

    @property
    def server(self) -> str:
        return self.connection.server

    def _all_namespaces(self) -> set[str]:
        recorded = {ns for app in self.record.apps() for ns in self.record.namespaces(app)}
        return recorded | self._followed

    async def prepare(
        self, manifests: Sequence[resources.Manifest], *, app: str, namespace: str
    ) -> list[resources.Manifest]:
        prepared = await preparing.prepare(
            manifests, app=app, namespace=namespace, discovery=self.discovery
        )
        self.record.add(
            app,
            ((m.key.group, m.key.kind) for m in prepared),
            [namespace, *(m.key.namespace for m in prepared)],
        )
        return prepared

    async def read(
        self, keys: Sequence[resources.ResourceKey]
    ) -> dict[resources.ResourceKey, Mapping[str, Any] | None]:
        return await reading.read(
            self.connection.api, self.discovery, keys, concurrency=self._read_concurrency
        )

    async def list_objects(
        self, group: str, kind: str, namespace: str, *, limit: int
    ) -> tuple[list[Mapping[str, Any]], bool]:
        what = f"{kind}.{group}" if group else kind
        rtype = await self.discovery.lookup(group, kind)
        if rtype is None:
            return [], False
        code, body, _ = await self.connection.api.request(
            "GET",
            rtype.collection_path(namespace),
            what=f"listing {what} in namespace {namespace}",
            params={"limit": str(limit)},
            allow=frozenset({403, 404}),
        )
        if code == 404:
            return [], False  # the namespace is gone, and what it held
        if code == 403 or not isinstance(body, Mapping):
            raise reading.ForbiddenError(f"{what} in namespace {namespace} may not be listed")
        items = [item for item in body.get("items") or () if isinstance(item, Mapping)]
        # Items of a list response carry no apiVersion/kind of their own.
        typed: list[Mapping[str, Any]] = [
            {**item, "apiVersion": rtype.api_version(), "kind": kind} for item in items
        ]
        return typed, bool((body.get("metadata") or {}).get("continue"))

    async def inventory(
        self, app: str, *, kinds: Iterable[tuple[str, str]] = ()
    ) -> list[Mapping[str, Any]]:
        """Every live object tracked as ``app``'s, among the kinds recorded for
        it (and ``kinds``, for a caller that knows more)."""
        return await reading.inventory(
            self.connection.api,
            self.discovery,
            app,
            kinds=self.record.kinds(app) | set(kinds),
            namespaces=self.record.namespaces(app),
            concurrency=self._read_concurrency,
        )

    async def write_status(self, key: resources.ResourceKey, status: Mapping[str, Any]) -> bool:
        rtype = await self.discovery.lookup(key.group, key.kind)
        if rtype is None:
            return False
        code, _, _ = await self.connection.api.request(
            "PATCH",
            rtype.object_path(key.namespace, key.name) + "/status",
            what=f"writing the status of {key}",
            params={"fieldManager": "gitward"},
            body={"status": dict(status)},
            content_type="application/merge-patch+json",
            allow=frozenset({404}),
        )
        return code != 404

    async def kinds(self) -> list[tuple[str, str]]:
        await self.discovery.ensure_loaded()
        return sorted(self.discovery.known())

    async def dry_run(self, manifest: resources.Manifest, *, force: bool) -> Mapping[str, Any]:
        _, live = await applying.apply(
            self.connection,
            self.discovery,
            manifest,
            force=force,
            dry_run=True,
            wait_for_kind=self._wait_for(manifest),
        )
        return live

    async def apply(
        self, manifest: resources.Manifest, *, force: bool, seen_version: str | None = None
    ) -> base.ApplyResult:
        self._record_apply(manifest)
        outcome, live = await applying.apply(
            self.connection,
            self.discovery,
            manifest,
            force=force,
            dry_run=False,
            wait_for_kind=self._wait_for(manifest),
            seen_version=seen_version,
        )
        self._declared_kinds |= preparing.declared_scopes([manifest]).keys()
        return base.ApplyResult(key=manifest.key, outcome=outcome, live=live)

    async def create(self, manifest: resources.Manifest) -> base.ApplyResult:
        self._record_apply(manifest)
        return await creating.create(
            self.connection, self.discovery, manifest, wait_for_kind=self._wait_for(manifest)
        )

    async def replace(self, manifest: resources.Manifest) -> base.ApplyResult:
        self._record_apply(manifest)
        return await creating.replace(
            self.connection, self.discovery, manifest, wait_for_kind=self._wait_for(manifest)
        )

    async def hook_runs(self, app: str, key: resources.ResourceKey) -> list[Mapping[str, Any]]:
        return await creating.hook_runs(self.connection.api, self.discovery, app, key)

    def _record_apply(self, manifest: resources.Manifest) -> None:
        app = manifest.labels.get(resources.APP_LABEL, "")
        if app:
            self.record.add(
                app, [(manifest.key.group, manifest.key.kind)], [manifest.key.namespace]
            )

    def _wait_for(self, manifest: resources.Manifest) -> float:
        declared = (manifest.key.group, manifest.key.kind) in self._declared_kinds
        return self._crd_wait if declared else 0.0

    async def delete(self, key: resources.ResourceKey, *, uid: str = "") -> bool:
        return await pruning.delete(self.connection.api, self.discovery, key, uid=uid)

    def watch(
        self, group: str, kind: str, *, namespaces: Sequence[str] = ()
    ) -> AsyncGenerator[base.WatchEvent, None]:
        self._followed.update(namespaces)
        return self.watches.events(group, kind)

    async def probe(self) -> base.Probe:
        try:
            _, body, _ = await self.connection.api.request(
                "GET", "/version", what="reading /version"
            )
        except requesting.StatusError as exc:
            raise errors.TargetUnavailable(
                f"Kubernetes API {self.server}: /version answered {exc.code}"
            ) from None
        version = body.get("gitVersion", "") if isinstance(body, Mapping) else ""
        return base.Probe(server=self.server, version=str(version))

    async def close(self) -> None:
        await self.watches.close()
        await self.connection.close()
