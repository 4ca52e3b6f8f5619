"""Argo CD, Helm and Flux object annotations honoured by a sync, end to end
against the API test server (Jobs are simulated: an image containing "fail"
fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitward.config import applications, settings
from gitward.engine import reconciling, runtimes
from gitward.model import operations
from tests.fixtures import Git, create_namespace, kget, kubectl

pytestmark = pytest.mark.slow


def configmap(name: str, notes: dict[str, str], **data: str) -> str:
    annotations = "".join(f'    {k}: "{v}"\n' for k, v in notes.items())
    meta = f"  annotations:\n{annotations}" if annotations else ""
    values = "".join(f'  {k}: "{v}"\n' for k, v in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{meta}data:\n{values}"


def job(name: str, notes: dict[str, str], image: str = "busybox:1") -> str:
    annotations = "".join(f'    {k}: "{v}"\n' for k, v in notes.items())
    return f"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations:
{annotations}spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: run
          image: {image}
"""


async def sync(cluster: Any, tmp_path: Path, url: str) -> reconciling.SyncReport:
    conf = settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
            "cacheDir": str(tmp_path / "cache"),
        }
    )
    app = applications.parse(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "Application",
            "metadata": {"name": "foreign"},
            "spec": {
                "source": {"repoURL": url, "ref": "main", "path": "app"},
                "destination": {"target": "test", "namespace": "foreign"},
                "syncPolicy": {"healthTimeout": "20s", "prune": True},
            },
        },
        "foreign.yaml",
    )
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=conf)) as runtime:
        return await reconciling.sync(runtime, app, trigger="test")


def data(cluster: Any, name: str) -> Any:
    found = kget(cluster, "-n", "foreign", "configmap", name)
    return None if found is None else found.get("data")


async def test_sync_and_prune_options_of_every_tool(git: Git, cluster: Any, tmp_path: Path) -> None:
    create_namespace(cluster, "foreign")
    ssa = "kustomize.toolkit.fluxcd.io/ssa"
    argo_options = "argocd.argoproj.io/sync-options"
    git.commit(
        "first",
        {
            "app/once.yaml": configmap("once", {ssa: "IfNotPresent"}, v="1"),
            "app/ignored.yaml": configmap("ignored", {ssa: "Ignore"}, v="1"),
            "app/replaced.yaml": configmap(
                "replaced", {argo_options: "Replace=true"}, a="1", b="2"
            ),
            "app/argo-keep.yaml": configmap("argo-keep", {argo_options: "Prune=false"}, v="1"),
            "app/flux-keep.yaml": configmap(
                "flux-keep", {"kustomize.toolkit.fluxcd.io/prune": "disabled"}, v="1"
            ),
            "app/plain.yaml": configmap("plain", {}, v="1"),
            "app/smoke.yaml": job("smoke", {"helm.sh/hook": "test"}),
        },
    )
    first = await sync(cluster, tmp_path, git.url)
    assert first.operation.phase is operations.OperationPhase.SUCCEEDED, first.operation.message
    assert data(cluster, "once") == {"v": "1"}
    assert data(cluster, "ignored") is None
    assert data(cluster, "replaced") == {"a": "1", "b": "2"}
    assert kget(cluster, "-n", "foreign", "job", "smoke") is None
    skipped = {r.key.name: r.message for r in first.operation.results if r.code.value == "Skipped"}
    assert "Helm hook test" in skipped["smoke"]
    # A person edits "once"; Git changes it and "replaced", and drops three objects.
    kubectl(cluster, "-n", "foreign", "patch", "configmap", "once", "-p", '{"data":{"v":"mine"}}')
    git.commit(
        "second",
        {
            "app/once.yaml": configmap("once", {ssa: "IfNotPresent"}, v="2"),
            "app/replaced.yaml": configmap("replaced", {argo_options: "Replace=true"}, a="3"),
            "app/argo-keep.yaml": None,
            "app/flux-keep.yaml": None,
            "app/plain.yaml": None,
        },
    )
    second = await sync(cluster, tmp_path, git.url)
    assert second.operation.phase is operations.OperationPhase.SUCCEEDED, second.operation.message
    assert data(cluster, "once") == {"v": "mine"}  # IfNotPresent: left as it is
    assert data(cluster, "replaced") == {"a": "3"}  # replaced whole: b is gone
    assert data(cluster, "argo-keep") == {"v": "1"}
    assert data(cluster, "flux-keep") == {"v": "1"}
    assert data(cluster, "plain") is None  # pruned


async def test_failed_helm_hook_is_deleted_and_argo_sync_fail_hook_runs(
    git: Git, cluster: Any, tmp_path: Path
) -> None:
    create_namespace(cluster, "foreign")
    git.commit(
        "failing",
        {
            "app/pre.yaml": job(
                "migrate",
                {"helm.sh/hook": "pre-upgrade", "helm.sh/hook-delete-policy": "hook-failed"},
                image="busybox:fail",
            ),
            "app/cm.yaml": configmap("settings", {}, v="1"),
            "app/on-fail.yaml": job("cleanup", {"argocd.argoproj.io/hook": "SyncFail"}),
        },
    )
    report = await sync(cluster, tmp_path, git.url)
    assert report.operation.phase is operations.OperationPhase.FAILED
    assert report.operation.reason == "HookFailed"
    messages = {r.key.name: r.message for r in report.operation.results}
    assert "deleted (HookFailed)" in messages["migrate"]
    assert kget(cluster, "-n", "foreign", "job", "migrate") is None
    assert data(cluster, "settings") is None  # nothing after a failed PreSync hook
    assert kget(cluster, "-n", "foreign", "job", "cleanup") is not None
