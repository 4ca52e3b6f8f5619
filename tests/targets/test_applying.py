"""Server-side apply against the Kubernetes API test server: outcomes,
dry-run, conflicts and force, unknown kinds, CRD then its objects."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubeobjects import configmap, deploy, deployment, manifest, namespace

from gitward import errors
from gitward.model import resources
from gitward.targets import base
from gitward.targets.kubernetes import FieldConflictError, KubernetesTarget

KUBECTL = str(Path(sys.executable).parent / "kubectl")


async def test_create_then_configured_then_unchanged(target: KubernetesTarget) -> None:
    await deploy(target, "app", "web", namespace("web"))
    [first] = await target.prepare(
        [configmap("settings", color="blue")], app="app", namespace="web"
    )
    created = await target.apply(first, force=False)
    assert created.outcome is base.ApplyOutcome.CREATED
    assert created.live["data"] == {"color": "blue"}
    again = await target.apply(first, force=False)
    assert again.outcome is base.ApplyOutcome.UNCHANGED
    assert again.live["metadata"]["resourceVersion"] == created.live["metadata"]["resourceVersion"]
    [changed] = await target.prepare(
        [configmap("settings", color="red")], app="app", namespace="web"
    )
    configured = await target.apply(changed, force=False)
    assert configured.outcome is base.ApplyOutcome.CONFIGURED
    live = (await target.read([changed.key]))[changed.key]
    assert live is not None
    assert live["data"] == {"color": "red"}
    managers = {m["manager"] for m in live["metadata"]["managedFields"]}
    assert managers == {"gitward"}
    assert (await target.apply(changed, force=False)).outcome is base.ApplyOutcome.UNCHANGED


async def test_dry_run_predicts_and_persists_nothing(target: KubernetesTarget) -> None:
    await deploy(target, "app", "web", namespace("web"))
    [cm] = await target.prepare([configmap("dry", color="blue")], app="app", namespace="web")
    predicted = await target.dry_run(cm, force=False)
    assert predicted["data"] == {"color": "blue"}
    assert predicted["metadata"]["labels"][resources.APP_LABEL] == "app"
    assert (await target.read([cm.key]))[cm.key] is None


async def _kubectl_owns_replicas(target: KubernetesTarget, key: resources.ResourceKey) -> None:
    """What ``kubectl apply --server-side`` sends: an SSA patch as manager kubectl."""
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": key.name, "namespace": key.namespace},
        "spec": {"replicas": 5},
    }
    await target.connection.api.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{key.namespace}/deployments/{key.name}",
        what="kubectl apply",
        params={"fieldManager": "kubectl", "force": "true"},
        body=body,
        content_type="application/apply-patch+yaml",
    )


async def test_conflict_names_field_and_manager_and_force_takes_it(
    target: KubernetesTarget,
) -> None:
    await deploy(target, "app", "web", namespace("web"))
    [dep] = await deploy(target, "app", "web", deployment("front", "web", replicas=2))
    await _kubectl_owns_replicas(target, dep.key)
    [wanted] = await target.prepare(
        [deployment("front", "web", replicas=3)], app="app", namespace="web"
    )
    with pytest.raises(FieldConflictError) as caught:
        await target.apply(wanted, force=False)
    assert isinstance(caught.value, errors.ApplyConflict)
    message = str(caught.value)
    assert ".spec.replicas" in message
    assert "kubectl" in message
    assert str(dep.key) in message
    assert [(c.field, c.manager) for c in caught.value.conflicts] == [(".spec.replicas", "kubectl")]
    live = (await target.read([dep.key]))[dep.key]
    assert live is not None
    assert live["spec"]["replicas"] == 5

    forced = await target.apply(wanted, force=True)
    assert forced.outcome is base.ApplyOutcome.CONFIGURED
    assert forced.live["spec"]["replicas"] == 3
    owners = {
        m["manager"]
        for m in forced.live["metadata"]["managedFields"]
        if "f:replicas" in (m.get("fieldsV1") or {}).get("f:spec", {})
    }
    assert owners == {"gitward"}


async def test_unknown_kind_is_an_apply_error_naming_it(target: KubernetesTarget) -> None:
    widget = manifest(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
        source="apps/widget.yaml#0",
    )
    with pytest.raises(errors.ApplyError) as caught:
        await target.prepare([widget], app="app", namespace="web")
    assert "Widget.example.com" in str(caught.value)
    assert "apps/widget.yaml#0" in str(caught.value)
    with pytest.raises(errors.ApplyError) as applied:
        await target.apply(widget, force=False)
    assert "Widget.example.com" in str(applied.value)


async def test_invalid_object_is_an_apply_error_quoting_the_server(
    target: KubernetesTarget,
) -> None:
    await deploy(target, "app", "web", namespace("web"))
    bad = configmap("Not_A_Valid_Name", "web")
    with pytest.raises(errors.ApplyError) as caught:
        await target.apply(bad, force=False)
    message = str(caught.value)
    assert "ConfigMap web/Not_A_Valid_Name" in message
    assert "422" in message
    assert not isinstance(caught.value, errors.ApplyConflict)


async def test_missing_namespace_is_an_apply_error(target: KubernetesTarget) -> None:
    with pytest.raises(errors.ApplyError) as caught:
        await target.apply(configmap("a", "nowhere"), force=False)
    assert "ConfigMap nowhere/a" in str(caught.value)
    assert "nowhere" in str(caught.value)


def _crd(scope: str) -> resources.Manifest:
    return manifest(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": scope,
                "names": {
                    "plural": "widgets",
                    "singular": "widget",
                    "kind": "Widget",
                    "listKind": "WidgetList",
                },
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "properties": {"size": {"type": "integer"}},
                                    }
                                },
                            }
                        },
                    }
                ],
            },
        }
    )


async def test_crd_then_its_objects_in_one_sequence(target: KubernetesTarget) -> None:
    widget = manifest(
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 3},
        }
    )
    prepared = await target.prepare(
        [namespace("web"), _crd("Namespaced"), widget], app="app", namespace="web"
    )
    # The CRD declares Widget namespaced: it got the destination namespace.
    assert prepared[2].key == resources.ResourceKey("example.com", "Widget", "web", "w")
    refreshes = target.discovery.refreshes
    results = [await target.apply(m, force=False) for m in prepared]
    assert [r.outcome for r in results] == [base.ApplyOutcome.CREATED] * 3
    assert target.discovery.refreshes > refreshes
    live = (await target.read([prepared[2].key]))[prepared[2].key]
    assert live is not None
    assert live["spec"] == {"size": 3}
    again = await target.apply(prepared[2], force=False)
    assert again.outcome is base.ApplyOutcome.UNCHANGED


async def test_prepare_namespaces_and_stamps_tracking(target: KubernetesTarget) -> None:
    role = manifest(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "reader", "namespace": "ignored"},
            "rules": [],
        }
    )
    original = configmap("settings", color="blue")
    cm, cr, elsewhere = await target.prepare(
        [original, role, configmap("other", "side")], app="shop", namespace="web"
    )
    assert cm.key == resources.ResourceKey("", "ConfigMap", "web", "settings")
    assert cm.labels[resources.APP_LABEL] == "shop"
    assert cm.annotations[resources.TRACKING_ANNOTATION] == "shop:/ConfigMap:web/settings"
    assert cr.key == resources.ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "reader")
    assert "namespace" not in cr.body["metadata"]
    assert cr.annotations[resources.TRACKING_ANNOTATION] == (
        "shop:rbac.authorization.k8s.io/ClusterRole:/reader"
    )
    assert elsewhere.key.namespace == "side"
    assert "labels" not in original.body["metadata"]  # inputs are not modified


@pytest.mark.parametrize("app", ["", "Has Space", "x" * 64])
async def test_app_names_must_be_label_values(target: KubernetesTarget, app: str) -> None:
    with pytest.raises(errors.ConfigError):
        await target.prepare([configmap("a")], app=app, namespace="web")


async def test_conflict_with_real_kubectl(target: KubernetesTarget, kubeconfig: Path) -> None:
    await deploy(target, "app", "web", namespace("web"))
    [dep] = await deploy(target, "app", "web", deployment("front", "web", replicas=2))
    scaled = yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "front", "namespace": "web"},
            "spec": {"replicas": 4},
        }
    )
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(kubeconfig),
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        "-",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(scaled.encode()), timeout=30)
    assert process.returncode == 0, err.decode()
    assert b"serverside-applied" in out
    [wanted] = await target.prepare(
        [deployment("front", "web", replicas=3)], app="app", namespace="web"
    )
    with pytest.raises(FieldConflictError) as caught:
        await target.apply(wanted, force=False)
    assert [(c.field, c.manager) for c in caught.value.conflicts] == [(".spec.replicas", "kubectl")]
    assert str(dep.key) in str(caught.value)


def test_kubernetes_target_is_a_target(target: KubernetesTarget) -> None:
    # Checked by mypy --strict on this file: the class satisfies the Protocol.
    as_protocol: base.Target = target
    assert as_protocol.name == "test"
