"""Every write to a target made under the owner's fence.

When replicas share the work, ``engine.replicas`` wraps each target in a
:class:`FencedTarget`: every write (``apply``, ``create``, ``replace``,
``delete``, ``write_status``) first asks the membership whether this
replica may still write the Application at hand (lease good, view fresh,
Application in its settled shard) and raises
:class:`gitward.errors.FenceLost` instead of sending the request when not.
The check is local (no request) and made immediately before each write, so
a replica that lost its lease stops before its next write, mid-sync
included. Reads, dry runs and watches pass through.

Which Application is at hand travels with the task (:func:`writing_for`, a
context variable, inherited by the tasks a sync starts), so the reconcile
sequence and the sync need not know about replicas. The same context sets
the attribution the Kubernetes target sends in its User-Agent.

Kubernetes has no server-side fencing tokens for arbitrary objects: the
window between the check and the request reaching the API server (a process
frozen right there) cannot be closed from the client. It is as small as a
client can make it; see docs/operations.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from gitward.model import coordination, resources
from gitward.targets import base as targets

_current_app: ContextVar[str | None] = ContextVar("gitward_fenced_app", default=None)

Check = Callable[[str | None], coordination.Fence]


@contextlib.contextmanager
def writing_for(app: str) -> Iterator[None]:
    """Writes made in this context (and tasks started from it) are for ``app``."""
    token = _current_app.set(app)
    try:
        yield
    finally:
        _current_app.reset(token)


def current_app() -> str | None:
    return _current_app.get()


class FencedTarget:
    """A :class:`gitward.targets.base.Target` whose writes are checked first."""

    def __init__(self, inner: targets.Target, check: Check, attribution: Callable[[], str]) -> None:
        self.inner = inner
        self.name = inner.name
        self._check = check
        self._attribution = attribution

    def _fence(self) -> None:
        self._check(_current_app.get())
        # This task's writes carry who made them (replica, fence, view).
        targets.attribution.set(self._attribution())

    async def prepare(
        self, manifests: Sequence[resources.Manifest], *, app: str, namespace: str
    ) -> list[resources.Manifest]:
        return await self.inner.prepare(manifests, app=app, namespace=namespace)

    async def read(
        self, keys: Sequence[resources.ResourceKey]
    ) -> dict[resources.ResourceKey, Mapping[str, Any] | None]:
        return await self.inner.read(keys)

    async def inventory(
        self, app: str, *, kinds: Iterable[tuple[str, str]] = ()
    ) -> list[Mapping[str, Any]]:
        return await self.inner.inventory(app, kinds=kinds)

    async def kinds(self) -> list[tuple[str, str]]:
        return await self.inner.kinds()

    async def write_status(self, key: resources.ResourceKey, status: Mapping[str, Any]) -> bool:
        # Status reports what this replica saw; only the owner reports it.
        self._fence()
        return await self.inner.write_status(key, status)

    async def list_objects(
        self, group: str, kind: str, namespace: str, *, limit: int
    ) -> tuple[list[Mapping[str, Any]], bool]:
        return await self.inner.list_objects(group, kind, namespace, limit=limit)

    async def dry_run(self, manifest: resources.Manifest, *, force: bool) -> Mapping[str, Any]:
        return await self.inner.dry_run(manifest, force=force)

    async def apply(
        self, manifest: resources.Manifest, *, force: bool, seen_version: str | None = None
    ) -> targets.ApplyResult:
        self._fence()
        return await self.inner.apply(manifest, force=force, seen_version=seen_version)

    async def create(self, manifest: resources.Manifest) -> targets.ApplyResult:
        self._fence()
        return await self.inner.create(manifest)

    async def replace(self, manifest: resources.Manifest) -> targets.ApplyResult:
        self._fence()
        return await self.inner.replace(manifest)

    async def hook_runs(self, app: str, key: resources.ResourceKey) -> list[Mapping[str, Any]]:
        return await self.inner.hook_runs(app, key)

    async def delete(self, key: resources.ResourceKey, *, uid: str = "") -> bool:
        self._fence()
        return await self.inner.delete(key, uid=uid)

    def watch(
        self, group: str, kind: str, *, namespaces: Sequence[str] = ()
    ) -> AsyncIterator[targets.WatchEvent]:
        return self.inner.watch(group, kind, namespaces=namespaces)

    async def probe(self) -> targets.Probe:
        return await self.inner.probe()

    async def close(self) -> None:
        await self.inner.close()


def fenced(inner: targets.Target, check: Check, attribution: Callable[[], str]) -> targets.Target:
    """``inner`` with its writes fenced (typed as the Protocol, so mypy checks
    that :class:`FencedTarget` forwards every method of it)."""
    return FencedTarget(inner, check, attribution)
