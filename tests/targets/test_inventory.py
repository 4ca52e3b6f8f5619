"""Inventory, read and prune against the Kubernetes API test server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kubeobjects import configmap, deploy, manifest, namespace

from gitward import errors
from gitward.model import resources
from gitward.targets.kubernetes import KubernetesTarget, ObjectReplaced, protected, recording


async def _wait_gone(target: KubernetesTarget, key: resources.ResourceKey) -> None:
    """Foreground deletion finishes asynchronously (the garbage collector
    removes the object once its dependents are gone)."""
    async with asyncio.timeout(5):
        while (await target.read([key]))[key] is not None:
            await asyncio.sleep(0.05)


def _names(objects: list[Any]) -> list[str]:
    return sorted(str(resources.ResourceKey.of(o)) for o in objects)


async def test_inventory_is_exactly_what_is_tracked_for_the_app(
    target: KubernetesTarget,
) -> None:
    await deploy(target, "shop", "web", namespace("web"), namespace("side"))
    await deploy(target, "shop", "web", configmap("a"), configmap("b", "side"))
    await deploy(target, "blog", "web", configmap("c"))
    # Someone copied shop's label and tracking id onto another object.
    copied = manifest(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "copy",
                "namespace": "web",
                "labels": {resources.APP_LABEL: "shop"},
                "annotations": {resources.TRACKING_ANNOTATION: "shop:/ConfigMap:web/a"},
            },
        }
    )
    label_only = manifest(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "label-only",
                "namespace": "web",
                "labels": {resources.APP_LABEL: "shop"},
            },
        }
    )
    for foreign in (copied, label_only):
        await target.apply(foreign, force=False)

    shop = await target.inventory("shop")
    assert _names(shop) == [
        "ConfigMap side/b",
        "ConfigMap web/a",
        "Namespace side",
        "Namespace web",
    ]
    assert all(o["apiVersion"] == "v1" and o["metadata"]["uid"] for o in shop)
    assert _names(await target.inventory("blog")) == ["ConfigMap web/c"]
    assert await target.inventory("nobody") == []


async def test_kinds_recorded_survive_a_restart(kubeconfig: Path, tmp_path: Path) -> None:
    record = tmp_path / "state" / "kinds.json"
    first = KubernetesTarget.connect("t", kubeconfig=kubeconfig, record_path=record)
    try:
        await deploy(first, "shop", "web", namespace("web"), configmap("a"))
    finally:
        await first.close()
    second = KubernetesTarget.connect("t", kubeconfig=kubeconfig, record_path=record)
    try:
        # Nothing prepared in this process: the kinds come from the record.
        assert _names(await second.inventory("shop")) == ["ConfigMap web/a", "Namespace web"]
    finally:
        await second.close()
    assert recording.KindRecord(record).kinds("shop") == {("", "ConfigMap"), ("", "Namespace")}


async def test_read_many_concurrently(target: KubernetesTarget) -> None:
    await deploy(target, "shop", "web", namespace("web"))
    await deploy(target, "shop", "web", *(configmap(f"cm-{i}") for i in range(30)))
    keys = [resources.ResourceKey("", "ConfigMap", "web", f"cm-{i}") for i in range(35)]
    unknown = resources.ResourceKey("example.com", "Widget", "web", "w")
    found = await target.read([*keys, unknown])
    assert [found[k] is not None for k in keys] == [True] * 30 + [False] * 5
    assert found[unknown] is None
    assert found[keys[7]]["metadata"]["name"] == "cm-7"  # type: ignore[index]


async def test_delete_with_uid_precondition(target: KubernetesTarget) -> None:
    await deploy(target, "shop", "web", namespace("web"))
    [cm] = await deploy(target, "shop", "web", configmap("gone"))
    live = (await target.read([cm.key]))[cm.key]
    assert live is not None
    assert await target.delete(cm.key, uid=live["metadata"]["uid"]) is True
    await _wait_gone(target, cm.key)
    assert await target.delete(cm.key, uid=live["metadata"]["uid"]) is False


async def test_delete_refuses_an_object_replaced_since_listing(target: KubernetesTarget) -> None:
    await deploy(target, "shop", "web", namespace("web"))
    [cm] = await deploy(target, "shop", "web", configmap("phoenix"))
    [listed] = [o for o in await target.inventory("shop") if o["kind"] == "ConfigMap"]
    old_uid = listed["metadata"]["uid"]
    assert await target.delete(cm.key) is True
    await _wait_gone(target, cm.key)
    await target.apply(cm, force=False)  # someone re-created it
    with pytest.raises(ObjectReplaced) as caught:
        await target.delete(cm.key, uid=old_uid)
    assert isinstance(caught.value, errors.PruneError)
    assert str(cm.key) in str(caught.value)
    assert old_uid in str(caught.value)
    live = (await target.read([cm.key]))[cm.key]
    assert live is not None
    assert live["metadata"]["uid"] != old_uid


@pytest.mark.parametrize(
    ("options", "prune", "app_deletion"),
    [
        ("", False, False),
        ("Prune=false", True, False),
        ("Delete=false", False, True),
        ("Prune=false, Delete=false", True, True),
        ("ServerSideApply=true", False, False),
    ],
)
def test_per_resource_opt_outs(options: str, prune: bool, app_deletion: bool) -> None:
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "annotations": {resources.SYNC_OPTIONS_ANNOTATION: options}},
    }
    assert protected(live, deleting_app=False) is prune
    assert protected(live, deleting_app=True) is app_deletion


@pytest.mark.parametrize(
    ("annotations", "prune", "app_deletion"),
    [
        ({"argocd.argoproj.io/sync-options": "Prune=false"}, True, False),
        ({"argocd.argoproj.io/sync-options": "Delete=false"}, False, True),
        ({"kustomize.toolkit.fluxcd.io/prune": "disabled"}, True, False),
        ({"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}, True, True),
    ],
)
def test_opt_outs_of_other_tools(
    annotations: dict[str, str], prune: bool, app_deletion: bool
) -> None:
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "annotations": annotations},
    }
    assert protected(live, deleting_app=False) is prune
    assert protected(live, deleting_app=True) is app_deletion
