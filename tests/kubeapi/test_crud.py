"""CRUD semantics of the Kubernetes API test server over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gitward.testing import kubeapi

from .objects import (
    CM_PATH,
    DEPLOY_PATH,
    JSON_PATCH,
    MERGE,
    STRATEGIC,
    configmap,
    create_namespace,
    deployment,
)


def _status(response: httpx.Response, code: int, reason: str) -> dict[str, Any]:
    assert response.status_code == code, response.text
    body: dict[str, Any] = response.json()
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["reason"] == reason
    assert body["code"] == code
    return body


async def test_create_assigns_server_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(CM_PATH, json=configmap("a"))
    assert response.status_code == 201
    obj = response.json()
    meta = obj["metadata"]
    assert meta["namespace"] == "default"
    assert len(meta["uid"]) == 36
    assert meta["resourceVersion"].isdigit()
    assert meta["creationTimestamp"].endswith("Z")
    assert "generation" not in meta  # ConfigMaps have no generation upstream
    assert meta["managedFields"][0]["manager"] == "python-httpx"
    assert meta["managedFields"][0]["operation"] == "Update"
    got = (await client.get(f"{CM_PATH}/a")).json()
    assert got == obj


async def test_create_twice_is_already_exists(client: httpx.AsyncClient) -> None:
    await client.post(CM_PATH, json=configmap("a"))
    body = _status(await client.post(CM_PATH, json=configmap("a")), 409, "AlreadyExists")
    assert body["message"] == 'configmaps "a" already exists'
    assert body["details"] == {"name": "a", "kind": "configmaps"}


async def test_not_found_names_group_and_resource(client: httpx.AsyncClient) -> None:
    body = _status(await client.get(f"{DEPLOY_PATH}/nope"), 404, "NotFound")
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


async def test_create_in_missing_namespace(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/namespaces/ghost/configmaps", json=configmap("a"))
    body = _status(response, 404, "NotFound")
    assert body["message"] == 'namespaces "ghost" not found'


async def test_generate_name(client: httpx.AsyncClient) -> None:
    body = configmap("")
    body["metadata"] = {"generateName": "cfg-"}
    response = await client.post(CM_PATH, json=body)
    assert response.status_code == 201
    assert response.json()["metadata"]["name"].startswith("cfg-")


@pytest.mark.parametrize(
    ("path", "body", "code", "reason", "message_part"),
    [
        (CM_PATH, b"{not json", 400, "BadRequest", "json parse error"),
        (CM_PATH, b"[1, 2]", 400, "BadRequest", "cannot unmarshal"),
        (
            CM_PATH,
            b'{"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "x"}}',
            400,
            "BadRequest",
            "does not match the expected API version (v1)",
        ),
        (
            CM_PATH,
            b'{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}',
            400,
            "BadRequest",
            "the kind in the data (Secret)",
        ),
        (
            CM_PATH,
            b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}',
            422,
            "Invalid",
            'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
            "a lowercase RFC 1123 subdomain",
        ),
        (
            CM_PATH,
            b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}',
            422,
            "Invalid",
            "metadata.name: Required value: name or generateName is required",
        ),
        (
            "/api/v1/namespaces",
            b'{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}',
            422,
            "Invalid",
            "a lowercase RFC 1123 label must consist of",
        ),
        (
            "/api/v1/namespaces/default/services",
            b'{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1svc"}}',
            422,
            "Invalid",
            "a DNS-1035 label must consist of",
        ),
        (
            CM_PATH,
            b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", '
            b'"labels": {"a": "no spaces"}}}',
            422,
            "Invalid",
            "metadata.labels: Invalid value",
        ),
        (
            CM_PATH,
            b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", '
            b'"namespace": "other"}}',
            400,
            "BadRequest",
            "the namespace of the provided object does not match",
        ),
        (
            "/apis/apps/v1/namespaces/default/gadgets",
            b"{}",
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        (
            "/apis/apps/v9/namespaces/default/deployments",
            b"{}",
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    ],
)
async def test_bad_input(
    client: httpx.AsyncClient, path: str, body: bytes, code: int, reason: str, message_part: str
) -> None:
    response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
    status = _status(response, code, reason)
    assert message_part in status["message"]
    if reason == "Invalid":
        cause = status["details"]["causes"][0]
        assert cause["reason"] in ("FieldValueInvalid", "FieldValueRequired")
        assert cause["field"].startswith("metadata.")


async def test_rbac_names_may_contain_colons(client: httpx.AsyncClient) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:gitward:reader"},
        "rules": [],
    }
    response = await client.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", json=role)
    assert response.status_code == 201, response.text


async def test_yaml_body_is_accepted(client: httpx.AsyncClient) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: '1'\n"
    response = await client.post(
        CM_PATH, content=body, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"] == {"a": "1"}


async def test_update_conflict_on_stale_resource_version(client: httpx.AsyncClient) -> None:
    created = (await client.post(CM_PATH, json=configmap("a"))).json()
    first = {**created, "data": {"key": "one"}}
    assert (await client.put(f"{CM_PATH}/a", json=first)).status_code == 200
    stale = {**created, "data": {"key": "two"}}
    body = _status(await client.put(f"{CM_PATH}/a", json=stale), 409, "Conflict")
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert (await client.get(f"{CM_PATH}/a")).json()["data"] == {"key": "one"}


async def test_update_without_resource_version_is_unconditional(client: httpx.AsyncClient) -> None:
    await client.post(CM_PATH, json=configmap("a"))
    response = await client.put(f"{CM_PATH}/a", json=configmap("a", {"key": "new"}))
    assert response.status_code == 200
    assert response.json()["data"] == {"key": "new"}


async def test_update_of_missing_object_is_not_found(client: httpx.AsyncClient) -> None:
    _status(await client.put(f"{CM_PATH}/a", json=configmap("a")), 404, "NotFound")


async def test_update_name_mismatch(client: httpx.AsyncClient) -> None:
    await client.post(CM_PATH, json=configmap("a"))
    body = _status(await client.put(f"{CM_PATH}/a", json=configmap("b")), 400, "BadRequest")
    assert "does not match the name on the URL" in body["message"]


async def test_noop_update_keeps_resource_version(client: httpx.AsyncClient) -> None:
    created = (await client.post(CM_PATH, json=configmap("a"))).json()
    again = (await client.put(f"{CM_PATH}/a", json=created)).json()
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_generation_bumps_on_spec_change_only(client: httpx.AsyncClient) -> None:
    created = (await client.post(DEPLOY_PATH, json=deployment("web"))).json()
    assert created["metadata"]["generation"] == 1
    labelled = await client.patch(
        f"{DEPLOY_PATH}/web", json={"metadata": {"labels": {"x": "y"}}}, headers=MERGE
    )
    assert labelled.json()["metadata"]["generation"] == 1
    scaled = await client.patch(f"{DEPLOY_PATH}/web", json={"spec": {"replicas": 5}}, headers=MERGE)
    assert scaled.json()["metadata"]["generation"] == 2


async def test_status_subresource_separates_spec_and_status(client: httpx.AsyncClient) -> None:
    body = deployment("web")
    body["status"] = {"replicas": 99}
    created = (await client.post(DEPLOY_PATH, json=body)).json()
    assert "replicas" not in created.get("status", {})  # status is reset on create
    await asyncio.sleep(0.2)
    current = (await client.get(f"{DEPLOY_PATH}/web")).json()
    current["status"] = {"replicas": 7, "observedGeneration": 1}
    current["spec"]["replicas"] = 9
    updated = (await client.put(f"{DEPLOY_PATH}/web/status", json=current)).json()
    assert updated["status"]["replicas"] == 7
    assert updated["spec"]["replicas"] == 2  # spec is not written through /status
    assert updated["metadata"]["generation"] == 1


async def test_patch_types(client: httpx.AsyncClient) -> None:
    await client.post(CM_PATH, json=configmap("a", {"x": "1", "y": "2"}))
    merged = await client.patch(f"{CM_PATH}/a", json={"data": {"x": None, "z": "3"}}, headers=MERGE)
    assert merged.status_code == 200, merged.text
    assert merged.json()["data"] == {"y": "2", "z": "3"}
    ops = [{"op": "replace", "path": "/data/y", "value": "22"}]
    patched = await client.patch(f"{CM_PATH}/a", json=ops, headers=JSON_PATCH)
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"] == {"y": "22", "z": "3"}
    strategic = await client.patch(f"{CM_PATH}/a", json={"data": {"w": "4"}}, headers=STRATEGIC)
    assert strategic.status_code == 200, strategic.text
    assert strategic.json()["data"] == {"w": "4", "y": "22", "z": "3"}
    managers = [e["manager"] for e in strategic.json()["metadata"]["managedFields"]]
    assert managers == ["python-httpx"]


async def test_patch_errors(client: httpx.AsyncClient) -> None:
    await client.post(CM_PATH, json=configmap("a"))
    _status(
        await client.patch(f"{CM_PATH}/missing", json={"data": {}}, headers=MERGE), 404, "NotFound"
    )
    _status(
        await client.patch(
            f"{CM_PATH}/a", content=b"{", headers={"Content-Type": MERGE["Content-Type"]}
        ),
        400,
        "BadRequest",
    )
    body = _status(
        await client.patch(f"{CM_PATH}/a", json={}, headers={"Content-Type": "text/plain"}),
        415,
        "UnsupportedMediaType",
    )
    assert "application/apply-patch+yaml" in body["message"]
    failing_test = [{"op": "test", "path": "/data/key", "value": "other"}]
    _status(
        await client.patch(f"{CM_PATH}/a", json=failing_test, headers=JSON_PATCH), 422, "Invalid"
    )


async def test_list_selectors_and_pagination(client: httpx.AsyncClient) -> None:
    for i in range(7):
        labels = {"tier": "web" if i % 2 else "db", "n": str(i)}
        await client.post(CM_PATH, json=configmap(f"cm-{i}", labels=labels))
    listed = (await client.get(CM_PATH, params={"labelSelector": "tier=web"})).json()
    assert listed["kind"] == "ConfigMapList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["cm-1", "cm-3", "cm-5"]
    listed = (
        await client.get(CM_PATH, params={"labelSelector": "tier in (db),n notin (0,2)"})
    ).json()
    assert [i["metadata"]["name"] for i in listed["items"]] == ["cm-4", "cm-6"]
    listed = (await client.get(CM_PATH, params={"labelSelector": "!tier"})).json()
    assert listed["items"] == []
    listed = (await client.get(CM_PATH, params={"fieldSelector": "metadata.name=cm-2"})).json()
    assert [i["metadata"]["name"] for i in listed["items"]] == ["cm-2"]
    listed = (
        await client.get(
            "/api/v1/configmaps", params={"fieldSelector": "metadata.namespace!=default"}
        )
    ).json()
    assert listed["items"] == []
    names: list[str] = []
    token = ""
    pages = 0
    while True:
        params = {"limit": "3", **({"continue": token} if token else {})}
        page = (await client.get(CM_PATH, params=params)).json()
        names += [i["metadata"]["name"] for i in page["items"]]
        pages += 1
        token = page["metadata"].get("continue", "")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] > 0
    assert pages == 3
    assert names == [f"cm-{i}" for i in range(7)]


async def test_unsupported_field_selector(client: httpx.AsyncClient) -> None:
    body = _status(
        await client.get(CM_PATH, params={"fieldSelector": "data.key=value"}), 400, "BadRequest"
    )
    assert body["message"] == "field label not supported: data.key"
    pods = await client.get("/api/v1/pods", params={"fieldSelector": "status.phase=Running"})
    assert pods.status_code == 200


async def test_bad_label_selector(client: httpx.AsyncClient) -> None:
    _status(await client.get(CM_PATH, params={"labelSelector": "a in b"}), 400, "BadRequest")


async def test_dry_run_writes_nothing(client: httpx.AsyncClient) -> None:
    created = await client.post(CM_PATH, params={"dryRun": "All"}, json=configmap("a"))
    assert created.status_code == 201
    assert created.json()["metadata"]["uid"]
    _status(await client.get(f"{CM_PATH}/a"), 404, "NotFound")
    real = (await client.post(CM_PATH, json=configmap("a"))).json()
    patched = await client.patch(
        f"{CM_PATH}/a", params={"dryRun": "All"}, json={"data": {"k": "v"}}, headers=MERGE
    )
    assert patched.json()["data"] == {"key": "value", "k": "v"}
    deleted = await client.delete(f"{CM_PATH}/a", params={"dryRun": "All"})
    assert deleted.status_code == 200
    assert (await client.get(f"{CM_PATH}/a")).json() == real
    _status(
        await client.post(CM_PATH, params={"dryRun": "Some"}, json=configmap("b")),
        400,
        "BadRequest",
    )


async def test_delete_returns_status_and_removes(client: httpx.AsyncClient) -> None:
    created = (await client.post(CM_PATH, json=configmap("a"))).json()
    response = await client.delete(f"{CM_PATH}/a")
    assert response.status_code == 200
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "a", "kind": "configmaps", "uid": created["metadata"]["uid"]},
    }
    _status(await client.get(f"{CM_PATH}/a"), 404, "NotFound")
    _status(await client.delete(f"{CM_PATH}/a"), 404, "NotFound")


async def test_delete_precondition(client: httpx.AsyncClient) -> None:
    await client.post(CM_PATH, json=configmap("a"))
    response = await client.request(
        "DELETE", f"{CM_PATH}/a", json={"preconditions": {"uid": "not-the-uid"}}
    )
    body = _status(response, 409, "Conflict")
    assert "Precondition failed: UID in precondition: not-the-uid" in body["message"]


async def test_finalizers_hold_deletion(client: httpx.AsyncClient) -> None:
    await client.post(CM_PATH, json=configmap("a", finalizers=["example.com/hold"]))
    response = await client.delete(f"{CM_PATH}/a")
    assert response.status_code == 202
    held = (await client.get(f"{CM_PATH}/a")).json()
    assert held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["finalizers"] == ["example.com/hold"]
    adding = await client.patch(
        f"{CM_PATH}/a",
        json={"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}},
        headers=MERGE,
    )
    _status(adding, 422, "Invalid")
    released = await client.patch(
        f"{CM_PATH}/a", json={"metadata": {"finalizers": None}}, headers=MERGE
    )
    assert released.status_code == 200
    _status(await client.get(f"{CM_PATH}/a"), 404, "NotFound")


async def _eventually(check: Any, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_background_deletion_collects_dependents(client: httpx.AsyncClient) -> None:
    await client.post(DEPLOY_PATH, json=deployment("web"))
    rs_path = "/apis/apps/v1/namespaces/default/replicasets"

    async def has_rs() -> bool:
        return len((await client.get(rs_path)).json()["items"]) == 1

    await _eventually(has_rs)
    assert (await client.delete(f"{DEPLOY_PATH}/web")).status_code == 200

    async def no_rs() -> bool:
        return (await client.get(rs_path)).json()["items"] == []

    await _eventually(no_rs)


async def test_orphan_deletion_keeps_dependents(client: httpx.AsyncClient) -> None:
    await client.post(DEPLOY_PATH, json=deployment("web"))
    rs_path = "/apis/apps/v1/namespaces/default/replicasets"

    async def has_rs() -> bool:
        return len((await client.get(rs_path)).json()["items"]) == 1

    await _eventually(has_rs)
    await client.request("DELETE", f"{DEPLOY_PATH}/web", json={"propagationPolicy": "Orphan"})

    async def deployment_gone() -> bool:
        return (await client.get(f"{DEPLOY_PATH}/web")).status_code == 404

    await _eventually(deployment_gone)
    [rs] = (await client.get(rs_path)).json()["items"]
    assert "ownerReferences" not in rs["metadata"]


async def test_foreground_deletion_waits_for_dependents(client: httpx.AsyncClient) -> None:
    owner = (await client.post(CM_PATH, json=configmap("owner"))).json()
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": True,
    }
    await client.post(
        CM_PATH, json=configmap("child", ownerReferences=[ref], finalizers=["example.com/x"])
    )
    response = await client.request(
        "DELETE", f"{CM_PATH}/owner", json={"propagationPolicy": "Foreground"}
    )
    assert response.status_code == 202
    await asyncio.sleep(0.1)
    waiting = (await client.get(f"{CM_PATH}/owner")).json()
    assert waiting["metadata"]["finalizers"] == ["foregroundDeletion"]
    child = (await client.get(f"{CM_PATH}/child")).json()
    assert child["metadata"]["deletionTimestamp"]
    await client.patch(f"{CM_PATH}/child", json={"metadata": {"finalizers": None}}, headers=MERGE)

    async def owner_gone() -> bool:
        return (await client.get(f"{CM_PATH}/owner")).status_code == 404

    await _eventually(owner_gone)


async def test_namespace_deletion_cascades(client: httpx.AsyncClient) -> None:
    await create_namespace(client, "team")
    path = "/api/v1/namespaces/team/configmaps"
    await client.post(path, json=configmap("a"))
    await client.post(path, json=configmap("held", finalizers=["example.com/hold"]))
    response = await client.delete("/api/v1/namespaces/team")
    assert response.status_code == 200
    assert response.json()["status"]["phase"] == "Terminating"
    _status(await client.post(path, json=configmap("late")), 403, "Forbidden")
    await asyncio.sleep(0.1)
    assert [i["metadata"]["name"] for i in (await client.get(path)).json()["items"]] == ["held"]
    ns = (await client.get("/api/v1/namespaces/team")).json()
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    await client.patch(f"{path}/held", json={"metadata": {"finalizers": None}}, headers=MERGE)

    async def ns_gone() -> bool:
        return (await client.get("/api/v1/namespaces/team")).status_code == 404

    await _eventually(ns_gone)


async def test_new_namespace_gets_default_service_account(client: httpx.AsyncClient) -> None:
    await create_namespace(client, "fresh")

    async def has_sa() -> bool:
        r = await client.get("/api/v1/namespaces/fresh/serviceaccounts/default")
        return r.status_code == 200

    await _eventually(has_sa)


async def test_cluster_scoped_paths(client: httpx.AsyncClient) -> None:
    _status(await client.get("/api/v1/namespaces/default/persistentvolumes"), 404, "NotFound")
    _status(await client.get("/api/v1/configmaps/x"), 404, "NotFound")
    all_ns = await client.get("/api/v1/configmaps")
    assert all_ns.status_code == 200


async def test_delete_collection(client: httpx.AsyncClient) -> None:
    for name in ("a", "b", "c"):
        await client.post(
            CM_PATH, json=configmap(name, labels={"group": "x" if name != "c" else "y"})
        )
    response = await client.delete(CM_PATH, params={"labelSelector": "group=x"})
    assert response.status_code == 200
    left = (await client.get(CM_PATH)).json()["items"]
    assert [i["metadata"]["name"] for i in left] == ["c"]


async def test_scale_subresource(client: httpx.AsyncClient) -> None:
    await client.post(DEPLOY_PATH, json=deployment("web"))
    scale = (await client.get(f"{DEPLOY_PATH}/web/scale")).json()
    assert scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 2
    assert scale["status"]["selector"] == "app=web"
    patched = await client.patch(
        f"{DEPLOY_PATH}/web/scale", json={"spec": {"replicas": 4}}, headers=MERGE
    )
    assert patched.json()["spec"]["replicas"] == 4
    assert (await client.get(f"{DEPLOY_PATH}/web")).json()["spec"]["replicas"] == 4


async def test_service_gets_cluster_ip(client: httpx.AsyncClient) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    created = (await client.post("/api/v1/namespaces/default/services", json=svc)).json()
    assert created["spec"]["clusterIP"].startswith("10.96.")
    assert created["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}


async def test_table_output(client: httpx.AsyncClient) -> None:
    await client.post(CM_PATH, json=configmap("a", {"x": "1", "y": "2"}))
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    table = (await client.get(CM_PATH, headers=accept)).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    [row] = table["rows"]
    assert row["cells"][:2] == ["a", 2]
    assert row["object"]["kind"] == "PartialObjectMetadata"


async def test_large_body_is_refused(
    server: kubeapi.KubeAPIServer, client: httpx.AsyncClient
) -> None:
    big = configmap("big", {"k": "x" * (4 * 1024 * 1024)})
    response = await client.post(CM_PATH, json=big)
    assert response.status_code == 413


async def test_field_validation_modes(client: httpx.AsyncClient) -> None:
    body = deployment("web")
    body["spec"]["replica"] = 3
    body["spec"]["template"]["spec"]["containers"][0]["imagePolicy"] = "x"
    strict = await client.post(DEPLOY_PATH, params={"fieldValidation": "Strict"}, json=body)
    status = _status(strict, 400, "BadRequest")
    assert status["message"] == (
        'strict decoding error: unknown field "spec.template.spec.containers[0].imagePolicy", '
        'unknown field "spec.replica"'
    )
    warned = await client.post(DEPLOY_PATH, json=body)
    assert warned.status_code == 201
    assert warned.headers["warning"] == (
        '299 - "unknown field \\"spec.template.spec.containers[0].imagePolicy\\"", '
        '299 - "unknown field \\"spec.replica\\""'
    )
    assert "replica" not in warned.json()["spec"]  # pruned, as decoding into Go types does
    _status(
        await client.post(DEPLOY_PATH, params={"fieldValidation": "Loose"}, json=body),
        400,
        "BadRequest",
    )


async def test_apply_refuses_undeclared_fields(client: httpx.AsyncClient) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nspec: {x: 1}\n"
    response = await client.patch(
        f"{CM_PATH}/a",
        params={"fieldManager": "m"},
        content=body,
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    status = _status(response, 400, "BadRequest")
    assert status["message"] == (
        "failed to create typed patch object (/v1, Kind=ConfigMap): "
        ".spec: field not declared in schema"
    )


async def test_secret_string_data_is_merged_into_data(client: httpx.AsyncClient) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"a": "b2xk", "keep": "eA=="},
        "stringData": {"a": "new"},
    }
    path = "/api/v1/namespaces/default/secrets"
    created = (await client.post(path, json=secret)).json()
    assert created["type"] == "Opaque"
    assert created["data"] == {"a": "bmV3", "keep": "eA=="}
    assert "stringData" not in created
    patched = await client.patch(f"{path}/s", json={"stringData": {"b": "two"}}, headers=MERGE)
    assert patched.json()["data"] == {"a": "bmV3", "keep": "eA==", "b": "dHdv"}


async def test_value_types_are_checked(client: httpx.AsyncClient) -> None:
    body = configmap("typed")
    body["data"] = {"port": 8080}
    status = _status(await client.post(CM_PATH, json=body), 400, "BadRequest")
    assert status["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        "number into Go struct field ConfigMap.data of type string"
    )
    dep = deployment("typed")
    dep["spec"]["replicas"] = "three"
    status = _status(await client.post(DEPLOY_PATH, json=dep), 400, "BadRequest")
    assert status["message"].endswith(
        "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    )
    applied = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typed}\ndata: {enabled: true}\n"
    response = await client.patch(
        f"{CM_PATH}/typed",
        params={"fieldManager": "m"},
        content=applied,
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    status = _status(response, 400, "BadRequest")
    assert status["message"] == (
        "failed to create typed patch object (/v1, Kind=ConfigMap): "
        ".data.enabled: expected string, got boolean"
    )
