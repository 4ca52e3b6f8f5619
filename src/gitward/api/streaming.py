"""``GET /api/v1/stream``: live updates as server-sent events.

Messages:

* ``event: app`` — an Application's status (the ``GET`` view) whenever the
  agent reports a change (``Agent.subscribe``), or ``{"name", "deleted": true}``
  once it left Git. A snapshot of every visible Application is sent first.
* ``event: event`` with ``id: <event id>`` — each new entry of the event log,
  read from the store after the cursor. A client reconnecting with
  ``Last-Event-ID`` (or ``?after=``) first gets the events it missed.
* ``: heartbeat`` comments every 15 s, so proxies keep the connection and
  clients notice a dead server.
* ``event: error`` with reason ``SlowClient`` just before the server closes a
  stream whose client reads too slowly (its bounded queue filled up); the
  client reconnects with ``Last-Event-ID`` and loses nothing of the log.

``?app=NAME`` limits a stream to one Application. One :class:`Hub` per API
instance reads the store once per change for all clients.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from gitward.api import auth, context, problems, views
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 15.0
QUEUE_SIZE = 256
_REPLAY_PAGE = 500
_DROPPED = "dropped"


def message(kind: str, data: dict[str, Any], id: int | None = None) -> str:
    """One SSE message (JSON data on one line)."""
    head = f"id: {id}\n" if id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@dataclass(eq=False)
class _Client:
    principal: auth.Principal
    app: str | None
    queue: asyncio.Queue[tuple[str, int | None, str]]
    dropped: bool = False
    dropped_at: float = 0.0
    last_event_id: int = 0

    def wants(self, app: str, ctx: context.Context) -> bool:
        if self.app is not None and app != self.app:
            return False
        return ctx.visible(self.principal, app)

    def wants_status(self, name: str, project: str | None) -> bool:
        """``project`` is None for an Application that left Git."""
        if self.app is not None and name != self.app:
            return False
        return self.principal.all_projects if project is None else self.principal.can_read(project)

    def offer(self, kind: str, id: int | None, text: str) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait((kind, id, text))
        except asyncio.QueueFull:
            # Keep memory bounded: forget what is queued and tell the client
            # (through the one slot just freed) to reconnect.
            self.dropped = True
            self.dropped_at = time.monotonic()
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait((_DROPPED, None, ""))


@dataclass(eq=False)
class Hub:
    """Fans the agent's changes out to every connected stream."""

    ctx: context.Context
    heartbeat: float = HEARTBEAT_SECONDS
    queue_size: int = QUEUE_SIZE
    _clients: set[_Client] = field(default_factory=set)
    _dirty: set[str] = field(default_factory=set)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _cursor: int | None = None
    _pump: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.ctx.agent.subscribe(self.changed)

    @property
    def clients(self) -> int:
        return len(self._clients)

    def changed(self, app: str) -> None:
        """Agent listener: ``app`` changed status or has a new event."""
        if not self._clients:
            return
        self._dirty.add(app)
        self._wakeup.set()

    async def connect(self, principal: auth.Principal, app: str | None) -> _Client:
        if self._cursor is None:
            latest = await self.ctx.agent.store.list_events(limit=1)
            self._cursor = (latest[-1].id or 0) if latest else 0
        client = _Client(principal, app, asyncio.Queue(self.queue_size))
        client.last_event_id = self._cursor
        self._clients.add(client)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run(), name="api stream hub")
        return client

    def disconnect(self, client: _Client) -> None:
        self._clients.discard(client)
        if not self._clients and self._pump is not None:
            self._pump.cancel()
            self._pump = None
            # Nobody listens: the next client starts from the log's end again.
            self._cursor = None
            self._dirty.clear()

    async def _run(self) -> None:
        while self._clients:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self._publish()
            except store_base.StoreUnavailable as exc:
                _log.warning("live stream: store unavailable", error=str(exc))
                await asyncio.sleep(1.0)
                self._wakeup.set()
            except Exception:  # a bug here must not end every client's live updates
                _log.exception("live stream: publishing failed")
                await asyncio.sleep(1.0)

    def _forget_abandoned(self) -> None:
        """Drop clients whose stream never read its drop notice: the response
        never started (the client left first), so nothing will disconnect them."""
        limit = time.monotonic() - (2 * self.heartbeat + 5.0)
        for client in [c for c in self._clients if c.dropped and c.dropped_at < limit]:
            self._clients.discard(client)

    async def _publish(self) -> None:
        self._forget_abandoned()
        names, self._dirty = self._dirty, set()
        for name in sorted(n for n in names if n):
            state = self.ctx.agent.apps.get(name)
            data = (
                views.application(state) if state is not None else {"name": name, "deleted": True}
            )
            project = state.app.metadata.project if state is not None else None
            text = message("app", data)
            for client in list(self._clients):
                if client.wants_status(name, project):
                    client.offer("app", None, text)
        while True:
            page = await self.ctx.agent.store.list_events(
                after_id=self._cursor or 0, limit=_REPLAY_PAGE
            )
            for record in page:
                assert record.id is not None
                self._cursor = record.id
                text = message("event", views.event(record), record.id)
                for client in list(self._clients):
                    if client.wants(record.app, self.ctx):
                        client.offer("event", record.id, text)
            if len(page) < _REPLAY_PAGE:
                return

    async def replay(self, client: _Client, after: int) -> list[str]:
        """Events after ``after`` the client missed (reconnection)."""
        found: list[str] = []
        cursor = after
        while True:
            page = await self.ctx.agent.store.list_events(
                app=client.app, after_id=cursor, limit=_REPLAY_PAGE
            )
            for record in page:
                assert record.id is not None
                cursor = record.id
                if client.wants(record.app, self.ctx):
                    found.append(message("event", views.event(record), record.id))
            if len(page) < _REPLAY_PAGE:
                client.last_event_id = cursor
                return found

    async def messages(
        self,
        client: _Client,
        first: list[str],
        recheck: Callable[[], Awaitable[auth.Principal]] | None = None,
    ) -> AsyncIterator[str]:
        """The stream's text. ``recheck`` identifies the caller again (its token
        may have been revoked or narrowed since the stream opened); it runs
        before every message and heartbeat, and the stream ends with an
        ``error`` message when the answer differs."""
        try:
            yield "retry: 3000\n: connected\n\n"
            for text in first:
                yield text
            while True:
                try:
                    kind, id, text = await asyncio.wait_for(client.queue.get(), self.heartbeat)
                except TimeoutError:
                    kind, id, text = "", None, ": heartbeat\n\n"
                refusal = await _refusal(client, recheck)
                if refusal:
                    yield message("error", {"reason": "Unauthorized", "message": refusal})
                    return
                if not kind:
                    yield text
                    continue
                if kind == _DROPPED:
                    yield message(
                        "error",
                        {
                            "reason": "SlowClient",
                            "message": "the client read too slowly; reconnect with Last-Event-ID",
                        },
                    )
                    return
                if id is not None:
                    if id <= client.last_event_id:
                        continue  # already sent by the replay
                    client.last_event_id = id
                yield text
        finally:
            self.disconnect(client)


async def _refusal(client: _Client, recheck: Callable[[], Awaitable[auth.Principal]] | None) -> str:
    """Why the client may no longer read its stream ('' if it still may)."""
    if recheck is None:
        return ""
    try:
        now = await recheck()
    except auth.Unauthorized as exc:
        return f"{exc}; the stream ends"
    if now != client.principal:
        return "the token's role or Projects changed; reconnect"
    return ""


def routes(ctx: context.Context, hub: Hub) -> list[BaseRoute]:
    async def stream(request: Request) -> Response:
        principal = await ctx.principal(request)
        app = request.query_params.get("app") or None
        if app is not None:
            ctx.require_visible(principal, app)
        raw_after = request.headers.get("last-event-id") or request.query_params.get("after")
        after: int | None = None
        if raw_after:
            try:
                after = int(raw_after)
            except ValueError:
                raise problems.BadRequest(f"event cursor {raw_after!r} is not an integer") from None
        client = await hub.connect(principal, app)
        try:
            first = [
                message("app", views.application(state))
                for name, state in sorted(ctx.agent.apps.items())
                if client.app in (None, name) and principal.can_read(state.app.metadata.project)
            ]
            if after is not None:
                first.extend(await hub.replay(client, after))
        except BaseException:
            hub.disconnect(client)
            raise
        return StreamingResponse(
            # Re-identified before every message: a token revoked while the
            # stream is open stops receiving (as the UI's stream does).
            hub.messages(client, first, lambda: ctx.principal(request)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [Route("/api/v1/stream", problems.guarded(stream), methods=["GET"])]
