"""Replicas behind one API: every replica answers reads, an action on an
Application another replica owns is carried out by that owner (or answered
503 naming it when it cannot be reached), and a webhook received by one
replica reaches the others.

Two real agents in one process share a store and the API test server,
coordinate through the in-memory coordinator on the real clock, and serve
their APIs on real ports."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from gitward import web
from gitward.api import app as api_app
from gitward.api import auth
from gitward.config import settings as config_settings
from gitward.engine import loop, replicas, runtimes
from gitward.model import coordination
from gitward.source import webhooks
from gitward.testing import coordinators, stores
from tests.api.conftest import TOKENS, application, secret_of
from tests.fixtures import Git

pytestmark = pytest.mark.slow

TIMINGS = coordination.Timings(lease_duration=1.5, renew_deadline=1.0, retry_period=0.2)
NAMES = [f"app-{i}" for i in range(6)]
GOLDEN = Path(__file__).parent.parent / "golden" / "webhooks"
HOOK_SECRET = "fan-out-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Replica:
    name: str
    url: str
    agent: loop.Agent
    shard: replicas.Replicas
    server: uvicorn.Server
    tasks: list[asyncio.Task[Any]]
    pushes: list[webhooks.PushEvent]

    def client(self, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {secret_of(token)}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    async def stop_serving(self) -> None:
        self.server.should_exit = True
        await asyncio.wait({self.tasks[1]}, timeout=10)
        assert self.tasks[1].done(), "the API server did not stop"


@pytest.fixture
async def pair(
    git: Git, cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, Replica]]:
    monkeypatch.setenv("GW_TEST_HOOK", HOOK_SECRET)
    files = {f"apps/{n}.yaml": application(n, git.url, n) for n in NAMES}
    files.update(
        {
            f"{n}/cm.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\n"
            for n in NAMES
        }
    )
    git.commit("six apps", files)
    store = stores.MemoryStore()
    await store.open()
    for name, (role, projects) in TOKENS.items():
        await store.save_token(
            name, auth.hash_token(secret_of(name)), role, projects, datetime.now(UTC)
        )
    board = coordinators.Board(TIMINGS, time.monotonic)
    made: dict[str, Replica] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name in ("a", "b"):
            port = _free_port()
            settings = config_settings.parse(
                {
                    "targets": {"test": {"kubeconfig": str(cluster.kubeconfig_path)}},
                    "root": {"repoURL": git.url, "ref": "main", "path": "apps"},
                    "cacheDir": str(tmp_path / name),
                    "pollInterval": "0.5s",
                    "webhooks": [{"url": "*", "secretEnv": "GW_TEST_HOOK"}],
                },
                "test settings",
            )
            runtime = await stack.enter_async_context(
                runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings))
            )
            shard = replicas.Replicas(
                board.coordinator(name, f"http://127.0.0.1:{port}"), balance=0.25
            )
            agent = loop.Agent(
                settings,
                runtime,
                store,
                options=loop.AgentOptions(workers=2, poll_interval=0.5),
                owner=shard,
            )
            pushes: list[webhooks.PushEvent] = []
            received = agent.push

            async def record(
                event: webhooks.PushEvent,
                pushes: list[webhooks.PushEvent] = pushes,
                received: Any = received,
            ) -> list[str]:
                pushes.append(event)
                queued: list[str] = await received(event)
                return queued

            agent.push = record  # type: ignore[method-assign]
            server = uvicorn.Server(
                uvicorn.Config(
                    api_app.create(agent, settings, extra_routes=web.routes(agent, settings)),
                    host="127.0.0.1",
                    port=port,
                    log_level="warning",
                    lifespan="off",
                    timeout_graceful_shutdown=1,
                )
            )
            tasks = [asyncio.create_task(agent.run()), asyncio.create_task(server.serve())]
            made[name] = Replica(
                name, f"http://127.0.0.1:{port}", agent, shard, server, tasks, pushes
            )
        try:
            for replica in made.values():
                while not replica.server.started:
                    assert not replica.tasks[1].done(), "uvicorn did not start"
                    await asyncio.sleep(0.02)
            deadline = time.monotonic() + 30
            while not all(
                len(r.shard.membership.shard()) > 0
                and all(r.shard.owns(n) for n in r.shard.membership.shard())
                for r in made.values()
            ):
                assert time.monotonic() < deadline, "shards not settled"
                await asyncio.sleep(0.1)
            yield made
        finally:
            # The agents first (their leases released), then the servers, each
            # within a bound: a stuck shutdown fails the test rather than hanging it.
            for replica in made.values():
                replica.tasks[0].cancel()
                replica.server.should_exit = True
            tasks = [task for replica in made.values() for task in replica.tasks]
            _, pending = await asyncio.wait(tasks, timeout=20)
            for task in pending:
                task.cancel()
            assert not pending, f"did not stop: {[t.get_coro() for t in pending]}"


def _owned_by(replica: Replica) -> str:
    return sorted(replica.shard.membership.shard())[0]


async def test_an_action_is_carried_out_by_the_owner(pair: dict[str, Replica]) -> None:
    a, b = pair["a"], pair["b"]
    app = _owned_by(a)
    async with b.client("admin-all") as client:
        answer = await client.post(f"/api/v1/applications/{app}/refresh")
        assert answer.status_code == 202, answer.text
        assert answer.headers["X-Gitward-Replica"] == "a"
        assert answer.json() == {"app": app, "queued": True}
        suspended = await client.post(f"/api/v1/applications/{app}/suspend")
        assert suspended.status_code == 200, suspended.text
        assert suspended.headers["X-Gitward-Replica"] == "a"
        assert a.agent.apps[app].suspended  # the owner's state, not b's
        # b shows it too, from the store.
        deadline = time.monotonic() + 10
        while not (await client.get(f"/api/v1/applications/{app}")).json()["suspended"]:
            assert time.monotonic() < deadline, "b never showed the suspension"
            await asyncio.sleep(0.1)
        resumed = await client.post(f"/api/v1/applications/{app}/resume")
        assert resumed.status_code == 200 and not a.agent.apps[app].suspended
        # Its own Applications, b carries out itself.
        mine = await client.post(f"/api/v1/applications/{_owned_by(b)}/refresh")
        assert mine.status_code == 202 and "X-Gitward-Replica" not in mine.headers
    # Authorisation is checked where the request arrives, and again by the owner.
    async with b.client(None) as anonymous:
        refused = await anonymous.post(f"/api/v1/applications/{app}/refresh")
        assert refused.status_code == 401
    async with b.client("reader-all") as reader:
        refused = await reader.post(f"/api/v1/applications/{app}/sync")
        assert refused.status_code == 403
    # A request already forwarded is never forwarded again.
    async with b.client("admin-all") as client:
        again = await client.post(
            f"/api/v1/applications/{app}/refresh", headers={"X-Gitward-Forwarded-By": "c"}
        )
        assert again.status_code == 503
        assert "reconciled by replica a" in again.json()["error"]["message"]


async def test_an_owner_that_cannot_be_reached_is_named_in_a_503(
    pair: dict[str, Replica],
) -> None:
    a, b = pair["a"], pair["b"]
    app = _owned_by(a)
    await a.stop_serving()  # a still holds its lease, but its API is gone
    async with b.client("admin-all") as client:
        answer = await client.post(f"/api/v1/applications/{app}/sync", json={})
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["reason"] == "OwnerUnavailable"
    assert f"Application {app} is reconciled by replica a at {a.url}" in error["message"]
    assert "cannot be reached" in error["message"]


async def test_the_replicas_view_from_any_replica(pair: dict[str, Replica]) -> None:
    for replica in pair.values():
        async with replica.client("team-reader") as client:
            data = (await client.get("/api/v1/replicas")).json()
        assert data["enabled"] is True and data["identity"] == replica.name
        declared = len(replica.agent.apps)
        assert declared >= len(NAMES)
        assert data["applications"] == declared and data["unowned"] == 0
        members = {m["identity"]: m for m in data["members"]}
        assert set(members) == {"a", "b"}
        assert sum(m["owned"] for m in members.values()) == declared
        assert members[replica.name]["me"] and members[replica.name]["fence"] == data["fence"]
        assert members["a"]["address"] == pair["a"].url
        assert data["timings"] == {"leaseDuration": 1.5, "renewDeadline": 1.0, "retryPeriod": 0.2}
        # The UI page shows the same view.
        cookies = {"gitward_session": secret_of("team-reader")}
        async with httpx.AsyncClient(base_url=replica.url, cookies=cookies) as browser:
            page = await browser.get("/replicas")
        assert page.status_code == 200, page.text
        assert f"served by <strong>{replica.name}</strong>" in page.text
        for member in members.values():
            assert f'id="member-{member["identity"]}"' in page.text
            assert f"<td>{member['owned']}</td>" in page.text


async def test_a_webhook_received_by_one_replica_reaches_the_other(
    pair: dict[str, Replica],
) -> None:
    a, b = pair["a"], pair["b"]
    body = (GOLDEN / "github-push.json").read_bytes()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": "sha256=" + webhooks.sign(body, HOOK_SECRET),
    }
    async with b.client(None) as client:
        answer = await client.post("/api/v1/webhooks", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 10
        while not a.pushes:
            assert time.monotonic() < deadline, "the webhook never reached a"
            await asyncio.sleep(0.05)
        assert a.pushes[0].ref == "refs/heads/main"
        await asyncio.sleep(0.5)
        assert len(b.pushes) == 1 and len(a.pushes) == 1  # a did not pass it back
        # A forged delivery passed on is verified (and refused) by the receiver.
        forged = await client.post(
            "/api/v1/webhooks",
            content=body,
            headers={**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64},
        )
        assert forged.status_code in (401, 403), forged.text
    await asyncio.sleep(0.3)
    assert len(a.pushes) == 1
