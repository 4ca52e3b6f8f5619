"""Watch streams: resourceVersion resume, 410 Gone, bookmarks, selectors, Tables.

A :class:`WatchStream` is registered on a :class:`storing.Bucket` and turns
each change into one newline-delimited JSON event on a chunked HTTP response.
Semantics follow the kube-apiserver watch cache: without a resourceVersion (or
with ``0``) the current objects come first as ADDED; with one, events after it
are replayed from the bucket's history, or an ERROR event with a 410 Expired
Status ends the stream when that history no longer reaches back. A version
newer than the server has (it restarted empty, as after an etcd restore) is
waited for up to :data:`TOO_LARGE_WAIT` seconds, then answered with the ERROR
event kube-apiserver's watch cache sends a client that must be fresh (a 504
Timeout Status, cause ``ResourceVersionTooLarge``: "Too large resource
version"), so a client that resumes from a stale version finds out; a change that
moves an object out of (into) a label selector is sent as DELETED (ADDED).
Started by :mod:`.serving`; everything runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import orjson

from gitward.testing.kubeapi import selecting, storing, types, validating

# A client that reads slower than events arrive is cut off (as kube-apiserver
# does) rather than buffering without bound; it re-lists and watches again.
MAX_BUFFERED_BYTES = 32 * 1024 * 1024

# How long a watch from a future resourceVersion waits for the store to reach
# it: the 3 s kube-apiserver's watch cache blocks (waitUntilFreshAndBlock).
TOO_LARGE_WAIT = 3.0

TableBuilder = Callable[[list[Mapping[str, Any]], bool], dict[str, Any]]


class StreamSink(Protocol):
    def write_chunk(self, data: bytes) -> bool: ...

    @property
    def closed(self) -> asyncio.Future[None]: ...


class WatchStream:
    """One open watch: filters, shape (JSON or Table) and the connection it writes to."""

    __slots__ = (
        "_headers_sent",
        "api_version",
        "bucket",
        "done",
        "fields",
        "label_terms",
        "labels",
        "namespace",
        "rtype",
        "sink",
        "table",
    )

    def __init__(
        self,
        sink: StreamSink,
        bucket: storing.Bucket,
        rtype: types.ResourceType,
        *,
        namespace: str,
        labels: selecting.Predicate | None,
        fields: selecting.Predicate | None,
        table: TableBuilder | None,
        label_terms: tuple[storing.LabelTerm, ...] = (),
    ) -> None:
        self.sink = sink
        self.bucket = bucket
        self.rtype = rtype
        self.api_version = rtype.group_version
        self.namespace = namespace
        self.labels = labels
        # Equality terms of the label selector: the initial objects come from the index.
        self.label_terms = label_terms
        self.fields = fields
        self.table = table
        self._headers_sent = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _matches(self, obj: Mapping[str, Any]) -> bool:
        if self.labels is not None and not self.labels(obj):
            return False
        return self.fields is None or self.fields(obj)

    def deliver(self, event: storing.Event) -> None:
        obj = event.obj
        if self.namespace and obj["metadata"].get("namespace") != self.namespace:
            return
        kind = event.type
        if self.labels is not None or self.fields is not None:
            now_in = kind != "DELETED" and self._matches(obj)
            was_in = event.prev is not None and self._matches(event.prev)
            if kind == "ADDED" and not now_in:
                return
            if kind == "MODIFIED":
                if now_in and not was_in:
                    kind = "ADDED"
                elif was_in and not now_in:
                    kind = "DELETED"
                elif not now_in:
                    return
            if kind == "DELETED" and event.type == "DELETED" and not was_in:
                return
        if self.table is None:
            self._write(event.encoded(kind, self.api_version))
        else:
            self._write_object(kind, obj)

    def _write_object(self, kind: str, obj: Mapping[str, Any]) -> None:
        if self.table is not None:
            obj = self.table([obj], not self._headers_sent)
            self._headers_sent = True
        elif obj.get("apiVersion") != self.api_version:
            obj = {**obj, "apiVersion": self.api_version}
        self._write(orjson.dumps({"type": kind, "object": obj}) + b"\n")

    def _write(self, line: bytes) -> None:
        if self.done.done():
            return
        if not self.sink.write_chunk(line):
            self.close()

    def bookmark(self, rv: int, *, initial_events_end: bool = False) -> None:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_events_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.rtype.kind, "apiVersion": self.api_version, "metadata": meta}
        self._write(orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n")

    def expired(self, message: str) -> None:
        self.fail(validating.gone(message))

    def fail(self, error: validating.StatusError) -> None:
        """End the stream with an ERROR event carrying ``error``'s Status."""
        self._write(orjson.dumps({"type": "ERROR", "object": error.body()}) + b"\n")
        self.close()

    def close(self) -> None:
        self.bucket.watchers.discard(self)
        if not self.done.done():
            self.done.set_result(None)


async def run(
    stream: WatchStream,
    store: storing.Store,
    *,
    resource_version: str,
    send_initial_events: bool | None,
    bookmarks: bool,
    bookmark_interval: float,
    timeout_seconds: float | None,
) -> None:
    """Replay, register, then keep the stream open until timeout, close or disconnect."""
    bucket = stream.bucket
    if resource_version in ("", "0") or send_initial_events:
        objects = bucket.objects
        for key in bucket.ordered(stream.namespace, labels=stream.label_terms):
            if stream._matches(objects[key]):
                stream._write_object("ADDED", objects[key])
        if send_initial_events and bookmarks:
            stream.bookmark(store.rv, initial_events_end=True)
    else:
        try:
            since = int(resource_version)
        except ValueError:
            stream.expired(f"invalid resource version: {resource_version}")
            return
        if since < bucket.floor:
            stream.expired(f"too old resource version: {since} ({bucket.floor})")
            return
        if since > store.rv and not await _caught_up(store, since, stream):
            stream.fail(validating.too_large_resource_version(since, store.rv))
            return
        for event in bucket.events_after(since):
            stream.deliver(event)
    bucket.watchers.add(stream)
    loop = asyncio.get_running_loop()
    deadline = None if timeout_seconds is None else loop.time() + timeout_seconds
    try:
        while not stream.done.done():
            wait = bookmark_interval if bookmarks else None
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    break
                wait = left if wait is None else min(wait, left)
            waiters: set[asyncio.Future[None]] = {stream.done, stream.sink.closed}
            finished, _ = await asyncio.wait(
                waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            if stream.sink.closed in finished:
                break
            if bookmarks and not finished:
                stream.bookmark(store.rv)
    finally:
        stream.close()


async def _caught_up(store: storing.Store, version: int, stream: WatchStream) -> bool:
    """Whether the store reaches ``version`` within :data:`TOO_LARGE_WAIT`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TOO_LARGE_WAIT
    # The store signals no "version reached"; a rare, short poll is enough here.
    while store.rv < version and loop.time() < deadline and not stream.done.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return store.rv >= version
