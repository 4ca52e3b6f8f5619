"""The agent follows charts: a newer version in a Helm repository is picked up by
polling; a push to the Git repository holding the values triggers the Application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gitward.api import views
from gitward.config import settings as config_settings
from gitward.engine import loop, runtimes
from gitward.model import operations
from gitward.source import webhooks
from gitward.testing import stores
from tests import chartrepos
from tests.engine.test_rollbacks import eventually
from tests.fixtures import Git, create_namespace, kget

pytestmark = pytest.mark.slow

APP = """\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: ingress}}
spec:
  sources:
    - {{repoURL: "{charts}", chart: ingress, version: ">=4.10 <5"}}
    - {{repoURL: "{git}", ref: main, name: values}}
  render: {{helm: {{valueFiles: [$values/values/ingress.yaml]}}}}
  destination: {{target: test, namespace: web}}
  syncPolicy: {{automated: {{prune: true}}}}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[chartrepos.HelmRepo]:
    with chartrepos.serving(tmp_path / "served") as served:
        served.add(chartrepos.package(tmp_path, "ingress", "4.10.0", destination=tmp_path / "d"))
        yield served


@pytest.fixture
async def agent(
    git: Git, cluster: Any, tmp_path: Path, repo: chartrepos.HelmRepo, request: Any
) -> AsyncIterator[loop.Agent]:
    create_namespace(cluster, "web")
    git.commit(
        "apps",
        {
            "apps/ingress.yaml": APP.format(charts=repo.url, git=git.url),
            "values/ingress.yaml": "greeting: first\n",
        },
    )
    settings = config_settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
            "root": {"repoURL": git.url, "ref": "main", "path": "apps"},
            "cacheDir": str(tmp_path / "cache"),
            "pollInterval": request.param,
        }
    )
    store = stores.MemoryStore()
    await store.open()
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        running = loop.Agent(settings, runtime, store)  # type: ignore[arg-type]
        task = asyncio.create_task(running.run())
        try:
            yield running
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def live(cluster: Any, field: str) -> str | None:
    obj = kget(cluster, "-n", "web", "configmap", "ingress-settings")
    return obj["data"][field] if obj else None


@pytest.mark.parametrize("agent", ["0.3s"], indirect=True)
async def test_agent_polls_for_new_chart_versions_in_the_range(
    cluster: Any, tmp_path: Path, repo: chartrepos.HelmRepo, agent: loop.Agent
) -> None:
    await eventually(lambda: live(cluster, "version") == "4.10.0", "first version applied")
    assert live(cluster, "greeting") == "first"
    state = agent.apps["ingress"]
    assert state.revision.startswith("ingress-4.10.0@sha256:")
    # A newer version in the range appears in the repository: polling picks it up.
    repo.add(chartrepos.package(tmp_path, "ingress", "4.11.2", destination=tmp_path / "d2"))
    await eventually(lambda: live(cluster, "version") == "4.11.2", "newer version applied")
    assert agent.apps["ingress"].revision.startswith("ingress-4.11.2@sha256:")
    # What the API (and the UI and CLI, which read it) show: the chart, its
    # range, and the version synced as people read it.
    shown = views.application(agent.apps["ingress"])
    assert shown["source"]["chart"] == "ingress" and "ref" not in shown["source"]
    await eventually(lambda: agent.apps["ingress"].synced_revision.startswith("ingress-4.11"), "")
    shown = views.application(agent.apps["ingress"])
    # The chart as chart-version, the values repository as a 12-digit commit.
    chart, values = operations.short_revision(shown["sync"]["syncedRevision"]).split(",")
    assert chart == "ingress-4.11.2" and len(values) == 12
    # A version outside the range is never taken.
    repo.add(chartrepos.package(tmp_path, "ingress", "5.0.0", destination=tmp_path / "d3"))
    await asyncio.sleep(1.5)
    assert live(cluster, "version") == "4.11.2"


@pytest.mark.parametrize("agent", ["1h"], indirect=True)
async def test_a_push_to_the_values_repository_triggers_the_application(
    git: Git, cluster: Any, agent: loop.Agent
) -> None:
    await eventually(lambda: live(cluster, "greeting") == "first", "first values applied")
    sha = git.commit("values", {"values/ingress.yaml": "greeting: second\n"})
    event = webhooks.PushEvent(
        provider=webhooks.Provider.GITHUB,
        repo_urls=frozenset({webhooks.normalise_url(git.url)}),
        ref="refs/heads/main",
        before="0" * 40,
        after=sha,
        deleted=False,
        changed_paths=None,
        pusher="someone",
    )
    queued = await agent.push(event)
    assert "ingress" in queued
    await eventually(lambda: live(cluster, "greeting") == "second", "values push applied")
    assert sha[:12] in agent.apps["ingress"].revision or sha in agent.apps["ingress"].revision
