"""Sync waves and hooks, end to end against the API test server (Jobs are
simulated there: an image containing "fail" makes the Job fail)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitward.config import applications, settings
from gitward.engine import reconciling, runtimes
from gitward.model import operations
from tests.fixtures import Git, create_namespace, kget

pytestmark = pytest.mark.slow


def job(name: str, hook: str, image: str = "busybox:1", wave: int = 0, policy: str = "") -> str:
    extra = f'    gitward.dev/hook-delete-policy: "{policy}"\n' if policy else ""
    return f"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations:
    gitward.dev/hook: {hook}
    gitward.dev/sync-wave: "{wave}"
{extra}spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: run
          image: {image}
"""


def configmap(name: str, wave: int) -> str:
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  annotations:
    gitward.dev/sync-wave: "{wave}"
data: {{wave: "{wave}"}}
"""


def app_for(url: str) -> applications.Application:
    return applications.parse(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "Application",
            "metadata": {"name": "hooks"},
            "spec": {
                "source": {"repoURL": url, "ref": "main", "path": "app"},
                "destination": {"target": "test", "namespace": "hooks"},
                "syncPolicy": {"healthTimeout": "20s"},
            },
        },
        "hooks.yaml",
    )


async def sync(cluster: Any, tmp_path: Path, url: str) -> reconciling.SyncReport:
    conf = settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
            "cacheDir": str(tmp_path / "cache"),
        }
    )
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=conf)) as runtime:
        return await reconciling.sync(runtime, app_for(url), trigger="test")


async def test_waves_and_hooks_run_in_order(git: Git, cluster: Any, tmp_path: Path) -> None:
    create_namespace(cluster, "hooks")
    git.commit(
        "hooks",
        {
            "app/pre.yaml": job("migrate", "PreSync"),
            "app/early.yaml": configmap("early", -1),
            "app/late.yaml": configmap("late", 1),
            "app/post.yaml": job("notify", "PostSync", policy="HookSucceeded"),
        },
    )
    report = await sync(cluster, tmp_path, git.url)
    assert report.operation.phase is operations.OperationPhase.SUCCEEDED, report.operation.message
    order = [(r.key.name, r.code.value) for r in report.operation.results]
    assert order[0] == ("migrate", "Created")
    names = [name for name, _ in order]
    assert (
        names.index("migrate") < names.index("early") < names.index("late") < names.index("notify")
    )
    assert kget(cluster, "-n", "hooks", "job", "migrate")["status"]["succeeded"] == 1
    # HookSucceeded: the PostSync Job is deleted once it succeeded.
    assert kget(cluster, "-n", "hooks", "job", "notify") is None


async def test_failed_presync_hook_stops_the_sync(git: Git, cluster: Any, tmp_path: Path) -> None:
    create_namespace(cluster, "hooks")
    git.commit(
        "failing hook",
        {
            "app/pre.yaml": job("migrate", "PreSync", image="busybox:fail"),
            "app/cm.yaml": configmap("app-config", 0),
            "app/onfail.yaml": job("cleanup", "SyncFail"),
        },
    )
    report = await sync(cluster, tmp_path, git.url)
    assert report.operation.phase is operations.OperationPhase.FAILED
    assert "migrate" in report.operation.message
    applied = {r.key.name for r in report.operation.results if r.code.value != "Failed"}
    assert "app-config" not in applied
    assert kget(cluster, "-n", "hooks", "configmap", "app-config") is None
    assert kget(cluster, "-n", "hooks", "job", "cleanup") is not None
