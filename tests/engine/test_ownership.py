"""The ownership seam: an agent reconciles only the Applications it owns, picks
up those it comes to own at run time (recovering their interrupted operations
first), and leaves the others' operations alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitward.config import settings as config_settings
from gitward.engine import loop, runtimes
from gitward.model import operations
from gitward.testing import stores
from tests.engine.test_rollbacks import eventually
from tests.fixtures import Git, create_namespace, kget

pytestmark = pytest.mark.slow

APP = """\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: {name}}}
  destination: {{target: test, namespace: own}}
  syncPolicy: {{automated: {{prune: true}}}}
"""


def configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: x\n"


class Shard:
    """An Ownership whose owned set a test changes, as a coordinator would."""

    def __init__(self, owned: set[str]) -> None:
        self.owned = owned
        self._listeners: list[Callable[[], None]] = []

    @property
    def owns_everything(self) -> bool:
        return False

    def owns(self, app: str) -> bool:
        return app in self.owned

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def fence(self, app: str) -> str:
        return "test#1" if app in self.owned else ""

    def live_fences(self) -> Collection[str]:
        return ()

    def change(self, owned: set[str]) -> None:
        self.owned = owned
        for listener in self._listeners:
            listener()


def _two_apps(git: Git, cluster: Any, tmp_path: Path) -> config_settings.Settings:
    """Applications "mine" and "theirs" (a ConfigMap each) in Git; the settings."""
    create_namespace(cluster, "own")
    git.commit(
        "two apps",
        {
            "apps/mine.yaml": APP.format(name="mine", url=git.url),
            "apps/theirs.yaml": APP.format(name="theirs", url=git.url),
            "mine/cm.yaml": configmap("mine"),
            "theirs/cm.yaml": configmap("theirs"),
        },
    )
    return config_settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
            "root": {"repoURL": git.url, "ref": "main", "path": "apps"},
            "cacheDir": str(tmp_path / "cache"),
            "pollInterval": "0.3s",
        }
    )


async def test_an_agent_reconciles_only_what_it_owns(
    git: Git, cluster: Any, tmp_path: Path
) -> None:
    settings = _two_apps(git, cluster, tmp_path)
    store = stores.MemoryStore()
    await store.open()
    # A sync of "theirs" running on another replica when this one starts.
    started = datetime.now(UTC)
    elsewhere = await store.start_operation(
        operations.Operation(
            app="theirs",
            revision=operations.Revision(sha="0" * 40),
            trigger="another replica",
            started_at=started,
        )
    )
    shard = Shard({"mine"})
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        agent = loop.Agent(settings, runtime, store, owner=shard)  # type: ignore[arg-type]
        task = asyncio.create_task(agent.run())
        try:
            await eventually(lambda: kget(cluster, "-n", "own", "configmap", "mine"), "mine")
            await asyncio.sleep(1.0)  # several poll intervals: "theirs" stays untouched
            assert kget(cluster, "-n", "own", "configmap", "theirs") is None
            running = (await store.get_operation(elsewhere)).operation
            assert running.phase is operations.OperationPhase.RUNNING

            shard.change({"mine", "theirs"})  # the other replica left
            await eventually(lambda: kget(cluster, "-n", "own", "configmap", "theirs"), "theirs")
            recovered = (await store.get_operation(elsewhere)).operation
            assert recovered.phase is operations.OperationPhase.FAILED
            assert recovered.reason == "Interrupted"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_an_application_lost_stops_counting_as_reconciled_here_at_once(
    git: Git, cluster: Any, tmp_path: Path
) -> None:
    """Replicas follow the status of what they do not reconcile from the store;
    an Application this agent lost while nothing queued it (already synced, or
    its retry waiting) must leave its reconciled set when the shard changes,
    or its old owner shows its own stale status for ever."""
    settings = _two_apps(git, cluster, tmp_path)
    store = stores.MemoryStore()
    await store.open()
    shard = Shard({"mine", "theirs"})
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        agent = loop.Agent(settings, runtime, store, owner=shard)  # type: ignore[arg-type]
        task = asyncio.create_task(agent.run())
        try:

            def both_synced() -> bool:
                return all(
                    name in agent.context.owned and agent.apps[name].synced_revision
                    for name in ("mine", "theirs")
                )

            await eventually(both_synced, "both reconciled here")
            shard.change({"mine"})  # another replica joined and took "theirs"
            assert agent.context.owned == {"mine"}
            await asyncio.sleep(1.0)  # several polls: nothing adds it back
            assert agent.context.owned == {"mine"}
            shard.change({"mine", "theirs"})  # and left again
            await eventually(lambda: "theirs" in agent.context.owned, "theirs reconciled again")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
