"""Issue 11 point 5c inside a running agent: the store stops answering (here:
closed under it, every call then fails with StoreUnavailable as a database
gone away does) and comes back. In-process agent, real git, a SQLite store,
the API test server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gitward.config import settings as config_settings
from gitward.engine import loop, runtimes, storage
from gitward.store import base as store_base
from gitward.store import storing
from tests.engine.test_agent_status import APP, configmap
from tests.engine.test_rollbacks import eventually
from tests.fixtures import Git, create_namespace, kget

pytestmark = pytest.mark.slow


@pytest.fixture
async def agent(git: Git, cluster: Any, tmp_path: Path) -> AsyncIterator[loop.Agent]:
    create_namespace(cluster, "st")
    settings = config_settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
            "root": {"repoURL": git.url, "ref": "main", "path": "apps"},
            "cacheDir": str(tmp_path / "cache"),
            "pollInterval": "0.3s",
            "store": f"sqlite:///{tmp_path / 'state.db'}",
        }
    )
    store = storing.SqlStore(settings.store)
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        running = loop.Agent(settings, runtime, store)
        task = asyncio.create_task(running.run())
        try:
            yield running
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await store.close()


def value(cluster: Any, name: str) -> str | None:
    found = kget(cluster, "-n", "st", "configmap", name)
    return found["data"]["v"] if found else None


async def test_a_store_outage_is_named_retried_and_survived(
    git: Git, cluster: Any, agent: loop.Agent
) -> None:
    git.commit(
        "web",
        {
            "apps/web.yaml": APP.format(name="web", url=git.url, extra=""),
            "web/cm.yaml": configmap("web"),
        },
    )
    await eventually(lambda: value(cluster, "web") == "x", "first sync")
    assert agent.problem == ""

    await agent.store.close()
    git.commit(
        "v2 and a new app",
        {
            "web/cm.yaml": configmap("web").replace("v: x", "v: y"),
            "apps/api.yaml": APP.format(name="api", url=git.url, extra=""),
            "api/cm.yaml": configmap("api"),
        },
    )
    await eventually(lambda: agent.problem.startswith("store unavailable: "), "the outage seen")
    assert agent.store.display_url in agent.problem  # type: ignore[attr-defined]
    await eventually(lambda: "api" in agent.apps, "the new app loaded from the root")
    await asyncio.sleep(1.5)
    # Nothing is synced while the sync cannot be recorded.
    assert value(cluster, "web") == "x" and value(cluster, "api") is None

    await agent.store.open()
    await eventually(lambda: value(cluster, "web") == "y", "v2 applied once the store answers")
    await eventually(lambda: value(cluster, "api") == "x", "the new app synced")
    await eventually(lambda: agent.problem == "", "healthy again")
    web = await agent.store.get_status("web")
    assert web is not None and web.sync.value == "Synced"


async def test_store_errors_back_off_doubling_up_to_the_cap() -> None:
    health = storage.StoreHealth()
    delays = [health.failed(store_base.StoreUnavailable(f"store x: {n}")) for n in range(8)]
    assert 0.9 <= delays[0] <= 1.1 and 1.8 <= delays[1] <= 2.2 and 3.6 <= delays[2] <= 4.4
    assert (
        all(d <= storage.MAX_DELAY * 1.1 for d in delays) and delays[-1] >= storage.MAX_DELAY * 0.9
    )
    same = store_base.StoreUnavailable("store x: again")
    health.failed(same)
    failures = health.failures
    health.failed(same)  # re-raised through a layer: counted once
    assert health.failures == failures and health.problem == "store x: again"
    health.succeeded()
    assert health.problem == "" and health.failures == 0
