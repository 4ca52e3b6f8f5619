"""The cluster-objects trigger: Application, ApplicationSet and Project objects
(``clusterObjects``).

Watches ``applications.gitward.dev``, ``applicationsets.gitward.dev`` and
``projects.gitward.dev`` in the
configured namespaces (list-then-watch, resumed after disconnects and 410
Gone by the target's watch hub; a kind not served yet is waited for). Every
change recomputes the merged catalog (``cluster_catalog.merge`` of the last
Git catalog and the objects) and hands it to ``apply``, which queues what
changed; this trigger never reconciles anything itself.

A watch that fails (the CRD deleted, access refused) keeps the objects last
seen: an error never removes an Application. Objects that really go away
(DELETED events) do, and then the Application's ``cascadeDelete`` decides
what happens to its workloads, as for Applications removed from Git.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog

from gitward import errors
from gitward.config import crds
from gitward.engine import catalog, cluster_catalog
from gitward.targets import base as targets

_log = structlog.get_logger(__name__)

KINDS = ("Application", "ApplicationSet", "Project")
RETRY_PAUSE = 5.0

Apply = Callable[[cluster_catalog.Merged], Awaitable[None]]


class ClusterObjects:
    """The cluster half of the catalog; :meth:`merge` adds it to a Git catalog."""

    def __init__(
        self,
        target: targets.Target,
        namespaces: Sequence[str],
        apply: Apply,
        *,
        retry_pause: float = RETRY_PAUSE,
    ) -> None:
        self.target = target
        self.namespaces = frozenset(namespaces)
        self._apply = apply
        self._retry_pause = retry_pause
        self.objects: dict[cluster_catalog.ObjectRef, cluster_catalog.ClusterObject] = {}
        self.git = catalog.Catalog(revision="")
        self._changed = asyncio.Event()

    def merge(self, git: catalog.Catalog) -> cluster_catalog.Merged:
        """Remember ``git`` (the root trigger's latest) and merge the objects into it."""
        self.git = git
        return cluster_catalog.merge(git, self.objects.values())

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for kind in KINDS:
                group.create_task(self._follow(kind), name=f"cluster {kind} objects")
            group.create_task(self._publish())

    async def _follow(self, kind: str) -> None:
        while True:
            try:
                async for event in self.target.watch(
                    crds.GROUP, kind, namespaces=sorted(self.namespaces)
                ):
                    self._seen(kind, event)
            except errors.GitwardError as exc:
                # Keep what was seen: an unreadable cluster never removes an Application.
                _log.warning("cluster objects unavailable", kind=kind, error=str(exc))
            await asyncio.sleep(self._retry_pause)

    def _seen(self, kind: str, event: targets.WatchEvent) -> None:
        if self.namespaces and event.key.namespace not in self.namespaces:
            return
        ref = cluster_catalog.ObjectRef(kind, event.key.namespace, event.key.name)
        if event.type is targets.WatchEventType.DELETED:
            if self.objects.pop(ref, None) is None:
                return
        else:
            seen = cluster_catalog.ClusterObject.of(event.object)
            if seen.mirrored:
                # gitward's own mirror of a Git-declared Application: not a declaration.
                if self.objects.pop(ref, None) is not None:
                    self._changed.set()
                return
            previous = self.objects.get(ref)
            # Status writes (ours) change neither spec nor generation: no new catalog.
            if (
                previous is not None
                and previous.body.get("spec") == seen.body.get("spec")
                and (previous.body.get("metadata") or {}).get("labels")
                == (seen.body.get("metadata") or {}).get("labels")
            ):
                self.objects[ref] = seen
                return
            self.objects[ref] = seen
        self._changed.set()

    async def _publish(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self._apply(self.merge(self.git))
