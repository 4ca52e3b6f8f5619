"""Simulated controllers: workload status after the delay, failures, Jobs, Pods, PVCs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .objects import DEPLOY_PATH, MERGE, deployment


async def _wait_for(client: httpx.AsyncClient, path: str, check: Any, timeout: float = 3) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        obj = (await client.get(path)).json()
        if check(obj):
            return obj
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path} never reached the expected state: {obj.get('status')}")
        await asyncio.sleep(0.02)


def _conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        c["type"]: (c["status"], c.get("reason", ""))
        for c in obj.get("status", {}).get("conditions", [])
    }


async def test_deployment_becomes_available(client: httpx.AsyncClient) -> None:
    await client.post(DEPLOY_PATH, json=deployment("web", replicas=3))
    obj = await _wait_for(
        client,
        f"{DEPLOY_PATH}/web",
        lambda o: _conditions(o).get("Available", ("",))[0] == "True",
    )
    status = obj["status"]
    assert status["observedGeneration"] == 1
    assert status["replicas"] == status["readyReplicas"] == status["availableReplicas"] == 3
    assert status["updatedReplicas"] == 3
    assert _conditions(obj)["Progressing"] == ("True", "NewReplicaSetAvailable")
    managers = {(e["manager"], e.get("subresource", "")) for e in obj["metadata"]["managedFields"]}
    assert ("kube-controller-manager", "status") in managers
    [rs] = (await client.get("/apis/apps/v1/namespaces/default/replicasets")).json()["items"]
    assert rs["metadata"]["ownerReferences"][0]["name"] == "web"
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["labels"]["pod-template-hash"] in rs["metadata"]["name"]


async def test_new_generation_is_observed(client: httpx.AsyncClient) -> None:
    await client.post(DEPLOY_PATH, json=deployment("web"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}}
    await client.patch(f"{DEPLOY_PATH}/web", json=patch, headers=MERGE)
    obj = await _wait_for(
        client,
        f"{DEPLOY_PATH}/web",
        lambda o: (
            o.get("status", {}).get("observedGeneration") == 2
            and o["status"].get("readyReplicas") == 2
        ),
    )
    assert obj["metadata"]["generation"] == 2
    rs_list = (await client.get("/apis/apps/v1/namespaces/default/replicasets")).json()["items"]
    assert sorted(rs["spec"]["replicas"] for rs in rs_list) == [0, 2]


async def test_failing_image_exceeds_progress_deadline(client: httpx.AsyncClient) -> None:
    await client.post(DEPLOY_PATH, json=deployment("broken", image="nginx:fail"))
    obj = await _wait_for(
        client,
        f"{DEPLOY_PATH}/broken",
        lambda o: _conditions(o).get("Progressing", ("",))[0] == "False",
    )
    assert _conditions(obj)["Progressing"] == ("False", "ProgressDeadlineExceeded")
    assert _conditions(obj)["Available"] == ("False", "MinimumReplicasUnavailable")
    assert obj["status"].get("readyReplicas", 0) == 0
    assert obj["status"]["unavailableReplicas"] == 2


async def test_jobs_complete_or_fail(client: httpx.AsyncClient) -> None:
    path = "/apis/batch/v1/namespaces/default/jobs"
    for name, image in (("ok", "busybox:1"), ("bad", "busybox:fail")):
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {
                "backoffLimit": 2,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "main", "image": image}],
                    }
                },
            },
        }
        assert (await client.post(path, json=job)).status_code == 201
    ok = await _wait_for(client, f"{path}/ok", lambda o: "Complete" in _conditions(o))
    assert ok["status"]["succeeded"] == 1
    assert ok["status"]["completionTime"]
    bad = await _wait_for(client, f"{path}/bad", lambda o: "Failed" in _conditions(o))
    assert _conditions(bad)["Failed"] == ("True", "BackoffLimitExceeded")
    assert bad["status"]["failed"] == 3


async def test_statefulset_daemonset_pod_pvc(client: httpx.AsyncClient) -> None:
    template = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "main", "image": "redis:7"}]},
    }
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "x"}},
            "template": template,
        },
    }
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template},
    }
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": template["spec"]}
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    await client.post("/apis/apps/v1/namespaces/default/statefulsets", json=sts)
    await client.post("/apis/apps/v1/namespaces/default/daemonsets", json=ds)
    await client.post("/api/v1/namespaces/default/pods", json=pod)
    await client.post("/api/v1/namespaces/default/persistentvolumeclaims", json=pvc)
    got = await _wait_for(
        client,
        "/apis/apps/v1/namespaces/default/statefulsets/db",
        lambda o: o.get("status", {}).get("readyReplicas") == 2,
    )
    assert got["status"]["currentRevision"] == got["status"]["updateRevision"]
    await _wait_for(
        client,
        "/apis/apps/v1/namespaces/default/daemonsets/agent",
        lambda o: o.get("status", {}).get("numberReady") == 1,
    )
    ready_pod = await _wait_for(
        client,
        "/api/v1/namespaces/default/pods/p",
        lambda o: o.get("status", {}).get("phase") == "Running",
    )
    assert _conditions(ready_pod)["Ready"][0] == "True"
    bound = await _wait_for(
        client,
        "/api/v1/namespaces/default/persistentvolumeclaims/data",
        lambda o: o.get("status", {}).get("phase") == "Bound",
    )
    assert bound["status"]["capacity"] == {"storage": "1Gi"}
