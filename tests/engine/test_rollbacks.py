"""Rollback end to end with an in-process agent: revert pushed to Git, or pin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gitward import errors
from gitward.config import settings as config_settings
from gitward.engine import loop, runtimes, states
from gitward.testing import stores
from tests.fixtures import Git, create_namespace, kget

pytestmark = pytest.mark.slow

APP = """\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: web}}
spec:
  source: {{repoURL: "{url}", ref: main, path: web}}
  destination: {{target: test, namespace: rb}}
  syncPolicy: {{automated: {{prune: true, selfHeal: true}}}}
"""


def configmap(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  v: '{value}'\n"


async def eventually(check: Callable[[], Awaitable[bool]] | Callable[[], bool], what: str) -> None:
    for _ in range(300):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


@pytest.fixture
async def running(git: Git, cluster: Any, tmp_path: Path) -> AsyncIterator[loop.Agent]:
    create_namespace(cluster, "rb")
    settings = config_settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
            "root": {"repoURL": git.url, "ref": "main", "path": "apps"},
            "cacheDir": str(tmp_path / "cache"),
            "pollInterval": "0.3s",
        }
    )
    store = stores.MemoryStore()
    await store.open()
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        agent = loop.Agent(settings, runtime, store)  # type: ignore[arg-type]
        task = asyncio.create_task(agent.run())
        try:
            yield agent
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def live_value(cluster: Any) -> str | None:
    obj = kget(cluster, "-n", "rb", "configmap", "web")
    return obj["data"]["v"] if obj else None


async def test_rollback_reverts_the_breaking_commits_in_git(
    git: Git, cluster: Any, running: loop.Agent
) -> None:
    git.commit("good", {"apps/web.yaml": APP.format(url=git.url), "web/cm.yaml": configmap("good")})
    await eventually(lambda: live_value(cluster) == "good", "good applied")
    git.commit("unrelated", {"docs/readme.md": "hello"})
    bad = git.commit("bad", {"web/cm.yaml": configmap("bad")})
    await eventually(lambda: live_value(cluster) == "bad", "bad applied")

    result = await running.rollback("web")
    assert result.mode == "revert"
    assert result.reverted == (bad,)
    await eventually(lambda: live_value(cluster) == "good", "rollback applied")
    git.run("pull", "-q", "origin", "main")
    log = git.run("log", "-1", "--format=%s%n%b")
    assert f"This reverts commit {bad}." in log
    assert (git.work / "docs/readme.md").exists()  # only the breaking commit was undone


async def test_rollback_to_pins_until_released(git: Git, cluster: Any, running: loop.Agent) -> None:
    good = git.commit(
        "good", {"apps/web.yaml": APP.format(url=git.url), "web/cm.yaml": configmap("good")}
    )
    await eventually(lambda: live_value(cluster) == "good", "good applied")
    git.commit("bad", {"web/cm.yaml": configmap("bad")})
    await eventually(lambda: live_value(cluster) == "bad", "bad applied")

    result = await running.rollback("web", to=good)
    assert (result.mode, result.revision) == ("pin", good)
    assert live_value(cluster) == "good"
    state = running.apps["web"]
    assert state.conditions[states.PINNED].status
    git.commit("newer", {"web/cm.yaml": configmap("newer")})
    await asyncio.sleep(1.5)
    assert live_value(cluster) == "good"  # pinned: new commits wait
    await running.unpin("web")
    await eventually(lambda: live_value(cluster) == "newer", "applied after release")


async def test_rollback_without_history_says_what_to_do(
    git: Git, cluster: Any, running: loop.Agent
) -> None:
    git.commit("only", {"apps/web.yaml": APP.format(url=git.url), "web/cm.yaml": configmap("1")})
    await eventually(lambda: live_value(cluster) == "1", "applied")
    with pytest.raises(errors.ConfigError, match="no earlier successful sync"):
        await running.rollback("web")
