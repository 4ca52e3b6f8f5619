"""HTTP/1.1 connections of the Kubernetes API test server.

A small HTTP/1.1 server on asyncio with the ``httptools`` parser (the one
uvicorn uses), rather than an ASGI framework: a watch is then just a
registered callback that writes chunks to its transport, so 2,000 open
watches cost a few kilobytes each and no task wakes up until an event
arrives; and the server starts and stops inside a test's event loop without
touching signal handlers or logging. Requests on one connection are answered
in order; each connection runs one request at a time. :class:`Request` and
:class:`Response` are what the handler (:class:`.serving.Router`) sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast
from urllib.parse import parse_qs

import httptools
import orjson

from gitward.testing.kubeapi import auth, validating, watching

_log = logging.getLogger(__name__)

MAX_BODY_BYTES = 3 * 1024 * 1024 + 512 * 1024  # kube-apiserver's request size limit
JSON = "application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


class Request:
    __slots__ = ("body", "headers", "method", "path", "query", "user")

    def __init__(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.user = auth.ANONYMOUS

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return self.param(name).lower() in ("true", "1")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str = JSON,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})


def json_response(status: int, obj: Any, content_type: str = JSON) -> Response:
    return Response(status, orjson.dumps(obj), content_type)


def status_response(error: validating.StatusError) -> Response:
    return json_response(error.code, error.body())


Handler = Callable[[Request, "Connection"], Awaitable[Response | None]]


class Connection(asyncio.Protocol):
    """One client connection: parses requests, answers them in order, streams watches."""

    def __init__(self, handler: Handler, connections: set[Connection]) -> None:
        self._handler = handler
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._pending: deque[tuple[Request, bool]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._streaming = False

    @property
    def closed(self) -> asyncio.Future[None]:
        return self._closed

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's SSL transport is not an asyncio.Transport subclass, but has its methods.
        self._transport = cast(asyncio.Transport, transport)
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        if not self._closed.done():
            self._closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "protocol upgrades are not supported")
        except httptools.HttpParserError:
            self._fail(400, "malformed HTTP request")

    def _fail(self, status: int, message: str) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._write_response(
                Response(
                    status, orjson.dumps(validating.status_body(status, "BadRequest", message))
                ),
                keep_alive=False,
            )

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]},{text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        # curl and other clients wait for this before sending a large body.
        if (
            self._headers.get("expect", "").lower() == "100-continue"
            and self._transport is not None
        ):
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size <= MAX_BODY_BYTES:
            self._body.append(body)

    def on_message_complete(self) -> None:
        url = httptools.parse_url(self._url)
        path = url.path.decode("latin-1")
        query = parse_qs(url.query.decode("latin-1"), keep_blank_values=True) if url.query else {}
        method = self._parser.get_method().decode("ascii")
        request = Request(method, path, query, self._headers, b"".join(self._body))
        if self._body_size > MAX_BODY_BYTES:
            request.method = "TOO_LARGE"
        self._pending.append((request, self._parser.should_keep_alive()))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._serve())
        if len(self._pending) > 32 and self._transport is not None:
            self._transport.pause_reading()

    async def _serve(self) -> None:
        try:
            while self._pending and not self._closed.done():
                request, keep_alive = self._pending.popleft()
                if self._transport is not None and len(self._pending) < 8:
                    with contextlib.suppress(RuntimeError):
                        self._transport.resume_reading()
                if request.method == "TOO_LARGE":
                    error = validating.StatusError(
                        413, "RequestEntityTooLarge", "the request body is too large"
                    )
                    self._write_response(status_response(error), keep_alive=False)
                    return
                try:
                    response = await self._handler(request, self)
                except validating.StatusError as error:
                    response = status_response(error)
                except Exception as exc:  # the server must answer, not drop the connection
                    _log.exception("internal error serving %s %s", request.method, request.path)
                    response = json_response(
                        500,
                        validating.status_body(
                            500,
                            "InternalError",
                            f"Internal error occurred: {type(exc).__name__}: {exc}",
                        ),
                    )
                if response is None:  # a stream that has ended
                    if not keep_alive and self._transport is not None:
                        self._transport.close()
                    continue
                self._write_response(response, keep_alive=keep_alive)
        finally:
            self._task = None

    def _write_response(self, response: Response, *, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        head = [
            f"HTTP/1.1 {response.status} {_phrase(response.status)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Cache-Control: no-cache, private",
        ]
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        if not keep_alive:
            head.append("Connection: close")
        transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
        if not keep_alive:
            transport.close()

    # streaming (watch)
    def start_stream(self, content_type: str) -> None:
        self._streaming = True
        if self._transport is None or self._transport.is_closing():
            return
        head = (
            "HTTP/1.1 200 OK\r\n"
            f"Content-Type: {content_type}\r\n"
            "Cache-Control: no-cache, private\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        self._transport.write(head.encode("latin-1"))

    def write_chunk(self, data: bytes) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > watching.MAX_BUFFERED_BYTES:
            transport.abort()
            return False
        transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        return True

    def end_stream(self) -> None:
        self._streaming = False
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"0\r\n\r\n")

    def close(self) -> asyncio.Task[None] | None:
        """Close the connection; returns the task still answering on it, if any."""
        if self._transport is not None:
            self._transport.close()
        return self._task


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


async def start(
    handler: Handler,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    connections: set[Connection],
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: Connection(handler, connections),
        host=host,
        port=port,
        ssl=ssl_context,
        reuse_address=True,
        backlog=4096,
    )
