"""Watch semantics: initial events, resume by resourceVersion, 410 Gone, bookmarks, selectors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gitward.testing import kubeapi

from .objects import CM_PATH, MERGE, configmap, create_namespace


class _Events:
    """Reads watch events from a streaming response in the background."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for line in self.response.aiter_lines():
                if line.strip():
                    await self.queue.put(json.loads(line))
        finally:
            await self.queue.put(None)

    async def next(self, timeout: float = 3.0) -> dict[str, Any] | None:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def take(self, n: int) -> list[tuple[str, str]]:
        out = []
        for _ in range(n):
            event = await self.next()
            assert event is not None, "stream ended early"
            out.append((event["type"], event["object"]["metadata"].get("name", "")))
        return out


@pytest.fixture
async def watch(client: httpx.AsyncClient) -> AsyncIterator[Any]:
    opened: list[tuple[Any, _Events]] = []

    async def open_watch(path: str, **params: str) -> _Events:
        request = client.build_request("GET", path, params={"watch": "true", **params})
        response = await client.send(request, stream=True)
        assert response.status_code == 200
        events = _Events(response)
        opened.append((response, events))
        return events

    yield open_watch
    for response, events in opened:
        events.task.cancel()
        await response.aclose()


async def test_watch_without_version_starts_with_current_objects(
    client: httpx.AsyncClient, watch: Any
) -> None:
    await client.post(CM_PATH, json=configmap("a"))
    events = await watch(CM_PATH)
    assert await events.take(1) == [("ADDED", "a")]
    await client.post(CM_PATH, json=configmap("b"))
    await client.patch(f"{CM_PATH}/a", json={"data": {"k": "v"}}, headers=MERGE)
    await client.delete(f"{CM_PATH}/b")
    assert await events.take(3) == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]


async def test_watch_resumes_after_resource_version(client: httpx.AsyncClient, watch: Any) -> None:
    first = (await client.post(CM_PATH, json=configmap("a"))).json()
    await client.post(CM_PATH, json=configmap("b"))
    await client.delete(f"{CM_PATH}/a")
    events = await watch(CM_PATH, resourceVersion=first["metadata"]["resourceVersion"])
    got = await events.take(2)
    assert got == [("ADDED", "b"), ("DELETED", "a")]


async def test_deleted_event_carries_deletion_revision(
    client: httpx.AsyncClient, watch: Any
) -> None:
    created = (await client.post(CM_PATH, json=configmap("a"))).json()
    events = await watch(CM_PATH, resourceVersion=created["metadata"]["resourceVersion"])
    await client.delete(f"{CM_PATH}/a")
    event = await events.next()
    assert event is not None
    assert event["type"] == "DELETED"
    assert int(event["object"]["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )


async def test_too_old_resource_version_is_gone() -> None:
    async with (
        kubeapi.KubeAPIServer(history_size=5) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        first = (await client.post(CM_PATH, json=configmap("cm-0"))).json()
        for i in range(1, 10):
            await client.post(CM_PATH, json=configmap(f"cm-{i}"))
        response = await client.get(
            CM_PATH,
            params={"watch": "1", "resourceVersion": first["metadata"]["resourceVersion"]},
        )
        lines = [json.loads(line) for line in response.text.splitlines() if line]
        assert len(lines) == 1
        assert lines[0]["type"] == "ERROR"
        status = lines[0]["object"]
        assert status["code"] == 410
        assert status["reason"] == "Expired"
        assert status["message"].startswith("too old resource version")
        page = (await client.get(CM_PATH, params={"limit": "2"})).json()
        for i in range(10, 20):
            await client.post(CM_PATH, json=configmap(f"cm-{i}"))
        expired = await client.get(
            CM_PATH, params={"limit": "2", "continue": page["metadata"]["continue"]}
        )
        assert expired.status_code == 410
        assert expired.json()["reason"] == "Expired"


async def test_too_large_resource_version_is_a_timeout_naming_it(
    client: httpx.AsyncClient, watch: Any
) -> None:
    # As after an etcd restore: a client resumes from a version the server
    # never reached. kube-apiserver answers 504 Timeout, cause
    # ResourceVersionTooLarge, once its 3 s wait for that version is over.
    created = (await client.post(CM_PATH, json=configmap("a"))).json()
    current = int(created["metadata"]["resourceVersion"])
    started = asyncio.get_running_loop().time()
    response = await client.get(CM_PATH, params={"watch": "1", "resourceVersion": "999999"})
    waited = asyncio.get_running_loop().time() - started
    lines = [json.loads(line) for line in response.text.splitlines() if line]
    assert [line["type"] for line in lines] == ["ERROR"]
    status = lines[0]["object"]
    assert (status["kind"], status["status"], status["code"]) == ("Status", "Failure", 504)
    assert status["reason"] == "Timeout"
    assert status["message"] == (f"Timeout: Too large resource version: 999999, current: {current}")
    assert status["details"]["causes"] == [
        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
    ]
    assert status["details"]["retryAfterSeconds"] == 1
    assert waited >= 2.5

    # A version the server reaches while waiting is served as usual.
    events = await watch(CM_PATH, resourceVersion=str(current + 1))
    await client.post(CM_PATH, json=configmap("b"))
    await client.post(CM_PATH, json=configmap("c"))
    assert await events.take(1) == [("ADDED", "c")]


async def test_bookmarks_and_initial_events_end() -> None:
    async with (
        kubeapi.KubeAPIServer(bookmark_interval=0.05) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        await client.post(CM_PATH, json=configmap("a"))
        params = {
            "watch": "1",
            "allowWatchBookmarks": "true",
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "timeoutSeconds": "0.3",
        }
        response = await client.get(CM_PATH, params=params)
        lines = [json.loads(line) for line in response.text.splitlines() if line]
        assert lines[0]["type"] == "ADDED"
        assert lines[1]["type"] == "BOOKMARK"
        assert lines[1]["object"]["metadata"]["annotations"] == {
            "k8s.io/initial-events-end": "true"
        }
        assert lines[1]["object"]["kind"] == "ConfigMap"
        periodic = [e for e in lines[2:] if e["type"] == "BOOKMARK"]
        assert periodic, "expected periodic bookmarks within the timeout"


async def test_label_selector_transitions(client: httpx.AsyncClient, watch: Any) -> None:
    events = await watch(CM_PATH, labelSelector="app=web")
    await client.post(CM_PATH, json=configmap("a", labels={"app": "db"}))
    await client.patch(f"{CM_PATH}/a", json={"metadata": {"labels": {"app": "web"}}}, headers=MERGE)
    await client.patch(f"{CM_PATH}/a", json={"data": {"x": "1"}}, headers=MERGE)
    await client.patch(f"{CM_PATH}/a", json={"metadata": {"labels": {"app": "db"}}}, headers=MERGE)
    assert await events.take(3) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


async def test_namespace_and_all_namespaces_watches(client: httpx.AsyncClient, watch: Any) -> None:
    await create_namespace(client, "other")
    in_default = await watch(CM_PATH, resourceVersion="1")
    everywhere = await watch("/api/v1/configmaps", resourceVersion="1")
    await client.post("/api/v1/namespaces/other/configmaps", json=configmap("x"))
    await client.post(CM_PATH, json=configmap("y"))
    assert await everywhere.take(2) == [("ADDED", "x"), ("ADDED", "y")]
    assert await in_default.take(1) == [("ADDED", "y")]


async def test_watch_single_object_by_field_selector(client: httpx.AsyncClient, watch: Any) -> None:
    await client.post(CM_PATH, json=configmap("a"))
    await client.post(CM_PATH, json=configmap("b"))
    events = await watch(CM_PATH, fieldSelector="metadata.name=b")
    assert await events.take(1) == [("ADDED", "b")]
    await client.patch(f"{CM_PATH}/a", json={"data": {"x": "1"}}, headers=MERGE)
    await client.patch(f"{CM_PATH}/b", json={"data": {"x": "1"}}, headers=MERGE)
    assert await events.take(1) == [("MODIFIED", "b")]


async def test_watch_timeout_ends_stream(client: httpx.AsyncClient) -> None:
    response = await client.get(CM_PATH, params={"watch": "true", "timeoutSeconds": "0.1"})
    assert response.status_code == 200
    assert response.text == ""


async def test_table_watch_sends_headers_once(client: httpx.AsyncClient) -> None:
    await client.post(CM_PATH, json=configmap("a"))
    await client.post(CM_PATH, json=configmap("b"))
    response = await client.get(
        CM_PATH,
        params={"watch": "true", "timeoutSeconds": "0.1"},
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )
    events = [json.loads(line) for line in response.text.splitlines() if line]
    assert [e["object"]["kind"] for e in events] == ["Table", "Table"]
    assert events[0]["object"]["columnDefinitions"]
    assert events[1]["object"]["columnDefinitions"] == []
    assert events[1]["object"]["rows"][0]["cells"][0] == "b"


async def test_many_watchers_all_get_the_event(
    server: kubeapi.KubeAPIServer, client: httpx.AsyncClient
) -> None:
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=10) as many:
        requests = [
            many.build_request("GET", CM_PATH, params={"watch": "1", "resourceVersion": "1"})
            for _ in range(100)
        ]
        responses = await asyncio.gather(*(many.send(r, stream=True) for r in requests))
        await client.post(CM_PATH, json=configmap("a"))

        async def first_line(response: httpx.Response) -> dict[str, Any]:
            async for line in response.aiter_lines():
                if line:
                    return dict(json.loads(line))
            raise AssertionError("no event")

        events = await asyncio.wait_for(asyncio.gather(*(first_line(r) for r in responses)), 5)
        assert {e["object"]["metadata"]["name"] for e in events} == {"a"}
        for response in responses:
            await response.aclose()
    bucket = server.store.bucket("", "configmaps")
    for _ in range(200):
        if not bucket.watchers:
            break
        await asyncio.sleep(0.01)
    assert bucket.watchers == set()
