"""What the agent says while it works (in-process agent, real git, the API
test server): a newer revision supersedes a stuck sync; a dependency's wait
message does not outlive the wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
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
  destination: {{target: test, namespace: st}}
  syncPolicy: {{automated: {{prune: true}}, healthTimeout: 300s}}
{extra}"""


def waved_deployment(image: str) -> str:
    # Wave 0 must be healthy before wave 1 is applied: a failing image holds the sync.
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {{gitward.dev/sync-wave: "0"}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: main, image: "{image}"}}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: after-web
  annotations: {{gitward.dev/sync-wave: "1"}}
data: {{image: "{image}"}}
"""


def configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: x\n"


@pytest.fixture
async def agent(git: Git, cluster: Any, tmp_path: Path) -> AsyncIterator[loop.Agent]:
    create_namespace(cluster, "st")
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


async def test_a_newer_revision_supersedes_a_stuck_sync(
    git: Git, cluster: Any, agent: loop.Agent
) -> None:
    stuck = git.commit(
        "a broken image",
        {
            "apps/web.yaml": APP.format(name="web", url=git.url, extra=""),
            "web/all.yaml": waved_deployment("example/fail:1"),
        },
    )

    async def running_op() -> Any:
        ops = await agent.store.list_operations("web", limit=10)
        return next(
            (r for r in ops if r.operation.phase is operations.OperationPhase.RUNNING), None
        )

    held = None
    for _ in range(300):  # the sync waits (healthTimeout 300 s) for wave 0
        held = await running_op()
        if held is not None and kget(cluster, "-n", "st", "deployment", "web"):
            break
        await asyncio.sleep(0.1)
    assert held is not None and held.operation.revision.sha == stuck
    assert kget(cluster, "-n", "st", "configmap", "after-web") is None

    fixed = git.commit("fix the image", {"web/all.yaml": waved_deployment("example/web:2")})

    def applied() -> bool:
        cm = kget(cluster, "-n", "st", "configmap", "after-web")
        return bool(cm) and cm["data"]["image"] == "example/web:2"

    await eventually(applied, "the newer revision applied")
    superseded = (await agent.store.get_operation(held.id)).operation
    assert superseded.phase is operations.OperationPhase.FAILED
    assert superseded.reason == "Superseded"
    assert superseded.message == "superseded by a newer revision"

    async def succeeded() -> bool:
        ops = await agent.store.list_operations("web", limit=10)
        return any(
            r.operation.revision.sha == fixed
            and r.operation.phase is operations.OperationPhase.SUCCEEDED
            for r in ops
        )

    await eventually(succeeded, "an operation at the newer revision succeeded")


async def test_a_dependency_wait_message_clears_once_ready(
    git: Git, cluster: Any, agent: loop.Agent
) -> None:
    git.commit(
        "app and its dependency",
        {
            "apps/base.yaml": APP.format(name="base", url=git.url, extra=""),
            "apps/top.yaml": APP.format(name="top", url=git.url, extra="  dependsOn: [base]\n"),
            "base/cm.yaml": configmap("base"),
            "top/cm.yaml": configmap("top"),
        },
    )

    def ready() -> bool:
        state = agent.apps.get("top")
        return state is not None and state.ready()

    await eventually(ready, "top Synced and Healthy")
    top = agent.apps["top"]
    assert top.message == ""
    assert top.conditions["DependenciesReady"].status


INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: front}
spec:
  defaultBackend: {service: {name: front, port: {number: 80}}}
"""


async def test_a_status_event_is_assessed_as_the_watch_carried_it_without_a_read(
    git: Git, cluster: Any, agent: loop.Agent
) -> None:
    git.commit(
        "an ingress",
        {
            "apps/front.yaml": APP.format(name="front", url=git.url, extra=""),
            "front/ingress.yaml": INGRESS,
        },
    )

    def health() -> str:
        state = agent.apps.get("front")
        if state is None or not state.managed_keys:
            return ""
        return state.health.status.value

    # No ingress controller runs here: the Ingress waits for an address.
    await eventually(lambda: health() == "Progressing", "the new ingress assessed")
    await asyncio.sleep(0.5)  # the sync's follow-up settles
    before = cluster.requests.snapshot()
    # The ingress controller publishes an address: only its status moves.
    headers = {"Content-Type": "application/merge-patch+json"}
    if cluster.token:
        headers["Authorization"] = f"Bearer {cluster.token}"
    async with httpx.AsyncClient(base_url=cluster.url, verify=False) as http:  # noqa: S501
        given = await http.patch(
            "/apis/networking.k8s.io/v1/namespaces/st/ingresses/front/status",
            json={"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}},
            headers=headers,
        )
    assert given.status_code == 200, given.text
    await eventually(lambda: health() == "Healthy", "the ingress assessed Healthy")
    after = cluster.requests.snapshot()
    assert after.get("get", 0) == before.get("get", 0)  # the watch event was enough
    assert after.get("patch", 0) == before.get("patch", 0) + 1  # only the address
