"""Server-sent events of the UI: message framing, fan-out, coalescing, de-duplication."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gitward.web import streaming


def test_event_framing_splits_lines() -> None:
    assert streaming.event("status", "<p>a</p>\r\n<p>b</p>") == (
        b"event: status\ndata: <p>a</p>\ndata: <p>b</p>\n\n"
    )


async def test_stream_renders_once_per_burst_and_skips_unchanged_fragments() -> None:
    hub = streaming.Hub()
    calls: list[frozenset[str] | None] = []
    version = {"web": 0}

    async def render(changed: frozenset[str] | None) -> Sequence[tuple[str, str]]:
        calls.append(changed)
        return [("status", f"v{version['web']}"), ("static", "same")]

    body = streaming.stream(hub, render, keepalive=0.05, coalesce=0.02)
    assert await anext(body) == b"retry: 2000\n\n"
    assert await anext(body) == streaming.event("status", "v0")
    assert await anext(body) == streaming.event("static", "same")
    assert hub.listeners == 1
    assert await anext(body) == b": keep-alive\n\n"

    version["web"] = 1
    nxt = asyncio.ensure_future(anext(body))
    await asyncio.sleep(0)
    for _ in range(5):  # a burst: one render
        hub.notify("web")
    hub.notify("db")
    assert await nxt == streaming.event("status", "v1")  # "static" unchanged: not sent
    assert calls == [None, frozenset({"web", "db"})]

    hub.notify("web")  # nothing changed in the fragments: only keep-alives follow
    assert await anext(body) == b": keep-alive\n\n"
    await body.aclose()
    assert hub.listeners == 0


async def test_stream_ends_when_the_session_is_no_longer_allowed() -> None:
    hub = streaming.Hub()
    verdicts = [True, False]

    async def render(changed: frozenset[str] | None) -> Sequence[tuple[str, str]]:
        return [("status", str(sorted(changed or ())))]

    async def allowed() -> bool:
        return verdicts.pop(0)

    body = streaming.stream(
        hub, render, allowed=allowed, ended=("notice", "bye"), keepalive=5, coalesce=0
    )
    assert await anext(body) == b"retry: 2000\n\n"
    assert await anext(body) == streaming.event("status", "[]")
    nxt = asyncio.ensure_future(anext(body))
    await asyncio.sleep(0)
    hub.notify("web")
    assert await nxt == streaming.event("status", "['web']")
    nxt = asyncio.ensure_future(anext(body))
    await asyncio.sleep(0)
    hub.notify("web")
    assert await nxt == streaming.event("notice", "bye")
    assert [chunk async for chunk in body] == []
    assert hub.listeners == 0
