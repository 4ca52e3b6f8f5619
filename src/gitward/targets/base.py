"""The Target Protocol: the only seam through which gitward touches a live system.

``targets/kubernetes`` implements it for any Kubernetes API; other systems plug
in through the same Protocol. Live objects cross this seam as plain
Kubernetes-shaped dicts (``apiVersion``, ``kind``, ``metadata``, ...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from gitward.model import resources

# Who is writing, for the target's own audit trail: the engine sets it around
# a sync when replicas share the work ("replica web-1; fence web-1_4f2a#3;
# view 7") and the Kubernetes target sends it in its User-Agent, so the API
# server's audit log (and the test server's write record) tells replicas apart.
attribution: ContextVar[str] = ContextVar("gitward_target_attribution", default="")


class ApplyOutcome(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    key: resources.ResourceKey
    outcome: ApplyOutcome
    live: Mapping[str, Any]  # the object as the target returned it
    message: str = ""  # what the target has to say about it (a command's output), for the record


class WatchEventType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: WatchEventType
    key: resources.ResourceKey
    object: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Probe:
    """What a reachable target says about itself."""

    server: str  # where it is, as configured (no credentials)
    version: str  # e.g. "v1.31.0" for a Kubernetes API


class Target(Protocol):
    """A live system gitward applies manifests to."""

    name: str

    async def prepare(
        self, manifests: Sequence[resources.Manifest], *, app: str, namespace: str
    ) -> list[resources.Manifest]:
        """Default namespaces of namespaced kinds to ``namespace``, drop a
        namespace from cluster-scoped kinds with a warning (as Argo CD and
        kubectl do; see docs/tracking.md), and stamp gitward's inventory
        tracking (label + annotation naming ``app``). Unknown kinds raise
        :class:`gitward.errors.ApplyError` unless a CRD in ``manifests``
        declares them."""
        ...

    async def read(
        self, keys: Sequence[resources.ResourceKey]
    ) -> dict[resources.ResourceKey, Mapping[str, Any] | None]:
        """Live objects for ``keys`` (None where absent)."""
        ...

    async def inventory(
        self, app: str, *, kinds: Iterable[tuple[str, str]] = ()
    ) -> list[Mapping[str, Any]]:
        """Every live object tracked as belonging to ``app``, among the kinds it was
        seen to use and ``kinds`` (group, kind) for a caller that knows more."""
        ...

    async def write_status(self, key: resources.ResourceKey, status: Mapping[str, Any]) -> bool:
        """Merge ``status`` into the object's status subresource; False when the
        object (or its kind) is gone."""
        ...

    async def kinds(self) -> list[tuple[str, str]]:
        """Every (group, kind) the target serves."""
        ...

    async def list_objects(
        self, group: str, kind: str, namespace: str, *, limit: int
    ) -> tuple[list[Mapping[str, Any]], bool]:
        """Up to ``limit`` live objects of a kind in ``namespace`` (any owner), and
        whether there were more. An unknown kind or a missing namespace gives
        ``([], False)``; a refusal raises :class:`gitward.errors.ApplyError`."""
        ...

    async def dry_run(self, manifest: resources.Manifest, *, force: bool) -> Mapping[str, Any]:
        """The object as it would be after a server-side apply (nothing persists)."""
        ...

    async def apply(
        self, manifest: resources.Manifest, *, force: bool, seen_version: str | None = None
    ) -> ApplyResult:
        """Server-side apply with gitward's field manager.

        ``seen_version``: the resourceVersion the caller's Plan saw ("" when it
        saw no object); it lets the target tell ``unchanged`` from
        ``configured`` without reading the object first."""
        ...

    async def create(self, manifest: resources.Manifest) -> ApplyResult:
        """Create (POST) the object; a ``generateName`` hook gets its name from the
        server, and the result's key names the object created."""
        ...

    async def replace(self, manifest: resources.Manifest) -> ApplyResult:
        """Replace the whole live object (PUT at its resourceVersion), or create it
        when absent: the ``Replace=true`` sync option."""
        ...

    async def hook_runs(self, app: str, key: resources.ResourceKey) -> list[Mapping[str, Any]]:
        """Live objects earlier runs of ``app``'s generated hook ``key`` (a
        ``generateName`` key) created, for ``BeforeHookCreation``."""
        ...

    async def delete(self, key: resources.ResourceKey, *, uid: str = "") -> bool:
        """Delete (foreground propagation), with a uid precondition when given.
        Returns False when it was already gone."""
        ...

    def watch(
        self, group: str, kind: str, *, namespaces: Sequence[str] = ()
    ) -> AsyncIterator[WatchEvent]:
        """Events for every object of a kind, across namespaces, resuming
        transparently after disconnects and 410 Gone. Where the identity may not
        watch across namespaces, it watches in each namespace it knows of,
        ``namespaces`` included."""
        ...

    async def probe(self) -> Probe:
        """Ask the target whether it answers, and which version it runs; raises
        :class:`gitward.errors.TargetUnavailable` naming it when it does not."""
        ...

    async def close(self) -> None: ...
