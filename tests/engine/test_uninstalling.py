"""gitward uninstall against the API test server: the install goes, workloads stay unless asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gitward.config import applications, crds
from gitward.engine import bootstrapping, runtimes, uninstalling
from gitward.install import manifests
from gitward.model import resources
from gitward.targets.kubernetes import KubernetesTarget
from gitward.testing import kubeapi

NS = bootstrapping.NAMESPACE


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[KubernetesTarget]:
    async with kubeapi.KubeAPIServer() as server:
        connected = KubernetesTarget.connect(
            "in-cluster", kubeconfig=server.write_kubeconfig(tmp_path / "kubeconfig"), timeout=5
        )
        try:
            yield connected
        finally:
            await connected.close()


async def _install(target: KubernetesTarget) -> None:
    """What bootstrap applies, plus an Application object and what it deployed."""
    objects = manifests.render({"createNamespace": True})
    prepared = await target.prepare(
        [resources.Manifest.from_body(o) for o in objects], app=bootstrapping.APP, namespace=NS
    )
    for manifest in prepared:
        await target.apply(manifest, force=False)
    app = applications.parse(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "Application",
            "metadata": {"name": "web"},
            "spec": {
                "source": {"repoURL": "https://git.example.com/x.git"},
                "destination": {"target": "in-cluster", "namespace": "web"},
            },
        },
        "apps/web.yaml",
    )
    mirror = crds.application_object(app, NS, labels={uninstalling.DECLARED_IN: "git"})
    await target.apply(resources.Manifest.from_body(mirror), force=False)
    workload: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "kept",
                "annotations": {resources.SYNC_OPTIONS_ANNOTATION: "Delete=false"},
            },
        },
    ]
    for manifest in await target.prepare(
        [resources.Manifest.from_body(o) for o in workload], app="web", namespace="web"
    ):
        await target.apply(manifest, force=False)


async def _exists(target: KubernetesTarget, group: str, kind: str, ns: str, name: str) -> bool:
    key = resources.ResourceKey(group, kind, ns, name)
    return (await target.read([key]))[key] is not None


@pytest.mark.parametrize("delete_workloads", [False, True])
async def test_uninstall(target: KubernetesTarget, tmp_path: Path, delete_workloads: bool) -> None:
    await _install(target)
    options = runtimes.RuntimeOptions(cache_dir=tmp_path / "cache")
    async with runtimes.Runtime.open(options) as runtime:
        removed = await uninstalling.uninstall(runtime, target, delete_workloads=delete_workloads)
        assert not await _exists(target, "apps", "Deployment", NS, "gitward")
        assert not await _exists(target, "", "ConfigMap", NS, "gitward-config")
        assert not await _exists(
            target, "rbac.authorization.k8s.io", "ClusterRole", "", "gitward-gitward-system"
        )
        assert not await _exists(
            target,
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "",
            "applications.gitward.dev",
        )
        assert "Deployment.apps gitward-system/gitward" in " ".join(removed.deleted)
        assert await _exists(target, "", "ConfigMap", "web", "settings") is not delete_workloads
        assert await _exists(target, "", "ConfigMap", "web", "kept")  # Delete=false
        again = await uninstalling.uninstall(runtime, target)
        assert again.deleted == ()
