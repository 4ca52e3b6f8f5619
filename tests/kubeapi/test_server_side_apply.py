"""Server-side apply over HTTP: create, ownership, conflicts, force, dry-run, errors."""

from __future__ import annotations

import httpx

from .objects import APPLY, CM_PATH, DEPLOY_PATH

CM_YAML = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1", b: "2"}
"""


async def _apply(
    client: httpx.AsyncClient, path: str, body: str, manager: str, **params: str
) -> httpx.Response:
    return await client.patch(
        path, params={"fieldManager": manager, **params}, content=body.encode(), headers=APPLY
    )


async def test_apply_creates_then_updates(client: httpx.AsyncClient) -> None:
    created = await _apply(client, f"{CM_PATH}/settings", CM_YAML, "gitward")
    assert created.status_code == 201, created.text
    [entry] = created.json()["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("gitward", "Apply")
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}
    again = await _apply(client, f"{CM_PATH}/settings", CM_YAML, "gitward")
    assert again.status_code == 200
    assert (
        again.json()["metadata"]["resourceVersion"] == created.json()["metadata"]["resourceVersion"]
    )
    smaller = CM_YAML.replace(', b: "2"', "")
    updated = await _apply(client, f"{CM_PATH}/settings", smaller, "gitward")
    assert updated.json()["data"] == {"a": "1"}  # a field no longer applied is removed


async def test_conflict_then_force(client: httpx.AsyncClient) -> None:
    await _apply(client, f"{CM_PATH}/settings", CM_YAML, "gitward")
    other = CM_YAML.replace('a: "1"', 'a: "changed"').replace(', b: "2"', "")
    conflict = await _apply(client, f"{CM_PATH}/settings", other, "someone-else")
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["reason"] == "Conflict"
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "gitward": .data.a'
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "gitward"', "field": ".data.a"}
    ]
    forced = await _apply(client, f"{CM_PATH}/settings", other, "someone-else", force="true")
    assert forced.status_code == 200
    assert forced.json()["data"] == {"a": "changed", "b": "2"}
    owners = {e["manager"]: e["fieldsV1"] for e in forced.json()["metadata"]["managedFields"]}
    assert owners["someone-else"] == {"f:data": {"f:a": {}}}
    assert owners["gitward"] == {"f:data": {"f:b": {}}}


async def test_conflict_with_updater_names_api_version(client: httpx.AsyncClient) -> None:
    await client.post(
        CM_PATH,
        params={"fieldManager": "editor"},
        json={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"a": "0"},
        },
    )
    conflict = await _apply(client, f"{CM_PATH}/settings", CM_YAML, "gitward")
    assert conflict.status_code == 409
    assert conflict.json()["message"] == (
        'Apply failed with 1 conflict: conflict with "editor" using v1: .data.a'
    )


async def test_apply_dry_run_and_errors(client: httpx.AsyncClient) -> None:
    dry = await _apply(client, f"{CM_PATH}/settings", CM_YAML, "gitward", dryRun="All")
    assert dry.status_code == 201
    assert (await client.get(f"{CM_PATH}/settings")).status_code == 404
    no_manager = await client.patch(f"{CM_PATH}/settings", content=CM_YAML.encode(), headers=APPLY)
    assert no_manager.status_code == 400
    broken = await _apply(client, f"{CM_PATH}/settings", "data: [unclosed", "gitward")
    assert broken.status_code == 400
    assert broken.json()["reason"] == "BadRequest"
    wrong_name = await _apply(client, f"{CM_PATH}/other", CM_YAML, "gitward")
    assert wrong_name.status_code == 400
    no_kind = await _apply(client, f"{CM_PATH}/settings", "metadata: {name: settings}", "gitward")
    assert no_kind.status_code == 400
    wrong_version = await _apply(
        client,
        f"{DEPLOY_PATH}/x",
        "apiVersion: apps/v2\nkind: Deployment\nmetadata: {name: x}",
        "gitward",
    )
    assert wrong_version.status_code == 400


async def test_apply_merges_containers_by_name(client: httpx.AsyncClient) -> None:
    base = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx:1}
"""
    sidecar = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - {name: proxy, image: envoy:1}
"""
    assert (await _apply(client, f"{DEPLOY_PATH}/web", base, "gitward")).status_code == 201
    merged = await _apply(client, f"{DEPLOY_PATH}/web", sidecar, "mesh")
    assert merged.status_code == 200, merged.text
    names = [c["name"] for c in merged.json()["spec"]["template"]["spec"]["containers"]]
    assert sorted(names) == ["proxy", "web"]
    assert merged.json()["metadata"]["generation"] == 2
