"""The ``targets`` entries of gitward.yaml: a union on ``type``, kubernetes by default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gitward.config import settings, targets


def test_an_entry_without_type_is_kubernetes_as_before() -> None:
    loaded = settings.Settings.model_validate(
        {"targets": {"prod": {"kubeconfig": "/k", "context": "c", "labels": {"env": "prod"}}}}
    )
    prod = loaded.targets["prod"]
    assert isinstance(prod, targets.KubernetesTargetSettings)
    assert (prod.type, prod.kubeconfig, prod.context, prod.labels) == (
        "kubernetes",
        "/k",
        "c",
        {"env": "prod"},
    )
    assert prod.options()["in_cluster"] is False
    assert "labels" not in prod.options()


def test_a_host_entry_takes_normalised_absolute_roots() -> None:
    loaded = settings.Settings.model_validate(
        {"targets": {"edge-1": {"type": "host", "roots": ["/etc/myapp/", "/srv//www"]}}}
    )
    edge = loaded.targets["edge-1"]
    assert isinstance(edge, targets.HostTargetSettings)
    assert edge.roots == ["/etc/myapp", "/srv/www"]
    assert edge.options()["roots"] == ["/etc/myapp", "/srv/www"]


@pytest.mark.parametrize(
    ("roots", "message"),
    [
        (["etc/myapp"], "'etc/myapp' is not an absolute path"),
        (["/etc/../root"], "contains '..'"),
        (["/"], "the whole host"),
        ([], "at least 1 item"),
    ],
)
def test_bad_roots_are_refused_by_name(roots: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings.Settings.model_validate({"targets": {"edge": {"type": "host", "roots": roots}}})


def test_kubernetes_options_on_a_host_entry_are_refused() -> None:
    with pytest.raises(ValidationError, match="kubeconfig"):
        settings.Settings.model_validate(
            {"targets": {"edge": {"type": "host", "roots": ["/srv"], "kubeconfig": "/k"}}}
        )


def test_another_type_keeps_its_options_for_the_plugin() -> None:
    loaded = settings.Settings.model_validate(
        {"targets": {"vm": {"type": "libvirt", "uri": "qemu:///system", "labels": {"a": "b"}}}}
    )
    vm = loaded.targets["vm"]
    assert isinstance(vm, targets.PluginTargetSettings)
    assert vm.type == "libvirt"
    assert vm.labels == {"a": "b"}
    assert vm.options()["uri"] == "qemu:///system"


def test_cluster_roles_need_a_kubernetes_target() -> None:
    with pytest.raises(ValidationError, match=r"clusterObjects\.target 'edge' is a host target"):
        settings.Settings.model_validate(
            {
                "targets": {"edge": {"type": "host", "roots": ["/srv"]}},
                "clusterObjects": {"target": "edge"},
            }
        )
