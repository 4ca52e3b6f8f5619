"""Watches on the target: one shared watch per kind, fanned out to subscribers.

Called by :meth:`KubernetesTarget.watch` (the engine's drift detection). A
:class:`WatchHub` keeps at most one :class:`KindWatch` per (group, kind) per
target, however many Applications subscribe; the watch stops when its last
subscriber leaves.

A KindWatch follows the informer protocol: list (remembering the list's
``resourceVersion``), then watch from it with bookmarks allowed and a server
timeout; when the server ends the stream normally it reconnects from the last
resourceVersion seen (events or bookmarks). After anything else it lists
again and turns the difference with its cache into ADDED / MODIFIED / DELETED
events, so no deletion is lost across the gap: ``410 Gone`` (that version was
compacted), ``504 Too large resource version`` (the server restarted empty,
as after an etcd restore: its versions start again below ours), and every
connection failure (a restarted server may not say so). Connection failures
retry with capped exponential backoff. A subscriber joining a running watch
first receives ADDED for every object already known.

Least privilege: when listing a namespaced kind across namespaces is
forbidden, the kind is watched in each namespace gitward manages on this
target, including namespaces Applications start using later (checked every
``namespace_poll`` seconds). Errors that retrying
cannot fix (still forbidden) are raised to every subscriber.

Subscribers are async iterators; breaking out, ``aclose()`` or cancellation
unsubscribes (cancel-safe); closing the hub (the target) ends every
subscriber's iteration. A subscriber's pending events are coalesced per
object (only the latest event of each is kept), so a flood of changes to the
same objects costs no memory; more than ``max_pending`` distinct objects
pending means the subscriber fell behind: its iteration fails with
:class:`WatchOverflow` and it subscribes again (a fresh list).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from typing import Any

import structlog

from gitward import errors
from gitward.model import resources
from gitward.targets import base
from gitward.targets.kubernetes import discovery as discovering
from gitward.targets.kubernetes import reading, requesting

_log = structlog.get_logger(__name__)

SERVER_TIMEOUT = 290  # seconds a watch request lasts before the server ends it
MAX_PENDING = 10_000  # distinct objects a subscriber may have pending
# How often a per-namespace watch looks for namespaces gitward started using.
NAMESPACE_POLL = 5.0


class _Closed:
    """Sent to subscribers when the target closes: their iteration ends."""


_CLOSED = _Closed()
_Item = base.WatchEvent | BaseException | _Closed


class _Gone(Exception):
    """The watch's resourceVersion is too old (or too new): list again."""


class WatchOverflow(errors.TargetUnavailable):
    """A subscriber fell more than ``max_pending`` objects behind; events were dropped."""


class Subscription:
    """One subscriber's pending events: at most one per object (the latest),
    in the order objects first changed; then a final error or close."""

    def __init__(self, what: str, max_pending: int) -> None:
        self._what = what
        self._max = max_pending
        self._pending: OrderedDict[resources.ResourceKey, base.WatchEvent] = OrderedDict()
        self._final: BaseException | _Closed | None = None
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, item: _Item) -> None:
        if isinstance(item, base.WatchEvent):
            if self._final is not None:
                return
            self._pending[item.key] = item  # replaces an older event of it in place
            if len(self._pending) > self._max:
                self._pending.clear()
                self._final = WatchOverflow(
                    f"watch of {self._what}: more than {self._max} objects changed before "
                    "they were read; events dropped, subscribe again"
                )
        elif self._final is None:
            self._final = item
        self._ready.set()

    async def get(self) -> _Item:
        while True:
            if self._pending:
                return self._pending.popitem(last=False)[1]
            if self._final is not None:
                final, self._final = self._final, None
                return final
            self._ready.clear()
            await self._ready.wait()


class KindWatch:
    """List-then-watch of one (group, kind) across namespaces, with a cache."""

    def __init__(
        self,
        api: requesting.Api,
        discovery: discovering.Discovery,
        group: str,
        kind: str,
        *,
        namespaces: Callable[[], Iterable[str]] = tuple,
        server_timeout: int = SERVER_TIMEOUT,
        min_backoff: float = 0.2,
        max_backoff: float = 10.0,
        namespace_poll: float = NAMESPACE_POLL,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._api = api
        self._discovery = discovery
        self._namespace_poll = namespace_poll
        self._max_pending = max_pending
        self.group = group
        self.kind = kind
        self._namespaces = namespaces
        self._server_timeout = server_timeout
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._cache: dict[resources.ResourceKey, Mapping[str, Any]] = {}
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self.lists = 0  # how many (re-)lists ran: for tests and metrics
        self.connects = 0  # how many watch requests were opened

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def add(self) -> Subscription:
        queue = Subscription(self.group_kind, self._max_pending)
        for key, obj in self._cache.items():
            queue.put(base.WatchEvent(base.WatchEventType.ADDED, key, obj))
        self._subscribers.add(queue)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"watch {self.group_kind}")
        return queue

    def remove(self, queue: Subscription) -> bool:
        """Unsubscribe; True when that was the last subscriber (the watch stopped)."""
        self._subscribers.discard(queue)
        if self._subscribers:
            return False
        self.stop()
        return True

    def stop(self, *, close_subscribers: bool = False) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if close_subscribers:
            self._emit(_CLOSED)

    def _emit(self, item: _Item) -> None:
        for queue in self._subscribers:
            queue.put(item)

    # --- the loop -------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._watch()
        except errors.GitwardError as exc:
            self._fail(exc)
        except BaseExceptionGroup as group:  # from the per-namespace TaskGroup
            first = next((e for e in group.exceptions if isinstance(e, errors.GitwardError)), None)
            if first is None:
                raise
            self._fail(first)

    def _fail(self, exc: BaseException) -> None:
        self._emit(exc)
        self._task = None  # the next subscriber starts a fresh attempt

    async def _watch(self) -> None:
        rtype = await self._resolve()
        try:
            await self._follow(rtype, "")
        except _ForbiddenAcrossNamespaces:
            namespaces = sorted(set(self._namespaces()))
            if not namespaces:
                raise reading.ForbiddenError(
                    f"{self.group_kind} (all namespaces): forbidden to watch, and "
                    "no namespace is known to watch instead"
                ) from None
            async with asyncio.TaskGroup() as group:
                following: set[str] = set()
                while True:
                    # An Application may start using a namespace later.
                    for namespace in sorted(set(self._namespaces()) - following):
                        following.add(namespace)
                        group.create_task(self._follow(rtype, namespace))
                    await asyncio.sleep(self._namespace_poll)

    async def _resolve(self) -> discovering.ResourceType:
        delay = self._min_backoff
        while True:
            try:
                rtype = await self._discovery.lookup(self.group, self.kind)
            except errors.TargetUnavailable as exc:
                _log.info("watch waiting for discovery", kind=self.group_kind, error=str(exc))
                rtype = None
            if rtype is not None:
                return rtype
            # A kind not served yet (its CRD is about to be applied): wait for it.
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)

    async def _follow(self, rtype: discovering.ResourceType, namespace: str) -> None:
        version = ""
        delay = self._min_backoff
        where = f" in namespace {namespace}" if namespace else ""
        while True:
            try:
                if not version:
                    version = await self._relist(rtype, namespace)
                opened = time.monotonic()
                version = await self._stream(rtype, namespace, version)
                if time.monotonic() - opened < 1.0:
                    # A server (or proxy) that ends watches at once must not
                    # turn this loop into a request storm.
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._max_backoff)
                else:
                    delay = self._min_backoff
            except _Gone:
                version = ""
            except errors.TargetUnavailable as exc:
                # The server may have restarted (empty, or restored from a
                # backup): resuming from our version could wait for ever.
                _log.info("watch interrupted", kind=self.group_kind, error=str(exc))
                version = ""
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
            except requesting.StatusError as exc:
                if exc.code == 410 or _too_large(exc.status):
                    version = ""
                    continue
                if exc.code == 403 and not namespace and rtype.namespaced:
                    raise _ForbiddenAcrossNamespaces from exc
                if exc.code in (401, 403):
                    raise reading.ForbiddenError(
                        f"{self.group_kind}{where}: forbidden to watch: {exc.status.message}"
                    ) from exc
                raise errors.ApplyError(
                    f"{self.group_kind}{where}: watch failed ({exc.code}): {exc.status.message}"
                ) from exc

    async def _relist(self, rtype: discovering.ResourceType, namespace: str) -> str:
        path = rtype.collection_path(namespace)
        items, version = await reading.list_all(
            self._api, path, what=f"listing {self.group_kind}", selector=""
        )
        self.lists += 1
        fresh: dict[resources.ResourceKey, Mapping[str, Any]] = {}
        for item in items:
            described = {**item, "apiVersion": rtype.api_version(), "kind": rtype.kind}
            fresh[resources.ResourceKey.of(described)] = described
        for key in [k for k in self._cache if not namespace or k.namespace == namespace]:
            if key not in fresh:
                gone = self._cache.pop(key)
                self._emit(base.WatchEvent(base.WatchEventType.DELETED, key, gone))
        for key, obj in fresh.items():
            old = self._cache.get(key)
            self._cache[key] = obj
            if old is None:
                self._emit(base.WatchEvent(base.WatchEventType.ADDED, key, obj))
            elif _version(old) != _version(obj):
                self._emit(base.WatchEvent(base.WatchEventType.MODIFIED, key, obj))
        return version

    async def _stream(self, rtype: discovering.ResourceType, namespace: str, version: str) -> str:
        """Follow one watch request; return the last resourceVersion seen."""
        params = {
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self._server_timeout),
        }
        self.connects += 1
        async with self._api.stream(
            rtype.collection_path(namespace),
            what=f"watching {self.group_kind}",
            params=params,
            read_timeout=self._server_timeout + 30,
        ) as lines:
            async for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                kind = str(event.get("type") or "")
                obj: Mapping[str, Any] = event.get("object") or {}
                if kind == "ERROR":
                    status = requesting.Status.of(int(obj.get("code") or 500), obj, "watch error")
                    if status.code == 410 or _too_large(status):
                        raise _Gone
                    raise requesting.StatusError(status)
                version = _version(obj) or version
                if kind == "BOOKMARK":
                    continue
                try:
                    event_type = base.WatchEventType(kind)
                except ValueError:
                    continue
                obj = {
                    **obj,
                    "apiVersion": obj.get("apiVersion") or rtype.api_version(),
                    "kind": obj.get("kind") or rtype.kind,
                }
                key = resources.ResourceKey.of(obj)
                if event_type is base.WatchEventType.DELETED:
                    self._cache.pop(key, None)
                else:
                    self._cache[key] = obj
                self._emit(base.WatchEvent(event_type, key, obj))
        return version


class _ForbiddenAcrossNamespaces(Exception):
    pass


def _too_large(status: requesting.Status) -> bool:
    """A Status saying "Too large resource version" (504, cause ResourceVersionTooLarge)."""
    return any(c.get("reason") == "ResourceVersionTooLarge" for c in status.causes)


def _version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class WatchHub:
    """At most one :class:`KindWatch` per (group, kind), shared by subscribers."""

    def __init__(
        self,
        api: requesting.Api,
        discovery: discovering.Discovery,
        *,
        namespaces: Callable[[], Iterable[str]] = tuple,
        server_timeout: int = SERVER_TIMEOUT,
        min_backoff: float = 0.2,
        max_backoff: float = 10.0,
        namespace_poll: float = NAMESPACE_POLL,
    ) -> None:
        self._api = api
        self._discovery = discovery
        self._namespaces = namespaces
        self._server_timeout = server_timeout
        self._backoff = (min_backoff, max_backoff)
        self._namespace_poll = namespace_poll
        self._watches: dict[tuple[str, str], KindWatch] = {}

    def active(self, group: str, kind: str) -> KindWatch | None:
        return self._watches.get((group, kind))

    async def events(self, group: str, kind: str) -> AsyncGenerator[base.WatchEvent, None]:
        watch = self._watches.get((group, kind))
        if watch is None:
            watch = KindWatch(
                self._api,
                self._discovery,
                group,
                kind,
                namespaces=self._namespaces,
                server_timeout=self._server_timeout,
                min_backoff=self._backoff[0],
                max_backoff=self._backoff[1],
                namespace_poll=self._namespace_poll,
            )
            self._watches[(group, kind)] = watch
        queue = watch.add()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, _Closed):
                    return
                yield item
        finally:
            if watch.remove(queue) and self._watches.get((group, kind)) is watch:
                del self._watches[(group, kind)]

    async def close(self) -> None:
        watches = list(self._watches.values())
        self._watches.clear()
        tasks = [w._task for w in watches if w._task is not None]
        for watch in watches:
            watch.stop(close_subscribers=True)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
