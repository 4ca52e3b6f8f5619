"""The Kubernetes target's HTTP/1.1 transport against a real socket server whose
answers each test scripts byte for byte (keep-alive, closed idle connections,
chunked streams, silence, garbage)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx2
import pytest

from gitward import errors
from gitward.targets.kubernetes import requesting, transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Server:
    """A TCP server calling ``handler(reader, writer, connection number)``."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        task = asyncio.current_task()
        assert task is not None
        self._tasks.append(task)
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                await self._handler(reader, writer, number)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = await reader.readexactly(length) if length else b""
        self.requests.append(head + body)
        return head + body


def answer(body: bytes, *extra: bytes) -> bytes:
    headers = b"".join(h + b"\r\n" for h in extra)
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + headers
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


@contextlib.asynccontextmanager
async def client(base: str, timeout: float = 5.0) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=base, transport=transport.Transport(), timeout=timeout
    ) as http:
        yield http


async def test_answers_reuse_one_keep_alive_connection_and_the_body_is_sent() -> None:
    server: Server

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while True:
            request = await server.read_request(reader)
            writer.write(answer(b'{"echo": %d}' % len(request.split(b"\r\n\r\n", 1)[1])))
            await writer.drain()

    server = Server(handler)
    async with server as base, client(base) as http:
        first = await http.patch("/apis/x?fieldManager=gitward", content=b'{"a": 1}')
        second = await http.get("/api/v1/namespaces")
    assert (first.status_code, first.json(), second.json()) == (200, {"echo": 8}, {"echo": 0})
    assert server.connections == 1
    assert server.requests[0].startswith(b"PATCH /apis/x?fieldManager=gitward HTTP/1.1\r\n")
    assert b'\r\n\r\n{"a": 1}' in server.requests[0]


async def test_an_idle_connection_the_server_closed_is_replaced_without_an_error() -> None:
    server: Server

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.read_request(reader)
        writer.write(answer(b"{}"))
        await writer.drain()
        # then the server drops the connection, as an API server does with idle ones

    server = Server(handler)
    async with server as base, client(base) as http:
        assert (await http.get("/one")).status_code == 200
        await asyncio.sleep(0.1)
        assert (await http.get("/two")).status_code == 200
    assert server.connections == 2


async def test_connection_close_answers_are_not_reused() -> None:
    server: Server

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.read_request(reader)
        writer.write(answer(b"{}", b"Connection: close"))
        await writer.drain()
        await asyncio.sleep(1)  # holds the socket open: only the header says "close"

    server = Server(handler)
    async with server as base, client(base) as http:
        await http.get("/one")
        await http.get("/two")
    assert server.connections == 2


async def test_a_chunked_stream_arrives_line_by_line_and_silence_is_a_read_timeout() -> None:
    server: Server
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for line in (b'{"type": "ADDED"}\n', b'{"type": "MODIFIED"}\n'):
            writer.write(b"%x\r\n%s\r\n" % (len(line), line))
            await writer.drain()
            await release.wait()
        await asyncio.sleep(5)  # then nothing: the client's read timeout ends it

    server = Server(handler)
    async with server as base, client(base, timeout=0.5) as http:
        lines: list[str] = []
        async with http.stream("GET", "/watch") as response:
            with pytest.raises(httpx2.ReadTimeout):
                async for line in response.aiter_lines():
                    lines.append(line)
                    release.set()
    assert lines == ['{"type": "ADDED"}', '{"type": "MODIFIED"}']


async def test_a_malformed_answer_is_a_protocol_error_and_refused_connect_a_connect_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with Server(handler) as base, client(base) as http:
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.get("/x")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with client(f"http://127.0.0.1:{port}") as http:
        with pytest.raises(httpx2.ConnectError):
            await http.get("/x")
        # Through the target's gateway, the failure names the server.
        api = requesting.Api(http, f"http://127.0.0.1:{port}")
        with pytest.raises(errors.TargetUnavailable, match=f"127.0.0.1:{port} unavailable"):
            await api.request("GET", "/api", what="discovering")


async def test_a_server_that_dies_mid_answer_is_a_read_error_not_a_retry() -> None:
    server: Server

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()

    server = Server(handler)
    async with server as base, client(base) as http:
        with pytest.raises(httpx2.ReadError):
            await http.get("/x")
    assert server.connections == 1  # bytes of the answer came: never sent again
