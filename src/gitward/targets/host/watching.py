"""Drift on a host: inotify on the managed paths, and a periodic hash check.

One watcher per target, shared by every ``watch(group, kind)`` subscriber.
It watches the directories holding managed paths (a directory watch sees an
editor's write-to-temporary-and-rename, which a watch on the file itself
misses), reads a path again when its directory reports a change, and every
``rescan`` seconds reads every managed path anyway (inotify queues can
overflow, and network filesystems send nothing). A path whose digest differs
from what gitward last wrote (or that vanished) becomes a MODIFIED (or
DELETED) event carrying the live object with its tracking label, which the
engine's watch trigger turns into a drift: reported, or taken back with
selfHeal.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import asyncinotify
import structlog

from gitward import errors
from gitward.model import resources
from gitward.targets import base
from gitward.targets.host import inventory

_log = structlog.get_logger(__name__)

_MASK = (
    asyncinotify.Mask.MODIFY
    | asyncinotify.Mask.ATTRIB
    | asyncinotify.Mask.CLOSE_WRITE
    | asyncinotify.Mask.MOVED_FROM
    | asyncinotify.Mask.MOVED_TO
    | asyncinotify.Mask.CREATE
    | asyncinotify.Mask.DELETE
    | asyncinotify.Mask.DELETE_SELF
    | asyncinotify.Mask.MOVE_SELF
    | asyncinotify.Mask.ONLYDIR
)
# Events come in bursts (an editor writes, renames, sets attributes): gather them.
_SETTLE = 0.05

Reader = Callable[[str, inventory.Entry], Awaitable[Mapping[str, Any] | None]]


class Watcher:
    def __init__(
        self,
        records: inventory.Inventory,
        read: Reader,
        *,
        roots: tuple[str, ...],
        rescan: float,
        busy: Callable[[str], bool],
    ) -> None:
        self._records = records
        self._read = read
        self._roots = roots
        self._rescan = rescan
        self._busy = busy
        self._subscribers: list[tuple[str, asyncio.Queue[base.WatchEvent]]] = []
        self._task: asyncio.Task[None] | None = None
        # Per managed path: the digest last reported (so one change is one event).
        self._reported: dict[str, str] = {}

    async def subscribe(self, kind: str) -> AsyncIterator[base.WatchEvent]:
        queue: asyncio.Queue[base.WatchEvent] = asyncio.Queue()
        item = (kind, queue)
        self._subscribers.append(item)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="host watcher")
        try:
            while True:
                if self._task.done() and queue.empty():
                    failure = self._task.exception()
                    raise errors.TargetUnavailable(f"the host watcher stopped: {failure}")
                with contextlib.suppress(TimeoutError):
                    yield await asyncio.wait_for(queue.get(), 1.0)
        finally:
            self._subscribers.remove(item)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        with asyncinotify.Inotify() as notify:
            watched: dict[str, asyncinotify.Watch] = {}
            generation = -1
            while True:
                if generation != self._records.generation:
                    generation = self._records.generation
                    self._rewatch(notify, watched)
                try:
                    first = await asyncio.wait_for(notify.get(), self._rescan)
                except TimeoutError:
                    await self._check(None)
                    continue
                touched = {_directory_of(first)}
                with contextlib.suppress(TimeoutError):
                    while True:
                        touched.add(_directory_of(await asyncio.wait_for(notify.get(), _SETTLE)))
                await self._check({d for d in touched if d is not None} or None)
                # Directories may have come or gone (a parent created, one removed).
                self._rewatch(notify, watched)

    def _rewatch(
        self, notify: asyncinotify.Inotify, watched: dict[str, asyncinotify.Watch]
    ) -> None:
        wanted = {
            self._nearest(posixpath.dirname(entry.path))
            for _, entry in self._records.everything()
            if entry.path
        }
        for directory in set(watched) - wanted:
            with contextlib.suppress(OSError):
                notify.rm_watch(watched.pop(directory))
        for directory in wanted - set(watched):
            try:
                watched[directory] = notify.add_watch(directory, _MASK)
            except OSError as exc:
                _log.warning("cannot watch", directory=directory, error=exc.strerror)

    def _nearest(self, directory: str) -> str:
        """``directory``, or its closest existing ancestor (still in a root)."""
        while not Path(directory).is_dir() and directory not in self._roots:
            directory = posixpath.dirname(directory)
        return directory

    async def _check(self, directories: set[str] | None) -> None:
        for app, entry in self._records.everything():
            if not entry.path or self._busy(entry.path):
                continue
            if directories is not None and not any(
                entry.path.startswith(d.rstrip("/") + "/") for d in directories
            ):
                continue
            try:
                live = await self._read(app, entry)
            except errors.GitwardError as exc:
                _log.warning("cannot read a managed path", path=entry.path, error=str(exc))
                continue
            digest = str(((live or {}).get("metadata") or {}).get("resourceVersion") or "")
            if digest == self._reported.get(entry.path, entry.version):
                continue
            self._reported[entry.path] = digest
            if digest == entry.version:
                continue  # back to what gitward wrote
            self._emit(app, entry, live)

    def _emit(self, app: str, entry: inventory.Entry, live: Mapping[str, Any] | None) -> None:
        key = resources.ResourceKey(
            group="host.gitward.dev", kind=entry.kind, namespace="", name=entry.name
        )
        if live is None:
            kind = base.WatchEventType.DELETED
            live = {
                "apiVersion": "host.gitward.dev/v1",
                "kind": entry.kind,
                "metadata": {"name": entry.name, "labels": dict(entry.labels)},
            }
        else:
            kind = base.WatchEventType.MODIFIED
        event = base.WatchEvent(type=kind, key=key, object=live)
        _log.info("host drift seen", app=app, path=entry.path, change=kind.value)
        for wanted, queue in self._subscribers:
            if wanted == entry.kind:
                queue.put_nowait(event)


def _directory_of(event: asyncinotify.Event) -> str | None:
    if event.mask & (
        asyncinotify.Mask.IGNORED | asyncinotify.Mask.DELETE_SELF | asyncinotify.Mask.MOVE_SELF
    ):
        return None
    watch = event.watch
    return str(watch.path) if watch is not None else None
