"""The API test server's record of writes names the client (user agent), the
verb and the object with its labels; reads and dry runs are not recorded."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import httpx

from gitward.testing import kubeapi
from gitward.testing.kubeapi import auditing
from tests.fixtures import kubectl

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: default, labels: {team: a}}
data: {k: v}
"""


def test_writes_are_recorded_with_client_and_object(cluster: Any) -> None:
    cluster.writes.clear()
    kubectl(cluster, "apply", "--server-side", "-f", "-", stdin=CONFIGMAP)
    kubectl(cluster, "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=CONFIGMAP)
    kubectl(cluster, "get", "configmap", "one")
    kubectl(cluster, "delete", "configmap", "one")
    writes = [w for w in cluster.writes.records() if w.kind == "ConfigMap"]
    assert [(w.verb, w.namespace, w.name) for w in writes] == [
        ("patch", "default", "one"),
        ("delete", "default", "one"),
    ]
    assert all(w.user_agent.startswith("kubectl") for w in writes)
    assert all(w.labels == {"team": "a"} for w in writes)
    assert writes[0].started <= writes[0].finished <= writes[1].started


def test_writes_are_appended_to_a_file_for_another_process(tmp_path: Path) -> None:
    log = tmp_path / "writes.jsonl"
    writes = auditing.WriteLog()
    writes.record_to(log)
    one = auditing.Write(1.0, 2.0, "gitward/1 (replica r1)", "patch", "", "ConfigMap", "n", "x")
    writes.add(one)
    writes.add(dataclasses.replace(one, name="y", labels={"a": "b"}))
    assert auditing.read_log(log) == writes.records()
    assert auditing.read_log(tmp_path / "absent.jsonl") == []


async def test_write_latency_holds_writes_and_dry_runs() -> None:
    server = kubeapi.KubeAPIServer(write_latency=0.4)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            path = "/api/v1/namespaces/default/configmaps"
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "slow"}}
            began = time.monotonic()
            dry = await client.post(f"{path}?dryRun=All", json=body)
            dry_seconds = time.monotonic() - began
            began = time.monotonic()
            made = await client.post(path, json=body)
            write_seconds = time.monotonic() - began
            read = await client.get(f"{path}/slow")
    finally:
        await server.stop()
    assert (dry.status_code, made.status_code, read.status_code) == (201, 201, 200)
    assert dry_seconds >= 0.4 and write_seconds >= 0.4
    [write] = [w for w in server.writes.records() if w.kind == "ConfigMap"]
    # The record's start is the request's arrival, before the wait.
    assert write.finished - write.started >= 0.4
