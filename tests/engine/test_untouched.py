"""A monorepo commit re-renders only the Applications it touches (in-process
agent, real git, the API test server): the others advance to the new commit
without a render, an apply or an Operation; a Kustomize base outside an
Application's path counts as its input; an input that cannot be attributed
(a symlink) means a full reconcile at every commit."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gitward.config import settings as config_settings
from gitward.engine import loop, runtimes, states
from gitward.source import fetching
from gitward.testing import stores
from tests.engine.test_rollbacks import eventually
from tests.fixtures import Git, create_namespace, kget

pytestmark = pytest.mark.slow

APP = """\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: {path}}}
  destination: {{target: test, namespace: un}}
  syncPolicy: {{automated: {{prune: true}}}}
"""


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: {value}\n"


KUSTOMIZATION = "resources: [../../base]\nnamePrefix: k-\n"


@pytest.fixture
async def agent(git: Git, cluster: Any, tmp_path: Path) -> AsyncIterator[loop.Agent]:
    create_namespace(cluster, "un")
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
        running = loop.Agent(settings, runtime, store)  # type: ignore[arg-type]
        task = asyncio.create_task(running.run())
        try:
            yield running
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def advanced(agent: loop.Agent) -> float:
    found = agent.metrics.registry.get_sample_value("gitward_untouched_advances_total")
    return found or 0.0


async def all_synced_at(agent: loop.Agent, names: list[str], sha: str) -> None:
    def synced() -> bool:
        found = [agent.apps.get(name) for name in names]
        return all(
            s is not None
            and s.synced_revision == sha
            and s.revision == sha
            and s.basis is not None
            and s.basis.revision == sha
            and not len(agent.queue)
            and not agent.queue.processing
            for s in found
        )

    await eventually(synced, f"{', '.join(names)} synced at {sha[:12]}")


def full(agent: loop.Agent, name: str) -> float | None:
    """When ``name``'s last full reconcile began (health refreshes do not count)."""
    return agent.context.last_full.get(name)


def reconcile_marks(agent: loop.Agent, names: list[str]) -> dict[str, float | None]:
    return {name: full(agent, name) for name in names}


async def test_a_commit_re_renders_only_what_it_touches(
    git: Git, cluster: Any, agent: loop.Agent
) -> None:
    first = git.commit(
        "four applications",
        {
            "apps/a.yaml": APP.format(name="a", url=git.url, path="a"),
            "apps/b.yaml": APP.format(name="b", url=git.url, path="b"),
            "apps/k.yaml": APP.format(name="k", url=git.url, path="overlays/k"),
            "a/cm.yaml": configmap("a", "one"),
            "b/cm.yaml": configmap("b", "one"),
            "overlays/k/kustomization.yaml": KUSTOMIZATION,
            "base/kustomization.yaml": "resources: [cm.yaml]\n",
            "base/cm.yaml": configmap("base", "one"),
        },
    )
    names = ["a", "b", "k"]
    await all_synced_at(agent, names, first)
    b_version = kget(cluster, "-n", "un", "configmap", "b")["metadata"]["resourceVersion"]
    marks = reconcile_marks(agent, names)
    ops_b = len(await agent.store.list_operations("b", limit=50))
    before = advanced(agent)

    # (a) A commit touching a's directory: a is synced again, b and k advance.
    second = git.commit("a two", {"a/cm.yaml": configmap("a", "two")})
    await all_synced_at(agent, names, second)
    assert kget(cluster, "-n", "un", "configmap", "a")["data"]["v"] == "two"
    assert full(agent, "a") != marks["a"]
    for name in ("b", "k"):
        state = agent.apps[name]
        assert full(agent, name) == marks[name], f"{name} was reconciled"
        assert state.previous_revision == first
        reconciled = state.conditions[states.RECONCILED]
        assert reconciled.status and reconciled.reason == "Succeeded"
        assert f"advanced to {second[:12]} without a render" in reconciled.message
    assert advanced(agent) == before + 2
    assert kget(cluster, "-n", "un", "configmap", "b")["metadata"]["resourceVersion"] == b_version
    assert len(await agent.store.list_operations("b", limit=50)) == ops_b
    saved = await agent.store.get_status("b")
    assert saved is not None and saved.desired_revision == second
    assert saved.synced_revision is not None and saved.synced_revision.sha == second

    # (b) A commit touching the Kustomize base outside k's path renders k again.
    marks = reconcile_marks(agent, names)
    third = git.commit("base two", {"base/cm.yaml": configmap("base", "two")})
    await all_synced_at(agent, names, third)
    assert kget(cluster, "-n", "un", "configmap", "k-base")["data"]["v"] == "two"
    assert full(agent, "k") != marks["k"]
    assert full(agent, "a") == marks["a"]
    assert full(agent, "b") == marks["b"]
    assert kget(cluster, "-n", "un", "configmap", "b")["metadata"]["resourceVersion"] == b_version


async def test_inputs_that_cannot_be_attributed_mean_a_full_reconcile(
    git: Git, cluster: Any, agent: loop.Agent
) -> None:
    git.write(
        {
            "apps/l.yaml": APP.format(name="l", url=git.url, path="l"),
            "apps/b.yaml": APP.format(name="b", url=git.url, path="b"),
            "b/cm.yaml": configmap("b", "one"),
            "shared/cm.yaml": configmap("shared", "one"),
        }
    )
    # l reads shared/cm.yaml through a symlink: a change shows under shared/,
    # not under l/, so the paths it read cannot vouch for it.
    (git.work / "l").mkdir()
    os.symlink("../shared/cm.yaml", git.work / "l" / "cm.yaml")
    first = git.commit("a linked application", {})
    await all_synced_at(agent, ["b"], first)
    await eventually(
        lambda: agent.apps["l"].synced_revision == first and not len(agent.queue),
        "l synced",
    )
    assert agent.apps["l"].basis is None

    # (c) A commit elsewhere: b advances, l is reconciled in full.
    marks = reconcile_marks(agent, ["b", "l"])
    second = git.commit("notes", {"notes/readme.md": "nothing to deploy\n"})
    await eventually(
        lambda: full(agent, "l") != marks["l"] and agent.apps["l"].synced_revision == second,
        "l reconciled at the new commit",
    )
    await all_synced_at(agent, ["b"], second)
    assert full(agent, "b") == marks["b"]

    # The symlink's target changes: l is synced again from it.
    third = git.commit("shared two", {"shared/cm.yaml": configmap("shared", "two")})
    await eventually(
        lambda: (
            (kget(cluster, "-n", "un", "configmap", "shared") or {}).get("data", {}).get("v")
            == "two"
        ),
        "the linked file's change applied",
    )
    await eventually(lambda: agent.apps["l"].synced_revision == third, "l at the third commit")


PROJECT = """\
apiVersion: gitward.dev/v1
kind: Project
metadata: {{name: team}}
spec:
  destinations: [{{target: test, namespace: {namespace}}}]
"""


async def test_a_changed_project_reconciles_its_applications(
    git: Git, cluster: Any, agent: loop.Agent
) -> None:
    app = APP.format(name="p", url=git.url, path="p").replace(
        "metadata: {name: p}", "metadata: {name: p, project: team}"
    )
    first = git.commit(
        "an application of a project",
        {
            "apps/project.yaml": PROJECT.format(namespace="un"),
            "apps/p.yaml": app,
            "p/cm.yaml": configmap("p", "one"),
        },
    )
    await all_synced_at(agent, ["p"], first)

    # Nothing under p/ changes, but its Project no longer allows its namespace.
    git.commit("the project moves elsewhere", {"apps/project.yaml": PROJECT.format(namespace="x")})

    def refused() -> bool:
        reconciled = agent.apps["p"].conditions.get(states.RECONCILED)
        return reconciled is not None and reconciled.reason == "PolicyViolation"

    # Whether the poll advanced p first or the root read the Project first,
    # the new Project is applied.
    await eventually(refused, "p refused by its changed Project")


async def test_a_monorepo_is_fetched_once_per_poll_interval(
    git: Git, cluster: Any, agent: loop.Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The root and the Applications read one repository: its poller's fetch
    serves the root trigger too (which used to fetch it again every interval),
    and a commit declaring an Application is still seen at the next poll."""
    first = git.commit(
        "one application",
        {
            "apps/a.yaml": APP.format(name="a", url=git.url, path="a"),
            "a/cm.yaml": configmap("a", "one"),
        },
    )
    await all_synced_at(agent, ["a"], first)
    fetches = 0
    real = fetching.fetch

    async def counted(request: fetching.FetchRequest) -> fetching.FetchOutcome:
        nonlocal fetches
        fetches += 1
        return await real(request)

    monkeypatch.setattr(fetching, "fetch", counted)
    started = time.monotonic()
    await asyncio.sleep(4)
    elapsed = time.monotonic() - started
    # Polls 0.3 s apart, jittered by 10%: at most this many intervals began
    # (one more for the one under way); two fetches each would be twice this.
    intervals = elapsed / (0.3 * 0.9) + 1
    assert 0 < fetches <= intervals, f"{fetches} fetches in {elapsed:.1f} s"

    second = git.commit(
        "another application",
        {
            "apps/b.yaml": APP.format(name="b", url=git.url, path="b"),
            "b/cm.yaml": configmap("b", "one"),
        },
    )
    await all_synced_at(agent, ["a", "b"], second)
    assert kget(cluster, "-n", "un", "configmap", "b")["data"] == {"v": "one"}
