"""The HTTP/1.1 transport under the Kubernetes target's httpx2 client.

httpx2 keeps what it is good at here: URLs, auth flows (bearer tokens, token
files re-read on 401, exec plugins), event hooks, content decoding. Bytes move
through this transport instead of httpcore2: an :class:`asyncio.Protocol` per
connection, the response parsed by llhttp (``httptools``, already installed
for uvicorn). An agent sends tens of thousands of small requests to one API
server; measured on the API test server, httpcore2 and anyio cost about
0.6 ms of client CPU per GET, this transport a fraction of it.

Semantics kept from httpcore2:

* keep-alive connections per origin (at most ``max_connections`` open,
  ``max_keepalive`` idle, each idle for at most ``keepalive_expiry`` s);
* the request's ``timeout`` extension: ``connect``, ``write``, ``pool``, and
  ``read`` bounding the silence between two reads (a watch's stream);
* failures raise httpx2's transport errors (ConnectError, ConnectTimeout,
  ReadTimeout, ReadError, RemoteProtocolError, WriteTimeout, PoolTimeout), so
  callers see what they saw before.

A request whose reused connection turns out closed by the server before a byte
of the answer arrived is sent once more on a new connection: the server closed
an idle connection, it never read the request.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import httptools
import httpx2

_HIGH_WATER = 1 << 20  # buffered body bytes before reading pauses (a slow watch consumer)
_Origin = tuple[str, str, int]


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and the answer it is receiving."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._paused = False
        self.begin()

    def begin(self) -> None:
        """Ready for the next answer on this connection."""
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False
        self.received = False
        self.keep_alive = True
        self.error: httpx2.TransportError | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = httpx2.RemoteProtocolError(f"malformed HTTP answer: {exc}")
            self.close()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete and self.error is None:
            detail = f": {exc}" if exc else ""
            self.error = httpx2.ReadError(f"the server closed the connection{detail}")
        self._wake()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # httptools callbacks

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        self.complete = True

    # used by the transport

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, silence: float | None) -> None:
        """Until more of the answer (or an error) arrived; ReadTimeout after
        ``silence`` seconds without a byte."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(silence):
                await self._waiter
        except TimeoutError:
            raise httpx2.ReadTimeout(f"no answer from the server within {silence:g}s") from None
        finally:
            self._waiter = None

    async def send(self, data: bytes, within: float | None) -> None:
        assert self.transport is not None
        self.transport.write(data)
        if self._writable is not None:
            try:
                async with asyncio.timeout(within):
                    await self._writable
            except TimeoutError:
                raise httpx2.WriteTimeout(f"could not send within {within:g}s") from None
        if self.closed and self.error is not None and not self.received:
            raise self.error

    def take(self) -> bytes | None:
        """The next body chunk received, if any."""
        if not self.chunks:
            return None
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self._paused and self.buffered <= _HIGH_WATER // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Body(httpx2.AsyncByteStream):
    """An answer's body as it arrives; closing it frees the connection."""

    def __init__(
        self, owner: Transport, origin: _Origin, conn: _Connection, read_timeout: float | None
    ) -> None:
        self._owner = owner
        self._origin = origin
        self._conn: _Connection | None = conn
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        while True:
            chunk = conn.take()
            if chunk is not None:
                yield chunk
            elif conn.complete:
                return
            elif conn.error is not None:
                raise conn.error
            else:
                await conn.wait(self._read_timeout)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._owner.release(self._origin, conn)


class Transport(httpx2.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 connections to API servers (plain or TLS)."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        *,
        max_connections: int = 100,
        max_keepalive: int = 20,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._ssl = ssl_context
        self._max_keepalive = max_keepalive
        self._expiry = keepalive_expiry
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._slots = asyncio.Semaphore(max_connections)
        self._open: set[_Connection] = set()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx2.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        origin = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        head = [request.method.encode(), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        data = b"".join(head) + await request.aread()
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx2.PoolTimeout("no connection to the server free in time") from None
        try:
            conn = await self._answer(origin, data, request.method, timeouts)
        except BaseException:
            self._slots.release()
            raise
        return httpx2.Response(
            conn.status,
            headers=conn.headers,
            stream=_Body(self, origin, conn, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason},
        )

    async def _answer(
        self, origin: _Origin, data: bytes, method: str, timeouts: dict[str, float | None]
    ) -> _Connection:
        """A connection whose answer's headers have arrived."""
        while True:
            conn = self._idle_connection(origin) or await self._connect(origin, timeouts)
            conn.begin()
            try:
                await conn.send(data, timeouts.get("write"))
                while not conn.headers_done:
                    if conn.error is not None:
                        raise conn.error
                    await conn.wait(timeouts.get("read"))
            except httpx2.TransportError:
                conn.close()
                self._open.discard(conn)
                if conn.reused and not conn.received:
                    continue  # an idle connection the server had closed: anew
                raise
            except BaseException:
                conn.close()
                self._open.discard(conn)
                raise
            if method == "HEAD":
                conn.complete, conn.keep_alive = True, False
            return conn

    def _idle_connection(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self._expiry:
                conn.reused = True
                return conn
            conn.close()
            self._open.discard(conn)
        return None

    async def _connect(self, origin: _Origin, timeouts: dict[str, float | None]) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls: dict[str, Any] = {}
        if scheme == "https":
            tls = {"ssl": self._ssl or ssl.create_default_context(), "server_hostname": host}
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                _, conn = await loop.create_connection(_Connection, host, port, **tls)
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"could not connect to {host}:{port} in time") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx2.ConnectError(str(exc) or type(exc).__name__) from exc
        self._open.add(conn)
        return conn

    def release(self, origin: _Origin, conn: _Connection) -> None:
        """An answer is closed: keep its connection for the next, or close it."""
        self._slots.release()
        idle = self._idle.setdefault(origin, [])
        reusable = conn.complete and conn.keep_alive and not conn.closed
        if reusable and len(idle) < self._max_keepalive:
            conn.idle_since = time.monotonic()
            idle.append(conn)
            return
        conn.close()
        self._open.discard(conn)

    async def aclose(self) -> None:
        for conn in self._open:
            conn.close()
        self._open.clear()
        self._idle.clear()
