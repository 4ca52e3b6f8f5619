"""Reading webhook bodies: size and time limits, unit-level on an ASGI
``receive`` and end to end through a Starlette app on uvicorn (loopback)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gitward import errors
from gitward.source import webhooks

GOLDEN = Path(__file__).parent.parent / "golden" / "webhooks"
SECRET = "http-test-secret"
LIMIT = 64 * 1024
TIMEOUT = 0.5


def _receive_from(
    messages: list[dict[str, object]],
) -> Callable[[], Awaitable[Mapping[str, object]]]:
    queue = list(messages)

    async def receive() -> Mapping[str, object]:
        if not queue:
            raise AssertionError("read_body asked for more messages than the client sent")
        return queue.pop(0)

    return receive


def _chunk(body: bytes, more: bool = True) -> dict[str, object]:
    return {"type": "http.request", "body": body, "more_body": more}


async def test_read_body_joins_chunks() -> None:
    receive = _receive_from([_chunk(b"ab"), _chunk(b""), _chunk(b"cd", more=False)])
    assert await webhooks.read_body(receive, limit=4, timeout=1) == b"abcd"


async def test_read_body_empty() -> None:
    receive = _receive_from([{"type": "http.request"}])
    assert await webhooks.read_body(receive, limit=0, timeout=1) == b""


async def test_content_length_over_limit_is_refused_before_reading() -> None:
    receive = _receive_from([])
    with pytest.raises(webhooks.BodyTooLarge, match=r"5 bytes .* limit of 4") as caught:
        await webhooks.read_body(receive, limit=4, timeout=1, headers={"Content-Length": "5"})
    assert caught.value.status == 413


async def test_streamed_body_over_limit_is_refused() -> None:
    receive = _receive_from([_chunk(b"abc"), _chunk(b"de"), _chunk(b"f", more=False)])
    with pytest.raises(webhooks.BodyTooLarge) as caught:
        await webhooks.read_body(receive, limit=4, timeout=1, headers={"content-length": "4"})
    assert caught.value.status == 413


@pytest.mark.parametrize("value", ["-1", "abc", "1e3", "", "99999999999999999999", "١٢"])
async def test_invalid_content_length(value: str) -> None:
    with pytest.raises(webhooks.WebhookRejected, match="invalid Content-Length") as caught:
        await webhooks.read_body(
            _receive_from([]), limit=4, timeout=1, headers={"Content-Length": value}
        )
    assert caught.value.status == 400


async def test_disconnect_before_end_of_body() -> None:
    receive = _receive_from([_chunk(b"ab"), {"type": "http.disconnect"}])
    with pytest.raises(webhooks.WebhookRejected, match="disconnected after 2 bytes"):
        await webhooks.read_body(receive, limit=10, timeout=1)


async def test_slow_body_times_out() -> None:
    async def receive() -> Mapping[str, object]:
        await asyncio.sleep(0.05)
        return _chunk(b"x")

    started = time.monotonic()
    with pytest.raises(webhooks.BodyTimeout, match=r"within 0.3 s \(\d+ bytes arrived\)") as caught:
        await webhooks.read_body(receive, limit=10_000, timeout=0.3)
    assert caught.value.status == 408
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(("limit", "timeout"), [(-1, 1.0), (10, 0.0), (10, -2.0)])
async def test_bad_limits_are_configuration_errors(limit: int, timeout: float) -> None:
    with pytest.raises(errors.ConfigError):
        await webhooks.read_body(_receive_from([]), limit=limit, timeout=timeout)


# --- end to end through Starlette on uvicorn -----------------------------------


def _event_json(event: webhooks.Event) -> dict[str, object]:
    if isinstance(event, webhooks.PushEvent):
        return {
            "kind": "push",
            "provider": str(event.provider),
            "ref": event.ref,
            "after": event.after,
            "repo_urls": sorted(event.repo_urls),
            "changed_paths": sorted(event.changed_paths or ()),
        }
    return {"kind": type(event).__name__, "provider": str(event.provider)}


async def _hook(request: Request) -> JSONResponse:
    try:
        body = await webhooks.read_body(
            request.receive, limit=LIMIT, timeout=TIMEOUT, headers=request.headers
        )
        provider = webhooks.detect(request.headers)
        if provider is None:
            return JSONResponse({"error": "not a webhook delivery"}, status_code=400)
        webhooks.verify(provider, request.headers, body, SECRET)
        parsed = webhooks.parse(provider, request.headers, body)
    except webhooks.WebhookRejected as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)
    return JSONResponse({"events": [_event_json(event) for event in parsed]})


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, int]]:
    app = Starlette(routes=[Route("/hooks", _hook, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    for _ in range(500):
        if uv.started:
            break
        await asyncio.sleep(0.01)
    assert uv.started
    try:
        yield "127.0.0.1", port
    finally:
        uv.should_exit = True
        await task
        sock.close()


def _github_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": "sha256=" + webhooks.sign(body, secret),
    }


async def test_http_signed_push_is_parsed(server: tuple[str, int]) -> None:
    host, port = server
    body = (GOLDEN / "github-push.json").read_bytes()
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        response = await client.post("/hooks", content=body, headers=_github_headers(body))
    assert response.status_code == 200, response.text
    (event,) = response.json()["events"]
    assert event["kind"] == "push" and event["ref"] == "refs/heads/main"
    assert event["repo_urls"] == ["github.com/octo-org/deploy"]
    assert "db/base/job-migrate.yaml" in event["changed_paths"]


async def test_http_bad_signature_and_malformed_payload(server: tuple[str, int]) -> None:
    host, port = server
    body = (GOLDEN / "github-push.json").read_bytes()
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        forged = await client.post("/hooks", content=body, headers=_github_headers(body, "guess"))
        broken = b'{"ref": 1}'
        malformed = await client.post("/hooks", content=broken, headers=_github_headers(broken))
    assert forged.status_code == 401
    assert SECRET not in forged.text and "guess" not in forged.text
    assert malformed.status_code == 400
    assert "github webhook payload: field ref must be a string" in malformed.json()["error"]


async def test_http_oversize_body_is_413(server: tuple[str, int]) -> None:
    host, port = server
    body = b"{" + b" " * LIMIT + b"}"

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        declared = await client.post("/hooks", content=body, headers=_github_headers(body))
        # No Content-Length: the limit is enforced while streaming.
        chunked = await client.post("/hooks", content=chunks(), headers=_github_headers(body))
    assert declared.status_code == 413, declared.text
    assert chunked.status_code == 413, chunked.text
    assert "exceeds the limit" in chunked.json()["error"]


async def test_http_slow_body_is_408_within_the_limit(server: tuple[str, int]) -> None:
    host, port = server
    body = (GOLDEN / "github-push.json").read_bytes()
    head = "".join(
        f"{name}: {value}\r\n"
        for name, value in (_github_headers(body) | {"Content-Length": str(len(body))}).items()
    )
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    writer.write(f"POST /hooks HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode())
    response = b""
    try:
        # Trickle the body, 16 bytes every 100 ms; the server must give up at TIMEOUT.
        for offset in range(0, len(body), 16):
            writer.write(body[offset : offset + 16])
            await writer.drain()
            try:
                response = await asyncio.wait_for(reader.read(4096), timeout=0.1)
            except TimeoutError:
                continue
            break
    finally:
        writer.close()
    elapsed = time.monotonic() - started
    status_line = response.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 408 Request Timeout", response[:200]
    assert TIMEOUT <= elapsed < TIMEOUT + 1.0
    assert json.loads(response.split(b"\r\n\r\n", 1)[1])["error"].startswith(
        "webhook body not received within 0.5 s"
    )
