"""Status written back to Application objects, mirrors of Git-declared Applications,
verdicts on unused objects, and the cluster-objects trigger, against the API test server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitward.config import applications, crds
from gitward.engine import catalog, cluster_catalog, publishing, states
from gitward.engine.triggers import cluster_objects
from gitward.model import resources, status
from gitward.targets.kubernetes import KubernetesTarget
from gitward.testing import kubeapi

NS = "gitward-system"


def _doc(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "gitward.dev/v1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {
            "source": {"repoURL": "https://git.example.com/deploy.git", "path": name},
            "destination": {"target": "in-cluster", "namespace": "web"},
            "syncPolicy": {"interval": "90s"},
        },
    }


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[KubernetesTarget]:
    async with kubeapi.KubeAPIServer() as server:
        connected = KubernetesTarget.connect(
            "in-cluster", kubeconfig=server.write_kubeconfig(tmp_path / "kubeconfig"), timeout=5
        )
        try:
            for body in [
                *crds.definitions(),
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            ]:
                await connected.apply(resources.Manifest.from_body(body), force=False)
            yield connected
        finally:
            await connected.close()


def _state(name: str) -> states.AppState:
    state = states.AppState(app=applications.parse(_doc(name), f"apps/{name}.yaml"))
    state.sync = status.SyncStatus.SYNCED
    state.health = status.HealthResult(status.HealthStatus.HEALTHY)
    state.revision = "a" * 40
    state.set_condition(states.READY, True, "Ready", "", datetime(2026, 12, 4, tzinfo=UTC))
    return state


async def _no_operation(_: int) -> None:
    return None


async def _live(target: KubernetesTarget, namespace: str, name: str) -> Any:
    key = resources.ResourceKey(crds.GROUP, "Application", namespace, name)
    return (await target.read([key]))[key]


async def _until(check: Any, timeout: float = 10.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.02)
    return found


def test_status_body_carries_what_kubectl_shows() -> None:
    body = publishing.status_body(_state("web"), None, 4)
    assert (body["sync"], body["health"], body["revision"]) == ("Synced", "Healthy", "a" * 40)
    assert body["observedGeneration"] == 4
    assert [c["type"] for c in body["conditions"]] == ["Accepted", "Ready"]
    assert body["conditions"][1]["lastTransitionTime"] == "2026-12-04T00:00:00Z"


async def test_git_apps_are_mirrored_with_status_and_unused_objects_told_why(
    target: KubernetesTarget,
) -> None:
    # A person's object named like a Git-declared Application, in the mirror namespace.
    theirs = crds.application_object(applications.parse(_doc("api"), "x"), NS)
    await target.apply(resources.Manifest.from_body(theirs), force=False)
    live_theirs = await _live(target, NS, "api")

    git = catalog.Catalog(
        revision="r1",
        apps={
            n: catalog.Declared(applications.parse(_doc(n), f"apps/{n}.yaml"), f"apps/{n}.yaml")
            for n in ("web", "api")
        },
    )
    # A cluster-declared Application and Project elsewhere.
    db = crds.application_object(applications.parse(_doc("db"), "x"), "default")
    await target.apply(resources.Manifest.from_body(db), force=False)
    team = {
        "apiVersion": "gitward.dev/v1",
        "kind": "Project",
        "metadata": {"name": "team", "namespace": "default"},
        "spec": {"sourceRepos": ["*"]},
    }
    await target.apply(resources.Manifest.from_body(team), force=False)
    objects = [
        cluster_catalog.ClusterObject.of(live)
        for live in (
            live_theirs,
            await _live(target, "default", "db"),
            await _read(target, "Project", "default", "team"),
        )
    ]
    merged = cluster_catalog.merge(git, objects)
    known = {"web": _state("web"), "api": _state("api"), "db": _state("db")}
    publisher = publishing.Publisher(target, NS, known.get, _no_operation)
    task = asyncio.create_task(publisher.run())
    try:
        publisher.catalog_changed(merged)
        web = await _until(lambda: _status_of(target, "web", lambda s: s.get("sync") == "Synced"))
        assert web["metadata"]["labels"][cluster_catalog.DECLARED_IN] == "git"
        assert web["metadata"]["annotations"][publishing.DECLARED_AT] == "apps/web.yaml"
        assert web["spec"]["syncPolicy"]["interval"] == 90
        assert web["status"]["observedGeneration"] == web["metadata"]["generation"]

        api = await _until(lambda: _status_of(target, "api", lambda s: bool(s.get("conditions"))))
        assert api["spec"] == theirs["spec"]  # never overwritten
        accepted = api["status"]["conditions"][0]
        assert (accepted["status"], accepted["reason"]) == ("False", "ShadowedByGit")

        db_live = await _until(lambda: _has_status(target, "Application", "default", "db"))
        assert db_live["status"]["sync"] == "Synced"
        assert db_live["status"]["observedGeneration"] == db_live["metadata"]["generation"]
        team_live = await _until(lambda: _has_status(target, "Project", "default", "team"))
        assert team_live["status"]["conditions"][0]["status"] == "True"

        # A status change is written; an unchanged one is not written again.
        writes = publisher.writes
        publisher.notify("web")
        known["web"].health = status.HealthResult(status.HealthStatus.DEGRADED)
        publisher.notify("web")
        await _until(lambda: _status_of(target, "web", lambda s: s.get("health") == "Degraded"))
        publisher.notify("web")
        await asyncio.sleep(0.2)
        assert publisher.writes == writes + 1

        # Removed from Git: its mirror goes; a person's object stays.
        publisher.catalog_changed(cluster_catalog.merge(catalog.Catalog(revision="r2"), []))
        await _until(lambda: _gone(target, "web"))
        assert await _live(target, NS, "api") is not None
    finally:
        task.cancel()


async def _read(target: KubernetesTarget, kind: str, namespace: str, name: str) -> Any:
    key = resources.ResourceKey(crds.GROUP, kind, namespace, name)
    return (await target.read([key]))[key]


async def _has_status(target: KubernetesTarget, kind: str, namespace: str, name: str) -> Any:
    live = await _read(target, kind, namespace, name)
    return live if live is not None and live.get("status") else None


async def _status_of(target: KubernetesTarget, name: str, ok: Any) -> Any:
    live = await _live(target, NS, name)
    return live if live is not None and ok(live.get("status") or {}) else None


async def _gone(target: KubernetesTarget, name: str) -> bool:
    return await _live(target, NS, name) is None


async def test_the_trigger_follows_objects_of_its_namespaces(
    target: KubernetesTarget,
) -> None:
    seen: list[cluster_catalog.Merged] = []

    async def apply(merged: cluster_catalog.Merged) -> None:
        seen.append(merged)

    trigger = cluster_objects.ClusterObjects(target, [NS], apply, retry_pause=0.05)
    trigger.merge(catalog.Catalog(revision="r1"))
    task = asyncio.create_task(trigger.run())
    try:
        body = crds.application_object(applications.parse(_doc("web"), "x"), NS)
        await target.apply(resources.Manifest.from_body(body), force=False)
        elsewhere = crds.application_object(applications.parse(_doc("other"), "x"), "default")
        await target.apply(resources.Manifest.from_body(elsewhere), force=False)
        await _until(lambda: _has(seen, "web"))
        # A status write is not a new declaration.
        before = len(seen)
        await target.write_status(
            resources.ResourceKey(crds.GROUP, "Application", NS, "web"), {"sync": "Synced"}
        )
        await asyncio.sleep(0.3)
        assert len(seen) == before
        assert "other" not in seen[-1].catalog.apps  # not a watched namespace
        await target.delete(resources.ResourceKey(crds.GROUP, "Application", NS, "web"))
        await _until(lambda: _lacks(seen, "web"))
    finally:
        task.cancel()


async def _has(seen: list[cluster_catalog.Merged], name: str) -> bool:
    return bool(seen) and name in seen[-1].catalog.apps


async def _lacks(seen: list[cluster_catalog.Merged], name: str) -> bool:
    return bool(seen) and name not in seen[-1].catalog.apps
