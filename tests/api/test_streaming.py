"""The live stream over a real uvicorn server: snapshot, live status and events,
heartbeats, resuming with Last-Event-ID, Project filtering, slow clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from gitward.api import auth
from tests.api.conftest import ServeFactory, assert_no_canary, secret_of


@dataclass
class Message:
    event: str
    data: Any
    id: int | None
    raw: str


async def messages(response: httpx.Response) -> AsyncIterator[Message]:
    """SSE messages, heartbeats included (as event 'heartbeat')."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if line:
            lines.append(line)
            continue
        if not lines:
            continue
        fields: dict[str, str] = {}
        for item in lines:
            if item.startswith(":"):
                fields.setdefault("comment", item[1:].strip())
            else:
                name, _, value = item.partition(": ")
                fields[name] = value
        raw = "\n".join(lines)
        lines = []
        if "event" in fields:
            yield Message(
                fields["event"],
                json.loads(fields["data"]),
                int(fields["id"]) if "id" in fields else None,
                raw,
            )
        elif fields.get("comment") == "heartbeat":
            yield Message("heartbeat", None, None, raw)


async def collect_until(
    stream: AsyncIterator[Message], done: Any, timeout: float = 15
) -> list[Message]:
    seen: list[Message] = []

    async def run() -> None:
        async for message in stream:
            seen.append(message)
            if done(seen):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        raise AssertionError(f"stream did not deliver in time: {[m.raw for m in seen]}") from None
    return seen


def headers(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret_of(token)}", **more}


async def test_stream_sends_snapshot_changes_events_and_heartbeats(serve: ServeFactory) -> None:
    served = await serve(heartbeat=0.3)
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        async with client.stream(
            "GET", "/api/v1/stream", headers=headers("team-reader")
        ) as response:
            assert response.status_code == 200
            stream = messages(response)
            first = await collect_until(stream, lambda seen: seen[-1].event == "app")
            assert first[-1].data["name"] == "billing"

            sync = await client.post(
                "/api/v1/applications/billing/sync", json={}, headers=headers("team-admin")
            )
            assert sync.status_code == 200
            seen = await collect_until(
                stream,
                lambda seen: (
                    any(m.event == "event" and m.data["reason"] == "SyncSucceeded" for m in seen)
                    and any(m.event == "app" and m.data["sync"]["status"] == "Synced" for m in seen)
                ),
            )
            # Project filtering: the team's token never hears of web.
            assert {m.data["app"] for m in seen if m.event == "event"} == {"billing"}
            assert {m.data["name"] for m in seen if m.event == "app"} == {"billing"}
            ids = [m.id for m in seen if m.event == "event"]
            assert all(i is not None for i in ids) and ids == sorted(ids)
            for message in seen:
                assert_no_canary(message.raw, "stream")
            await collect_until(stream, lambda seen: seen[-1].event == "heartbeat", timeout=5)
            synced_event = next(
                m for m in seen if m.event == "event" and m.data["reason"] == "SyncSucceeded"
            )

        # Reconnecting with the last id seen before the sync replays what was missed.
        async with client.stream(
            "GET",
            "/api/v1/stream?app=billing",
            headers=headers("team-reader", **{"Last-Event-ID": str(synced_event.id - 1)}),
        ) as again:
            replayed = await collect_until(
                messages(again), lambda seen: any(m.event == "event" for m in seen)
            )
            assert next(m for m in replayed if m.event == "event").id == synced_event.id
    await served.until(lambda: served.app.state.hub.clients == 0, "streams closed")


async def test_one_app_stream_and_deleted_apps(serve: ServeFactory) -> None:
    served = await serve(heartbeat=0.3)
    async with (
        httpx.AsyncClient(base_url=served.url, timeout=30) as client,
        client.stream("GET", "/api/v1/stream?app=web", headers=headers("reader-all")) as response,
    ):
        stream = messages(response)
        await collect_until(stream, lambda seen: seen[-1].event == "app")
        served.git.commit("drop web", {"apps/web.yaml": None})
        seen = await collect_until(
            stream, lambda seen: any(m.data == {"name": "web", "deleted": True} for m in seen)
        )
        # Heartbeats (no data) may come between the messages.
        named = {m.data.get("name") or m.data.get("app") for m in seen if m.data is not None}
        assert named == {"web"}


async def flood(served: Any, hub: Any, client: Any) -> None:
    """Publish changes one at a time until ``client``'s queue overflows."""
    for _ in range(10):
        before = client.queue.qsize()
        hub.changed("web")
        await served.until(
            lambda before=before: client.dropped or client.queue.qsize() > before,
            "the hub to publish",
        )
        if client.dropped:
            return
    raise AssertionError("the client's queue never overflowed")


async def test_slow_client_is_dropped_with_a_reason(serve: ServeFactory) -> None:
    served = await serve(queue_size=2)
    hub = served.app.state.hub
    principal = auth.Principal("reader-all", auth.Role.READ_ONLY, ("*",))
    client = await hub.connect(principal, None)
    await flood(served, hub, client)
    received = [text async for text in hub.messages(client, [])]
    assert received[-1].startswith("event: error\n")
    assert '"reason":"SlowClient"' in received[-1]
    assert hub.clients == 0
    # Others are unaffected: a new client connects and is served.
    fresh = await hub.connect(principal, None)
    hub.changed("web")
    await served.until(lambda: not fresh.queue.empty(), "a message to the new client")
    hub.disconnect(fresh)


async def test_abandoned_dropped_clients_are_forgotten(serve: ServeFactory) -> None:
    served = await serve(queue_size=1)
    hub = served.app.state.hub
    principal = auth.Principal("reader-all", auth.Role.READ_ONLY, ("*",))
    reading = await hub.connect(principal, None)
    abandoned = await hub.connect(principal, None)
    await flood(served, hub, abandoned)
    assert reading.dropped
    reading.dropped_at = abandoned.dropped_at = 0.0  # long ago
    listener = await hub.connect(principal, "billing")
    hub.changed("billing")
    await served.until(lambda: not listener.queue.empty(), "the next publish")
    assert hub.clients == 1
    hub.disconnect(listener)


async def test_a_token_revoked_while_streaming_stops_receiving(serve: ServeFactory) -> None:
    # Issue 11 (6c): the API stream once kept sending to a revoked token.
    served = await serve(heartbeat=5.0)
    async with (
        httpx.AsyncClient(base_url=served.url, timeout=30) as client,
        client.stream("GET", "/api/v1/stream", headers=headers("reader-all")) as response,
    ):
        stream = messages(response)
        await collect_until(stream, lambda seen: seen[-1].event == "app")
        assert await served.store.delete_token("reader-all")
        sync = await client.post(
            "/api/v1/applications/billing/sync", json={}, headers=headers("admin-all")
        )
        assert sync.status_code == 200
        after = await collect_until(stream, lambda seen: seen[-1].event == "error")
        assert not [m for m in after if m.event == "event" and m.data["app"] == "billing"]
        assert after[-1].data["reason"] == "Unauthorized"
        assert "revoked" in after[-1].data["message"]
        assert [m async for m in stream] == []  # the stream ended
    await served.until(lambda: served.app.state.hub.clients == 0, "stream closed")
