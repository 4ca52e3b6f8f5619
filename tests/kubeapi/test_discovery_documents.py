"""Discovery, OpenAPI and CustomResourceDefinition registration."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .objects import APPLY, MERGE

AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)

WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
          status:
            type: object
            properties:
              ready: {type: boolean}
"""

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


async def test_version(client: httpx.AsyncClient) -> None:
    body = (await client.get("/version")).json()
    assert (body["major"], body["minor"]) == ("1", "37")
    assert body["gitVersion"].startswith("v1.37.")


async def test_legacy_discovery(client: httpx.AsyncClient) -> None:
    api = (await client.get("/api")).json()
    assert api["kind"] == "APIVersions"
    assert api["versions"] == ["v1"]
    groups = (await client.get("/apis")).json()
    names = [g["name"] for g in groups["groups"]]
    for expected in (
        "apps",
        "batch",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "apiextensions.k8s.io",
        "autoscaling",
        "policy",
        "storage.k8s.io",
        "coordination.k8s.io",
    ):
        assert expected in names
    core = (await client.get("/api/v1")).json()
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["configmaps"]["shortNames"] == ["cm"]
    assert by_name["namespaces"]["namespaced"] is False
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    apps = (await client.get("/apis/apps/v1")).json()
    scale = {r["name"]: r for r in apps["resources"]}["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    hpa = (await client.get("/apis/autoscaling")).json()
    assert hpa["preferredVersion"]["groupVersion"] == "autoscaling/v2"


async def test_aggregated_discovery(client: httpx.AsyncClient) -> None:
    response = await client.get("/apis", headers={"Accept": AGGREGATED})
    assert response.headers["content-type"] == (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    )
    body = response.json()
    assert body["kind"] == "APIGroupDiscoveryList"
    apps = next(i for i in body["items"] if i["metadata"]["name"] == "apps")
    [v1] = apps["versions"]
    deployments = next(r for r in v1["resources"] if r["resource"] == "deployments")
    assert deployments["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert deployments["scope"] == "Namespaced"
    assert "all" in deployments["categories"]
    assert {s["subresource"] for s in deployments["subresources"]} == {"status", "scale"}
    core = (await client.get("/api", headers={"Accept": AGGREGATED})).json()
    [core_group] = core["items"]
    assert "name" not in core_group["metadata"]
    assert any(r["resource"] == "configmaps" for r in core_group["versions"][0]["resources"])


async def test_openapi_documents(client: httpx.AsyncClient) -> None:
    index = await client.get("/openapi/v3")
    assert index.status_code == 200
    paths = index.json()["paths"]
    assert "apis/apps/v1" in paths
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    doc = await client.get(url)
    assert doc.status_code == 200, doc.text
    schemas = doc.json()["components"]["schemas"]
    assert any(name.endswith("apps.v1.Deployment") for name in schemas)
    v2 = await client.get("/openapi/v2", headers={"Accept": "application/json"})
    assert v2.status_code == 200
    assert v2.json()["swagger"] == "2.0"
    missing = await client.get("/openapi/v3/apis/nothing.example.com/v1")
    assert missing.status_code == 404


async def _until(check: Any) -> None:
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def _create_crd(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        f"{CRD_PATH}/widgets.example.com",
        params={"fieldManager": "test"},
        content=WIDGET_CRD.encode(),
        headers=APPLY,
    )
    assert response.status_code == 201, response.text

    async def established() -> bool:
        crd = (await client.get(f"{CRD_PATH}/widgets.example.com")).json()
        conditions = {c["type"]: c["status"] for c in crd.get("status", {}).get("conditions", [])}
        return conditions.get("Established") == "True"

    await _until(established)


async def test_crd_lifecycle(client: httpx.AsyncClient) -> None:
    assert (await client.get(WIDGETS)).status_code == 404
    await _create_crd(client)
    crd = (await client.get(f"{CRD_PATH}/widgets.example.com")).json()
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["spec"]["names"]["listKind"] == "WidgetList"
    discovery = (await client.get("/apis/example.com/v1")).json()
    assert [r["name"] for r in discovery["resources"]] == ["widgets", "widgets/status"]
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3},
    }
    created = await client.post(WIDGETS, json=widget)
    assert created.status_code == 201, created.text
    assert created.json()["metadata"]["generation"] == 1
    strategic = await client.patch(
        f"{WIDGETS}/w1",
        json={"spec": {"size": 4}},
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert strategic.status_code == 415
    merged = await client.patch(f"{WIDGETS}/w1", json={"spec": {"size": 4}}, headers=MERGE)
    assert merged.json()["metadata"]["generation"] == 2
    table = (
        await client.get(
            WIDGETS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
        )
    ).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Age"]
    assert table["rows"][0]["cells"][:2] == ["w1", 4]
    missing_kind = await client.post(WIDGETS, json={"metadata": {"name": "w2"}})
    assert missing_kind.status_code == 400

    assert (await client.delete(f"{CRD_PATH}/widgets.example.com")).status_code in (200, 202)

    async def gone() -> bool:
        return (await client.get(f"{CRD_PATH}/widgets.example.com")).status_code == 404

    await _until(gone)
    assert (await client.get(WIDGETS)).status_code == 404
    assert (await client.get("/apis/example.com/v1")).status_code == 404
    groups = (await client.get("/apis")).json()
    assert "example.com" not in [g["name"] for g in groups["groups"]]
    # Re-creating the CRD starts empty: its objects went with it.
    await _create_crd(client)
    assert (await client.get(WIDGETS)).json()["items"] == []


async def test_invalid_crd(client: httpx.AsyncClient) -> None:
    bad = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "wrong.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Galactic",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [{"name": "v1", "served": True, "storage": False}],
        },
    }
    response = await client.post(CRD_PATH, json=bad)
    assert response.status_code == 422
    body = response.json()
    assert body["reason"] == "Invalid"
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"metadata.name", "spec.scope", "spec.versions"} <= fields


async def test_multi_version_crd_shares_storage(client: httpx.AsyncClient) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gizmos.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "gizmos", "kind": "Gizmo"},
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": False,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                },
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                },
            ],
        },
    }
    assert (await client.post(CRD_PATH, json=crd)).status_code == 201

    async def served() -> bool:
        return (await client.get("/apis/example.com/v1beta1/gizmos")).status_code == 200

    await _until(served)
    group = (await client.get("/apis/example.com")).json()
    assert group["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    old = {
        "apiVersion": "example.com/v1beta1",
        "kind": "Gizmo",
        "metadata": {"name": "g"},
        "spec": {"free": {"form": 1}},
    }
    assert (await client.post("/apis/example.com/v1beta1/gizmos", json=old)).status_code == 201
    via_v1 = (await client.get("/apis/example.com/v1/gizmos/g")).json()
    assert via_v1["apiVersion"] == "example.com/v1"
    assert via_v1["spec"] == {"free": {"form": 1}}
    listed = (await client.get("/apis/example.com/v1beta1/gizmos")).json()
    assert listed["kind"] == "GizmoList"
    assert [i["apiVersion"] for i in listed["items"]] == ["example.com/v1beta1"]
    crd_now = (await client.get(f"{CRD_PATH}/gizmos.example.com")).json()
    assert crd_now["status"]["storedVersions"] == ["v1"]


async def test_custom_resource_schema_types(client: httpx.AsyncClient) -> None:
    await _create_crd(client)
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": "big", "color": 3},
    }
    response = await client.post(WIDGETS, json=widget)
    assert response.status_code == 422
    body = response.json()
    assert body["reason"] == "Invalid"
    assert body["message"] == (
        'Widget.example.com "w" is invalid: [spec.size: Invalid value: "string": spec.size in '
        'body must be of type integer: "string", spec.color: Invalid value: "integer": '
        'spec.color in body must be of type string: "integer"]'
    )
    assert [c["reason"] for c in body["details"]["causes"]] == ["FieldValueTypeInvalid"] * 2
