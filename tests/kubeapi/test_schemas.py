"""Type trees and OpenAPI documents (pure), plus what kubectl makes of them (slow tier)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitward.testing import kubeapi
from gitward.testing.kubeapi import catalog, openapi, schemas, types

KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"


def rt(group: str, version: str, kind: str, plural: str, **extra: Any) -> types.ResourceType:
    return types.ResourceType(group, version, kind, plural, kind.lower(), True, **extra)


DEPLOYMENT = rt("apps", "v1", "Deployment", "deployments", subresources=("status", "scale"))
POD = rt("", "v1", "Pod", "pods")
CRD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A gadget.",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "keyed": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name", "zone"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "zone": {"type": "string", "default": "a"},
                        },
                    },
                },
                "merged": {
                    "type": "array",
                    "x-kubernetes-patch-strategy": "merge",
                    "x-kubernetes-patch-merge-key": "id",
                    "items": {"type": "object", "properties": {"id": {"type": "integer"}}},
                },
                "tags": {
                    "type": "array",
                    "x-kubernetes-list-type": "set",
                    "items": {"type": "string"},
                },
                "plain": {"type": "array", "items": {"type": "string"}},
                "labels": {
                    "type": "object",
                    "x-kubernetes-map-type": "atomic",
                    "additionalProperties": {"type": "string"},
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "size": {"x-kubernetes-int-or-string": True},
            },
        }
    },
}
GADGET = rt(
    "example.com", "v1", "Gadget", "gadgets", crd_schema=CRD_SCHEMA, subresources=("status",)
)


def test_builtin_tree_carries_list_and_map_types() -> None:
    node = schemas.node_for(DEPLOYMENT)
    spec = node.fields["spec"]
    pod = spec.fields["template"].fields["spec"]
    containers = pod.fields["containers"]
    assert (
        containers.list_type,
        containers.keys,
        containers.patch_strategy,
        containers.merge_key,
    ) == (
        "map",
        ("name",),
        "merge",
        "name",
    )
    assert pod.fields["volumes"].patch_strategy == "merge,retainKeys"
    ports = containers.elem.fields["ports"]  # type: ignore[union-attr]
    assert ports.keys == ("containerPort", "protocol")
    assert ports.key_defaults == {"protocol": "TCP"}
    assert containers.elem.fields["args"].list_type == "atomic"  # type: ignore[union-attr]
    assert pod.fields["tolerations"].list_type == "atomic"
    assert pod.fields["nodeSelector"].atomic
    assert spec.fields["selector"].atomic
    metadata = node.fields["metadata"]
    assert metadata.fields["finalizers"].list_type == "set"
    assert metadata.fields["ownerReferences"].keys == ("uid",)
    assert not metadata.fields["labels"].atomic
    assert node.fields["status"].fields["conditions"].keys == ("type",)
    # Recursive types share nodes instead of looping.
    assert schemas.node_for(POD).fields["spec"] is not None


def test_custom_tree_follows_the_crd_schema() -> None:
    node = schemas.node_for(GADGET)
    spec = node.fields["spec"]
    keyed = spec.fields["keyed"]
    assert (keyed.list_type, keyed.keys, keyed.key_defaults) == (
        "map",
        ("name", "zone"),
        {"zone": "a"},
    )
    merged = spec.fields["merged"]
    assert (merged.list_type, merged.keys) == ("map", ("id",))
    assert spec.fields["tags"].list_type == "set"
    assert spec.fields["plain"].list_type == "atomic"
    assert spec.fields["labels"].atomic
    assert spec.fields["free"].elem is schemas.UNTYPED_NODE
    assert spec.fields["size"].kind == schemas.SCALAR
    # Every custom resource has typed metadata.
    assert node.fields["metadata"].fields["finalizers"].list_type == "set"
    # A new schema object gives a new tree; the same object is cached.
    assert schemas.node_for(GADGET) is node
    changed = rt("example.com", "v1", "Gadget", "gadgets", crd_schema={"type": "object"})
    assert schemas.node_for(changed) is not node


REQUIRED_KINDS = [
    ("", "Namespace"),
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("", "Pod"),
    ("", "PersistentVolumeClaim"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("networking.k8s.io", "Ingress"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
]


def _gvks(definitions: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (g["group"], g["kind"])
        for d in definitions.values()
        for g in d.get("x-kubernetes-group-version-kind", [])
    }


def test_openapi_v2_covers_the_builtin_kinds_with_patch_extensions() -> None:
    document = openapi.openapi_v2(catalog.BUILTIN)
    assert document["swagger"] == "2.0"
    definitions = document["definitions"]
    assert set(REQUIRED_KINDS) <= _gvks(definitions)
    containers = definitions["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert containers["items"] == {"$ref": "#/definitions/io.k8s.api.core.v1.Container"}
    assert (
        definitions["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]["x-kubernetes-map-type"]
        == "atomic"
    )
    deployment = definitions["io.k8s.api.apps.v1.Deployment"]
    assert deployment["description"].startswith("Deployment enables declarative updates")
    assert "spec" in deployment["properties"]
    # Every $ref resolves.
    refs = openapi._refs(document)
    assert all(r in definitions for r in refs)
    patch = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "kind": "Deployment",
        "version": "v1",
    }
    assert {p["name"] for p in patch["parameters"]} >= {
        "dryRun",
        "fieldManager",
        "fieldValidation",
        "force",
    }
    assert "application/strategic-merge-patch+json" in patch["consumes"]


def test_documents_are_built_once_per_set_of_types() -> None:
    assert openapi.openapi_v2(catalog.BUILTIN) is openapi.openapi_v2(catalog.BUILTIN)
    index = openapi.openapi_v3_index(catalog.BUILTIN)
    assert openapi.openapi_v3_index(list(catalog.BUILTIN)) is index
    with_crd = openapi.openapi_v3_index([*catalog.BUILTIN, GADGET])
    assert with_crd is not index
    assert "apis/example.com/v1" in with_crd["paths"]


def test_openapi_v3_index_and_group_versions() -> None:
    index = openapi.openapi_v3_index([*catalog.BUILTIN, GADGET])
    paths = index["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/example.com/v1"} <= set(paths)
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    apps = openapi.openapi_v3_group_version("apps/v1", catalog.BUILTIN)
    assert apps is openapi.openapi_v3_group_version("apis/apps/v1", catalog.BUILTIN)
    assert apps["openapi"].startswith("3.")
    spec = apps["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"]
    # v3 wraps a $ref that has siblings in allOf, as kube-apiserver does.
    assert spec["properties"]["template"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"}
    ]
    # v3 types IntOrString and Quantity with oneOf (kubectl explain prints their names).
    int_or_string = apps["components"]["schemas"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert int_or_string["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "type" not in int_or_string
    patch = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"])
    # JSONSchemaProps has a field named "$ref"; it must stay a property.
    ext = openapi.openapi_v3_group_version("apiextensions.k8s.io/v1", catalog.BUILTIN)
    props = ext["components"]["schemas"][
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    ]["properties"]
    assert props["$ref"]["type"] == "string"
    assert "allOf" in props and props["allOf"]["type"] == "array"


def test_custom_kinds_get_definitions_and_no_strategic_patch() -> None:
    document = openapi.openapi_v3_group_version("example.com/v1", [GADGET])
    gadget = document["components"]["schemas"]["com.example.v1.Gadget"]
    assert gadget["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Gadget", "version": "v1"}
    ]
    assert gadget["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert gadget["properties"]["spec"]["properties"]["keyed"]["x-kubernetes-list-type"] == "map"
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in document["components"]["schemas"]
    patch = document["paths"]["/apis/example.com/v1/namespaces/{namespace}/gadgets/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert "/apis/example.com/v1/namespaces/{namespace}/gadgets/{name}/status" in document["paths"]


def _kubectl(
    kubeconfig: Path, home: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "KUBECACHEDIR": str(home / "cache"),
    }
    return subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: The widget's desired state.
            properties:
              size: {type: integer, description: How big the widget is.}
"""


@pytest.mark.slow
def test_kubectl_explain_works_for_builtin_and_custom_kinds(tmp_path: Path) -> None:
    with kubeapi.running() as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        explained = _kubectl(kubeconfig, tmp_path, "explain", "deployment.spec")
        assert explained.returncode == 0, explained.stderr
        assert "template\t<PodTemplateSpec> -required-" in explained.stdout
        assert explained.stderr == ""
        rolling = _kubectl(kubeconfig, tmp_path, "explain", "deploy.spec.strategy.rollingUpdate")
        assert "maxSurge\t<IntOrString>" in rolling.stdout
        limits = _kubectl(kubeconfig, tmp_path, "explain", "pod.spec.containers.resources")
        assert "limits\t<map[string]Quantity>" in limits.stdout
        created = _kubectl(kubeconfig, tmp_path, "apply", "-f", "-", stdin=WIDGET_CRD)
        assert created.returncode == 0, created.stderr
        assert created.stderr == ""
        waited = _kubectl(
            kubeconfig, tmp_path, "wait", "--for=condition=Established", "crd/widgets.example.com"
        )
        assert waited.returncode == 0, waited.stderr
        custom = _kubectl(kubeconfig, tmp_path, "explain", "widget.spec")
        assert custom.returncode == 0, custom.stderr
        assert "How big the widget is." in custom.stdout
