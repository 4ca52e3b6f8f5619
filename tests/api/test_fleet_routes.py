"""Fleet routes: targets' connection health, ApplicationSet rollouts and who may steer them;
the ``gitward targets`` and ``gitward appset`` commands against the same server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from gitward.store import base as store_base
from tests.api.conftest import ServeFactory, secret_of

APPSET = """\
apiVersion: gitward.dev/v1
kind: ApplicationSet
metadata: {{name: {name}, project: {project}}}
spec:
  generators:
    - list: {{elements: [{{env: staging}}, {{env: prod}}]}}
  template:
    metadata: {{name: "{name}-{{{{env}}}}", labels: {{env: "{{{{env}}}}"}}}}
    spec:
      source: {{repoURL: "{url}", ref: main, path: web}}
      destination: {{target: test, namespace: "{name}-{{{{env}}}}"}}
  strategy:
    rollingSync:
      steps: [{{matchLabels: {{env: staging}}}}, {{matchLabels: {{env: prod}}, maxUpdate: 1}}]
"""


async def _with_sets(serve: ServeFactory) -> object:
    served = await serve()
    git = served.git
    git.commit(
        "sets",
        {
            "apps/team-set.yaml": APPSET.format(name="shop", project="team", url=git.url),
            "apps/default-set.yaml": APPSET.format(name="core", project="default", url=git.url),
        },
    )
    served.agent.context.root_wakeup.set()
    await served.until(
        lambda: {"shop-staging", "shop-prod", "core-prod"} <= set(served.agent.apps),
        "generated Applications",
    )
    return served


async def test_targets_answer_reachable_with_version(serve: ServeFactory) -> None:
    served = await serve()
    async with served.client("team-reader") as client:
        rows = await served.until(lambda: _reachable(client), "the target probed", timeout=20)
    assert rows[0]["name"] == "test"
    assert rows[0]["version"].startswith("v1.")
    assert rows[0]["since"]
    async with served.client() as anonymous:
        assert (await anonymous.get("/api/v1/targets")).status_code == 401


async def _reachable(client: object) -> list[dict[str, object]] | None:
    answer = await client.get("/api/v1/targets")  # type: ignore[attr-defined]
    rows = answer.json()["items"]
    return rows if rows and rows[0]["reachable"] is True else None


async def test_appsets_are_visible_per_project_and_steered_by_admins(serve: ServeFactory) -> None:
    served = await _with_sets(serve)
    async with served.client("team-reader") as reader:
        listed = (await reader.get("/api/v1/appsets")).json()["items"]
        assert [s["name"] for s in listed] == ["shop"]
        shop = (await reader.get("/api/v1/appsets/shop")).json()
        assert [step["selector"] for step in shop["steps"]] == ["env=staging", "env=prod"]
        assert shop["steps"][0]["apps"] == ["shop-staging"]
        # Another Project's set and an unknown one answer alike.
        assert (await reader.get("/api/v1/appsets/core")).status_code == 404
        assert (await reader.get("/api/v1/appsets/nope")).status_code == 404
        assert (await reader.post("/api/v1/appsets/shop/pause")).status_code == 403
    async with served.client("team-admin") as admin:
        paused = (await admin.post("/api/v1/appsets/shop/pause")).json()
        assert paused["paused"] is True and paused["phase"] == "Paused"
        assert (await admin.post("/api/v1/appsets/core/pause")).status_code == 404
        promoted = (await admin.post("/api/v1/appsets/shop/promote")).json()
        assert promoted["promotedThrough"] >= 1
        resumed = (await admin.post("/api/v1/appsets/shop/resume")).json()
        assert resumed["paused"] is False
    assert await served.store.list_rollout_controls() == [
        store_base.RolloutControl(
            "shop", paused=False, promoted_through=promoted["promotedThrough"]
        )
    ]


async def test_cli_commands_read_and_steer_the_running_agent(serve: ServeFactory) -> None:
    served = await _with_sets(serve)
    env = os.environ | {"GITWARD_SERVER": served.url, "GITWARD_TOKEN": secret_of("admin-all")}

    def gitward(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gitward", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    await served.until(
        lambda: served.agent.reachability.rows()[0].reachable is True, "target probed"
    )
    targets = await _in_thread(gitward, "targets", "-o", "json")
    assert targets.returncode == 0, targets.stderr
    assert json.loads(targets.stdout)["items"][0]["reachable"] is True
    table = await _in_thread(gitward, "targets")
    assert "test" in table.stdout and "yes" in table.stdout

    paused = await _in_thread(gitward, "appset", "pause", "shop")
    assert paused.returncode == 0, paused.stderr
    assert "shop: Paused" in paused.stdout
    status = await _in_thread(gitward, "appset", "status", "shop", "-o", "json")
    assert json.loads(status.stdout)["paused"] is True
    missing = await _in_thread(gitward, "appset", "status", "nope")
    assert missing.returncode == 2
    assert "not declared" in missing.stderr


async def _in_thread(fn: object, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(fn, *args)  # type: ignore[arg-type]
