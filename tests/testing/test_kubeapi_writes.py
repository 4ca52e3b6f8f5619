"""The API test server's record of writes names the client (user agent), the
verb and the object with its labels; reads and dry runs are not recorded."""

from __future__ import annotations

from typing import Any

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
