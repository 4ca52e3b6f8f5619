"""Manifests and helpers shared by the Kubernetes target tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.model import resources
from gitward.targets.kubernetes import KubernetesTarget


def manifest(body: Mapping[str, Any], source: str = "") -> resources.Manifest:
    return resources.Manifest.from_body(body, source=source)


def namespace(name: str) -> resources.Manifest:
    return manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def configmap(name: str, ns: str = "", **data: str) -> resources.Manifest:
    meta: dict[str, Any] = {"name": name}
    if ns:
        meta["namespace"] = ns
    return manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})


def deployment(name: str, ns: str, replicas: int = 1) -> resources.Manifest:
    labels = {"app": name}
    return manifest(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
                },
            },
        }
    )


async def deploy(
    target: KubernetesTarget, app: str, ns: str, *manifests: resources.Manifest
) -> list[resources.Manifest]:
    """Prepare and apply like the engine does; returns the prepared manifests."""
    prepared = await target.prepare(list(manifests), app=app, namespace=ns)
    for item in prepared:
        await target.apply(item, force=False)
    return prepared
