"""Real kubectl against the Kubernetes API test server; where they disagree, the server is wrong.

kubectl runs as a subprocess with its own HOME (it caches discovery there) and
a kubeconfig for a TLS, token-protected server running on a background thread.
Every command that should succeed must also print nothing on stderr: kubectl
warns when discovery, OpenAPI or responses look wrong.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitward.testing import kubeapi

pytestmark = pytest.mark.slow

KUBECTL = str(Path(sys.executable).with_name("kubectl"))

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
"""

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1", b: "2"}
"""

CRD = """
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
"""


class Kubectl:
    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.env = {
            "HOME": str(home),
            "KUBECONFIG": str(kubeconfig),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "KUBECTL_INTERACTIVE_DELETE": "false",
        }

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        ok: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [KUBECTL, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=60,
            check=False,
        )
        if ok:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
            assert result.stderr == "", f"kubectl {' '.join(args)} warned: {result.stderr}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json", "--show-managed-fields").stdout)


@pytest.fixture(scope="module")
def cluster() -> Iterator[kubeapi.KubeAPIServer]:
    with kubeapi.running(
        tls=True, token="kubectl-token", workload_delay=0.1, progress_deadline=1.0
    ) as server:
        yield server


@pytest.fixture
def kubectl(cluster: kubeapi.KubeAPIServer, tmp_path: Path) -> Kubectl:
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig", namespace="default")
    home = tmp_path / "home"
    home.mkdir()
    return Kubectl(kubeconfig, home)


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> str:
    name = "t-" + request.node.name.replace("_", "-").lower()[5:40].strip("-")
    kubectl.run("create", "namespace", name)
    return name


def test_api_resources_and_version(kubectl: Kubectl) -> None:
    out = kubectl.run("api-resources").stdout
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    for resource in (
        "namespaces",
        "configmaps",
        "secrets",
        "services",
        "serviceaccounts",
        "pods",
        "deployments",
        "statefulsets",
        "daemonsets",
        "replicasets",
        "jobs",
        "cronjobs",
        "ingresses",
        "persistentvolumeclaims",
        "roles",
        "rolebindings",
        "clusterroles",
        "clusterrolebindings",
        "customresourcedefinitions",
        "horizontalpodautoscalers",
    ):
        assert resource in rows
    assert "deploy" in rows["deployments"]
    version = json.loads(kubectl.run("version", "-o", "json").stdout)
    assert version["serverVersion"]["minor"] == "37"


def test_server_side_apply_lifecycle(kubectl: Kubectl, namespace: str) -> None:
    out = kubectl.run("apply", "--server-side", "-n", namespace, "-f", "-", stdin=CONFIGMAP).stdout
    assert out.strip() == "configmap/settings serverside-applied"
    changed = CONFIGMAP.replace('a: "1"', 'a: "3"')
    kubectl.run("apply", "--server-side", "-n", namespace, "-f", "-", stdin=changed)
    other = CONFIGMAP.replace('a: "1"', 'a: "mine"').replace(', b: "2"', "")
    conflict = kubectl.run(
        "apply",
        "--server-side",
        "--field-manager=intruder",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=other,
        ok=False,
    )
    assert conflict.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.a' in conflict.stderr
    assert "--force-conflicts" in conflict.stderr
    kubectl.run(
        "apply",
        "--server-side",
        "--field-manager=intruder",
        "--force-conflicts",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=other,
    )
    live = yaml.safe_load(
        kubectl.run(
            "get", "cm", "settings", "-n", namespace, "-o", "yaml", "--show-managed-fields"
        ).stdout
    )
    assert live["data"] == {"a": "mine", "b": "2"}
    fields = {e["manager"]: e["fieldsV1"] for e in live["metadata"]["managedFields"]}
    assert fields == {"kubectl": {"f:data": {"f:b": {}}}, "intruder": {"f:data": {"f:a": {}}}}
    plain = yaml.safe_load(
        kubectl.run("get", "cm", "settings", "-n", namespace, "-o", "yaml").stdout
    )
    assert "managedFields" not in plain["metadata"]


def test_client_side_apply_three_way_merge(kubectl: Kubectl, namespace: str) -> None:
    out = kubectl.run("apply", "-n", namespace, "-f", "-", stdin=DEPLOYMENT).stdout
    assert out.strip() == "deployment.apps/web created"
    live = kubectl.json("get", "deploy", "web", "-n", namespace)
    assert "kubectl.kubernetes.io/last-applied-configuration" in live["metadata"]["annotations"]
    without_label = DEPLOYMENT.replace("  labels: {app: web}\n", "", 1).replace(
        "replicas: 2", "replicas: 3"
    )
    out = kubectl.run("apply", "-n", namespace, "-f", "-", stdin=without_label).stdout
    assert out.strip() == "deployment.apps/web configured"
    live = kubectl.json("get", "deploy", "web", "-n", namespace)
    assert live["spec"]["replicas"] == 3
    assert "labels" not in live["metadata"]
    assert live["metadata"]["generation"] == 2
    assert kubectl.run("apply", "-n", namespace, "-f", "-", stdin=without_label).stdout.strip() == (
        "deployment.apps/web unchanged"
    )


def test_get_prints_tables_and_rollout(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("apply", "--server-side", "-n", namespace, "-f", "-", stdin=DEPLOYMENT)
    kubectl.run("rollout", "status", "deploy/web", "-n", namespace, "--timeout=10s")
    out = kubectl.run("get", "deploy", "-n", namespace).stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out[1].split()[:4] == ["web", "2/2", "2", "2"]
    names = kubectl.run("get", "all", "-n", namespace, "-o", "name").stdout.split()
    assert "deployment.apps/web" in names
    assert any(n.startswith("replicaset.apps/web-") for n in names)


def test_failing_rollout_reports_deadline(kubectl: Kubectl, namespace: str) -> None:
    broken = DEPLOYMENT.replace("nginx:1.27", "nginx:fail")
    kubectl.run("apply", "--server-side", "-n", namespace, "-f", "-", stdin=broken)
    result = kubectl.run(
        "rollout", "status", "deploy/web", "-n", namespace, "--timeout=10s", ok=False
    )
    assert result.returncode == 1
    assert 'deployment "web" exceeded its progress deadline' in result.stderr


def test_patch_variants(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("apply", "--server-side", "-n", namespace, "-f", "-", stdin=DEPLOYMENT)
    kubectl.run(
        "patch",
        "deploy",
        "web",
        "-n",
        namespace,
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"envoy:1"}]}}}}',
    )
    live = kubectl.json("get", "deploy", "web", "-n", namespace)
    assert [c["name"] for c in live["spec"]["template"]["spec"]["containers"]] == ["sidecar", "web"]
    kubectl.run(
        "patch", "deploy", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"replicas":4}}'
    )
    kubectl.run(
        "patch",
        "deploy",
        "web",
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"envoy:2"}]',
    )
    live = kubectl.json("get", "deploy", "web", "-n", namespace)
    assert live["spec"]["replicas"] == 4
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "envoy:2"
    kubectl.run("scale", "deploy", "web", "-n", namespace, "--replicas=1")
    assert kubectl.json("get", "deploy", "web", "-n", namespace)["spec"]["replicas"] == 1
    managers = {e["manager"] for e in live["metadata"]["managedFields"]}
    assert {"kubectl", "kubectl-patch"} <= managers


def test_edit_with_editor(kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    kubectl.run("apply", "--server-side", "-n", namespace, "-f", "-", stdin=CONFIGMAP)
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys\n"
        "path = sys.argv[-1]\n"
        "text = open(path).read().replace('a: \"1\"', 'a: \"edited\"')\n"
        "open(path, 'w').write(text)\n"
    )
    out = kubectl.run(
        "edit",
        "cm",
        "settings",
        "-n",
        namespace,
        env={"KUBE_EDITOR": f"{sys.executable} {editor}"},
    ).stdout
    assert out.strip() == "configmap/settings edited"
    live = kubectl.json("get", "cm", "settings", "-n", namespace)
    assert live["data"] == {"a": "edited", "b": "2"}
    assert "kubectl-edit" in {e["manager"] for e in live["metadata"]["managedFields"]}


def test_diff_server_side(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("apply", "--server-side", "-n", namespace, "-f", "-", stdin=CONFIGMAP)
    same = kubectl.run("diff", "--server-side", "-n", namespace, "-f", "-", stdin=CONFIGMAP)
    assert same.stdout == ""
    changed = CONFIGMAP.replace('b: "2"', 'b: "20"')
    diff = kubectl.run("diff", "--server-side", "-n", namespace, "-f", "-", stdin=changed, ok=False)
    assert diff.returncode == 1, diff.stderr
    assert '-  b: "2"' in diff.stdout
    assert '+  b: "20"' in diff.stdout
    assert kubectl.json("get", "cm", "settings", "-n", namespace)["data"]["b"] == "2"


def test_delete_and_not_found(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("apply", "--server-side", "-n", namespace, "-f", "-", stdin=CONFIGMAP)
    out = kubectl.run("delete", "cm", "settings", "-n", namespace).stdout
    assert out.strip() == f'configmap "settings" deleted from {namespace} namespace'
    missing = kubectl.run("get", "cm", "settings", "-n", namespace, ok=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        'Error from server (NotFound): configmaps "settings" not found'
    )


def test_generators_send_protobuf(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("create", "secret", "generic", "creds", "-n", namespace, "--from-literal=p=q")
    kubectl.run("create", "serviceaccount", "robot", "-n", namespace)
    secret = kubectl.json("get", "secret", "creds", "-n", namespace)
    assert (secret["type"], secret["data"]) == ("Opaque", {"p": "cQ=="})
    names = kubectl.run("get", "sa", "-n", namespace, "-o", "name").stdout.split()
    assert "serviceaccount/robot" in names


def test_invalid_name_message(kubectl: Kubectl, namespace: str) -> None:
    bad = CONFIGMAP.replace("name: settings", "name: Bad_Name")
    result = kubectl.run("create", "-n", namespace, "-f", "-", stdin=bad, ok=False)
    assert result.returncode == 1
    assert result.stderr.startswith(
        'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        "a lowercase RFC 1123 subdomain"
    ), result.stderr
    generated = kubectl.run("create", "configmap", "Bad_Name", "-n", namespace, ok=False)
    assert 'ConfigMap "Bad_Name" is invalid' in generated.stderr


def test_unknown_kind(kubectl: Kubectl, namespace: str) -> None:
    gadget = "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n"
    result = kubectl.run(
        "apply", "--server-side", "-n", namespace, "-f", "-", stdin=gadget, ok=False
    )
    assert result.returncode == 1
    assert 'no matches for kind "Gadget" in version "example.com/v1"' in result.stderr


def test_get_watch_receives_events(
    kubectl: Kubectl, cluster: kubeapi.KubeAPIServer, namespace: str
) -> None:
    bucket = cluster.store.bucket("", "configmaps")
    before = len(bucket.watchers)
    watcher = subprocess.Popen(
        [KUBECTL, "get", "cm", "-n", namespace, "--watch", "--output-watch-events", "--no-headers"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=kubectl.env,
    )
    lines: list[list[str]] = []
    try:
        deadline = time.monotonic() + 15
        while len(bucket.watchers) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        kubectl.run("create", "configmap", "watched", "-n", namespace, "--from-literal=a=1")
        kubectl.run("delete", "cm", "watched", "-n", namespace)
        assert watcher.stdout is not None
        fd = watcher.stdout.fileno()
        buffered = b""
        while len(lines) < 2 and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                buffered += os.read(fd, 65536)
                lines = [line.split() for line in buffered.decode().splitlines() if line.strip()]
    finally:
        watcher.terminate()
        watcher.communicate(timeout=10)
    assert [row[:3] for row in lines] == [["ADDED", "watched", "1"], ["DELETED", "watched", "1"]]


def test_explain_builtin_kind(kubectl: Kubectl) -> None:
    out = kubectl.run("explain", "deployment.spec.replicas").stdout
    assert "KIND:       Deployment" in out
    assert "FIELD: replicas <integer>" in out


def test_crd_then_custom_object(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("apply", "--server-side", "-f", "-", stdin=CRD)
    kubectl.run("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n"
    out = kubectl.run("apply", "--server-side", "-n", namespace, "-f", "-", stdin=widget).stdout
    assert out.strip() == "widget.example.com/w1 serverside-applied"
    table = kubectl.run("get", "wd", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "AGE"]
    assert table[1].split()[:2] == ["w1", "3"]
    kubectl.run("delete", "crd", "widgets.example.com")
    gone = kubectl.run("get", "widgets", "-n", namespace, ok=False)
    assert gone.returncode == 1
