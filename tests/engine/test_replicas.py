"""Replicas wired into the agent: every target write fenced, the shard followed,
Operations recorded under the owner's fence, and a replica that leaves hands
its Applications over at once.

Two real agents in one process share a store and the API test server, and
coordinate through the in-memory coordinator on the real clock."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitward import errors
from gitward.config import settings as config_settings
from gitward.engine import fencing, loop, metrics, replicas, runtimes
from gitward.model import coordination, operations, resources
from gitward.targets import base as targets
from gitward.testing import coordinators, stores
from tests.engine.test_ownership import APP, configmap
from tests.engine.test_rollbacks import eventually
from tests.fixtures import Git, create_namespace, kget

TIMINGS = coordination.Timings(lease_duration=1.5, renew_deadline=1.0, retry_period=0.2)
KEY = resources.ResourceKey("", "ConfigMap", "own", "x")
MANIFEST = resources.Manifest.from_body(
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "own"}}
)


class Recorder:
    """A Target that records which of its methods were called."""

    name = "recorded"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def prepare(
        self, manifests: Sequence[resources.Manifest], *, app: str, namespace: str
    ) -> list[resources.Manifest]:
        self.calls.append("prepare")
        return list(manifests)

    async def read(
        self, keys: Sequence[resources.ResourceKey]
    ) -> dict[resources.ResourceKey, Mapping[str, Any] | None]:
        self.calls.append("read")
        return {}

    async def inventory(
        self, app: str, *, kinds: Iterable[tuple[str, str]] = ()
    ) -> list[Mapping[str, Any]]:
        self.calls.append(f"inventory {sorted(kinds)}")
        return []

    async def write_status(self, key: resources.ResourceKey, status: Mapping[str, Any]) -> bool:
        self.calls.append("write_status")
        return True

    async def kinds(self) -> list[tuple[str, str]]:
        self.calls.append("kinds")
        return []

    async def list_objects(
        self, group: str, kind: str, namespace: str, *, limit: int
    ) -> tuple[list[Mapping[str, Any]], bool]:
        self.calls.append("list_objects")
        return [], False

    async def dry_run(self, manifest: resources.Manifest, *, force: bool) -> Mapping[str, Any]:
        self.calls.append("dry_run")
        return {}

    def _result(self) -> targets.ApplyResult:
        return targets.ApplyResult(KEY, targets.ApplyOutcome.CREATED, {})

    async def apply(
        self, manifest: resources.Manifest, *, force: bool, seen_version: str | None = None
    ) -> targets.ApplyResult:
        self.calls.append(f"apply {seen_version}")
        return self._result()

    async def create(self, manifest: resources.Manifest) -> targets.ApplyResult:
        self.calls.append("create")
        return self._result()

    async def replace(self, manifest: resources.Manifest) -> targets.ApplyResult:
        self.calls.append("replace")
        return self._result()

    async def hook_runs(self, app: str, key: resources.ResourceKey) -> list[Mapping[str, Any]]:
        self.calls.append("hook_runs")
        return []

    async def delete(self, key: resources.ResourceKey, *, uid: str = "") -> bool:
        self.calls.append(f"delete {uid}")
        return True

    async def watch_events(self) -> AsyncIterator[targets.WatchEvent]:
        self.calls.append("watch")
        yield targets.WatchEvent(targets.WatchEventType.ADDED, KEY, {})

    def watch(
        self, group: str, kind: str, *, namespaces: Sequence[str] = ()
    ) -> AsyncIterator[targets.WatchEvent]:
        return self.watch_events()

    async def probe(self) -> targets.Probe:
        self.calls.append("probe")
        return targets.Probe("here", "v1")

    async def close(self) -> None:
        self.calls.append("close")


def test_the_fenced_target_forwards_every_method_of_the_protocol() -> None:
    wanted = {n for n, _ in inspect.getmembers(targets.Target) if not n.startswith("_")}
    defined = {n for n in vars(fencing.FencedTarget) if not n.startswith("_")}
    assert wanted - {"name"} <= defined, wanted - defined
    assert not hasattr(fencing.FencedTarget, "__getattr__")


async def test_writes_are_refused_before_they_are_sent_and_reads_pass() -> None:
    inner = Recorder()
    allowed: set[str] = {"mine"}
    seen: list[str | None] = []

    def check(app: str | None) -> coordination.Fence:
        seen.append(app)
        if app not in allowed:
            raise errors.FenceLost(f"{app} is not ours")
        return coordination.Fence("r1_x", 3)

    target = fencing.fenced(inner, check, lambda: "replica r1; fence r1_x#3; view 1")
    with fencing.writing_for("theirs"):
        for write in (
            target.apply(MANIFEST, force=False, seen_version="7"),
            target.create(MANIFEST),
            target.replace(MANIFEST),
            target.delete(KEY, uid="u"),
            target.write_status(KEY, {}),
        ):
            with pytest.raises(errors.FenceLost):
                await write
        assert inner.calls == []
        # Reads, dry runs and watches never ask.
        await target.prepare([MANIFEST], app="theirs", namespace="own")
        await target.read([KEY])
        await target.inventory("theirs", kinds=[("apps", "Deployment")])
        await target.kinds()
        await target.list_objects("", "ConfigMap", "own", limit=5)
        await target.dry_run(MANIFEST, force=False)
        await target.hook_runs("theirs", KEY)
        await target.probe()
        assert [e async for e in target.watch("", "ConfigMap", namespaces=["own"])]
    assert seen == ["theirs"] * 5
    with fencing.writing_for("mine"):
        await target.apply(MANIFEST, force=True, seen_version="7")
        await target.create(MANIFEST)
        await target.replace(MANIFEST)
        await target.delete(KEY, uid="u")
        assert targets.attribution.get() == "replica r1; fence r1_x#3; view 1"
    await target.close()
    assert inner.calls == [
        "prepare",
        "read",
        "inventory [('apps', 'Deployment')]",
        "kinds",
        "list_objects",
        "dry_run",
        "hook_runs",
        "probe",
        "watch",
        "apply 7",
        "create",
        "replace",
        "delete u",
        "close",
    ]


def _settings(git: Git, cluster: Any, cache: Path) -> config_settings.Settings:
    return config_settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
            "root": {"repoURL": git.url, "ref": "main", "path": "apps"},
            "cacheDir": str(cache),
            "pollInterval": "0.3s",
        }
    )


NAMES = [f"app-{i}" for i in range(6)]


@pytest.mark.slow
async def test_two_agents_share_the_work_and_one_leaving_hands_over_at_once(
    git: Git, cluster: Any, tmp_path: Path
) -> None:
    create_namespace(cluster, "own")
    files = {f"apps/{n}.yaml": APP.format(name=n, url=git.url) for n in NAMES}
    files.update({f"{n}/cm.yaml": configmap(n) for n in NAMES})
    git.commit("six apps", files)
    board = coordinators.Board(TIMINGS, time.monotonic)
    store = stores.MemoryStore()
    await store.open()
    agents: dict[str, tuple[loop.Agent, replicas.Replicas, asyncio.Task[None]]] = {}
    async with (
        runtimes.Runtime.open(
            runtimes.RuntimeOptions(settings=_settings(git, cluster, tmp_path / "a"))
        ) as runtime_a,
        runtimes.Runtime.open(
            runtimes.RuntimeOptions(settings=_settings(git, cluster, tmp_path / "b"))
        ) as runtime_b,
    ):
        for name, runtime in (("a", runtime_a), ("b", runtime_b)):
            shard = replicas.Replicas(board.coordinator(name, f"http://{name}"), balance=0.25)
            agent = loop.Agent(runtime.settings, runtime, store, owner=shard)
            agents[name] = (agent, shard, asyncio.create_task(agent.run()))
        try:

            async def all_applied() -> bool:
                return all(kget(cluster, "-n", "own", "configmap", n) for n in NAMES)

            await eventually(all_applied, "every Application applied")
            shards = {name: r.membership.shard() for name, (_, r, _) in agents.items()}
            assert shards["a"] and shards["b"], shards  # both work
            assert shards["a"] | shards["b"] == set(NAMES)
            assert not shards["a"] & shards["b"]
            # Each ConfigMap was written by its owner alone, under its fence.
            for write in cluster.writes.records():
                if write.kind == "ConfigMap" and write.name in NAMES:
                    owner = next(n for n, s in shards.items() if write.name in s)
                    assert f"replica {owner}; fence {owner}_" in write.user_agent, write
            for app in NAMES:
                ops = await store.list_operations(app)
                assert ops, app
                owner = next(n for n, s in shards.items() if app in s)
                assert all(o.operation.fence.startswith(f"{owner}_") for o in ops), ops
            # A status saved by one replica is shown by the other.
            other = next(iter(shards["b"]))
            state_a = agents["a"][0].apps[other]
            await eventually(lambda: state_a.synced_revision != "", "b's status followed by a")

            # b leaves (SIGTERM): a owns everything at once, long before b's lease expires.
            left = time.monotonic()
            agents["b"][2].cancel()
            await asyncio.gather(agents["b"][2], return_exceptions=True)
            await eventually(lambda: agents["a"][1].membership.shard() == set(NAMES), "a owns all")
            assert time.monotonic() - left < TIMINGS.lease_duration
            cluster.writes.clear()
            git.commit("v2", {f"{n}/cm.yaml": configmap(n).replace("v: x", "v: y") for n in NAMES})

            def all_v2() -> bool:
                return all(
                    (kget(cluster, "-n", "own", "configmap", n) or {}).get("data", {}).get("v")
                    == "y"
                    for n in NAMES
                )

            await eventually(all_v2, "every Application synced by a")
            written = [w for w in cluster.writes.records() if w.kind == "ConfigMap"]
            assert written and all("replica a;" in w.user_agent for w in written)
        finally:
            for _, _, task in agents.values():
                task.cancel()
            await asyncio.gather(*(t for _, _, t in agents.values()), return_exceptions=True)


async def _solo(
    git: Git, cluster: Any, tmp_path: Path, clock: Callable[[], float]
) -> tuple[replicas.Replicas, stores.MemoryStore, config_settings.Settings]:
    """One Application "solo" (one ConfigMap) in Git, and one replica "r" on
    its own board, its store and its settings."""
    create_namespace(cluster, "own")
    git.commit("one app", {"apps/solo.yaml": APP.format(name="solo", url=git.url)})
    git.commit("its object", {"solo/cm.yaml": configmap("solo")})
    board = coordinators.Board(TIMINGS, clock)
    shard = replicas.Replicas(board.coordinator("r"), balance=0.25)
    store = stores.MemoryStore()
    await store.open()
    return shard, store, _settings(git, cluster, tmp_path / "cache")


@pytest.mark.slow
async def test_a_replica_with_a_stale_lease_writes_nothing(
    git: Git, cluster: Any, tmp_path: Path
) -> None:
    clock = coordinators.Clock(time.monotonic())
    shard, store, settings = await _solo(git, cluster, tmp_path, clock)
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        agent = loop.Agent(settings, runtime, store, owner=shard)
        # Joined and in the shard, then frozen past its renew deadline.
        shard.membership.declare(["solo"])
        await shard.membership.join()
        await shard.membership.refresh()
        assert shard.owns("solo") and shard.fence("solo").startswith("r_")
        clock.advance(TIMINGS.renew_deadline)
        assert not shard.owns("solo") and shard.fence("solo") == ""
        target = runtime.target("test")
        with fencing.writing_for("solo"), pytest.raises(errors.FenceLost):
            await target.apply(
                resources.Manifest.from_body(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "solo", "namespace": "own"},
                    }
                ),
                force=False,
            )
        assert kget(cluster, "-n", "own", "configmap", "solo") is None
        assert agent.replicas is shard


@pytest.mark.slow
async def test_a_writable_application_dropped_by_a_worker_is_queued_again(
    git: Git, cluster: Any, tmp_path: Path
) -> None:
    """A worker drops an Application it may not write at that instant (still
    settling, or this replica's member view briefly stale); with no commit to
    come, the follower queues it again once it is writable."""
    shard, store, settings = await _solo(git, cluster, tmp_path, time.monotonic)
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        agent = loop.Agent(settings, runtime, store, owner=shard)
        task = asyncio.create_task(agent.run())
        try:
            ctx = agent.context
            await eventually(
                lambda: "solo" in ctx.owned and ctx.apps["solo"].synced_revision != "",
                "solo reconciled by its owner",
            )
            first = ctx.apps["solo"].reconciled_at
            # What a worker leaves behind when it finds the Application not
            # writable: not counted as reconciled here, not queued.
            ctx.owned.discard("solo")
            await eventually(lambda: "solo" in ctx.owned, "solo reconciled again")
            assert ctx.apps["solo"].reconciled_at != first
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_recovery_skips_operations_of_live_fences() -> None:
    store = stores.MemoryStore()
    await store.open()
    board = coordinators.Board(TIMINGS, time.monotonic)
    live = board.coordinator("live")
    fence = await live.join()
    shard = replicas.Replicas(board.coordinator("me"), balance=0.0)
    await shard.membership.join()
    shard.membership.declare(["x", "y"])
    await shard.membership.refresh()
    started = operations.Operation(
        app="x",
        revision=operations.Revision(sha="0" * 40),
        trigger="t",
        started_at=datetime.now(UTC),
    )
    running_live = await store.start_operation(dataclasses.replace(started, fence=str(fence)))
    running_dead = await store.start_operation(dataclasses.replace(started, fence="gone_1#0"))
    assert str(fence) in shard.live_fences()
    ids = await store.recover_interrupted(
        datetime.now(UTC), apps=["x"], live_fences=shard.live_fences()
    )
    assert ids == [running_dead]
    assert (await store.get_operation(running_live)).operation.phase is (
        operations.OperationPhase.RUNNING
    )


def test_built_from_settings_without_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POD_NAME", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POD_IP", "10.1.2.3")
    settings = config_settings.Settings.model_validate(
        {
            "store": "postgresql+psycopg://gitward:secret@db.example/gitward",
            "listen": "0.0.0.0:8080",
            "replicas": {"coordinator": "postgresql", "identity": "r1"},
        }
    )
    built = replicas.build(settings, metrics.Metrics())
    assert built.coordinator.identity == "r1"
    assert replicas.advertised(settings) == "http://10.1.2.3:8080"
    assert "db.example" in built.coordinator.description
    assert "secret" not in built.coordinator.description
    assert not built.owns_everything and not built.owns("anything")
    monkeypatch.setenv("POD_NAME", "gitward-2")
    assert replicas.identity(settings.replicas.model_copy(update={"identity": ""})) == "gitward-2"


async def test_leases_in_a_configured_cluster_and_namespace(cluster: Any) -> None:
    settings = config_settings.Settings.model_validate(
        {
            "store": "postgresql+psycopg://gitward@db/gitward",
            "targets": {"mgmt": {"kubeconfig": str(cluster.kubeconfig)}},
            "replicas": {
                "coordinator": "kubernetes",
                "identity": "r2",
                "target": "mgmt",
                "namespace": "leases",
                "group": "blue",
            },
        }
    )
    built = replicas.build(settings, metrics.Metrics())
    try:
        assert built.coordinator.identity == "r2"
        assert built.coordinator.description == "Kubernetes Leases in namespace leases (group blue)"
    finally:
        await built.close()
