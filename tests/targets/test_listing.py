"""list_objects: every object of a kind in a namespace, whoever owns it."""

from __future__ import annotations

from kubeobjects import configmap, deploy, namespace

from gitward.targets.kubernetes import KubernetesTarget


async def test_lists_a_kind_in_a_namespace_with_a_limit(target: KubernetesTarget) -> None:
    await deploy(target, "shop", "web", namespace("web"))
    await deploy(target, "shop", "web", configmap("a"), configmap("b"), configmap("c"))
    everything, more = await target.list_objects("", "ConfigMap", "web", limit=10)
    names = sorted(o["metadata"]["name"] for o in everything)
    assert names[:3] == ["a", "b", "c"] and not more
    assert all(o["kind"] == "ConfigMap" and o["apiVersion"] == "v1" for o in everything)
    first, more = await target.list_objects("", "ConfigMap", "web", limit=2)
    assert len(first) == 2 and more


async def test_unknown_kinds_and_missing_namespaces_list_nothing(target: KubernetesTarget) -> None:
    assert await target.list_objects("example.com", "Nothing", "web", limit=5) == ([], False)
    assert await target.list_objects("", "ConfigMap", "no-such-namespace", limit=5) == ([], False)
