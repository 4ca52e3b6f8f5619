"""Issue 3 acceptance: the one-shot pipeline end to end.

Real git repositories (a bare remote pushed to by the test), the Kubernetes
API test server, the real kubectl for drift, and ``gitward`` as a process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import Git, Gitward, kget, kubectl

pytestmark = pytest.mark.slow

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          ports:
            - containerPort: 80
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 80
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-settings
data:
  greeting: hello
"""
BASE = """\
resources:
  - deployment.yaml
  - service.yaml
  - configmap.yaml
"""
STAGING = """\
resources:
  - ../../base
images:
  - name: nginx
    newTag: "1.25.1"
"""
NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: web
"""
CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: api\nversion: 0.1.0\n",
    "chart/values.yaml": "image:\n  repository: registry.example.com/api\n  tag: v1\nreplicas: 1\n",
    "chart/templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-api
  labels: {app: api}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
""",
    "chart/values-staging.yaml": "replicas: 2\n",
}


def application(
    tmp_path: Path, name: str, url: str, path: str, render: str = "{}", extra: str = ""
) -> Path:
    file = tmp_path / f"{name}.yaml"
    file.write_text(
        f"""\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: "{path}"}}
  render: {render}
  destination: {{target: test, namespace: web}}
  syncPolicy:
    healthTimeout: 20s
{extra}"""
    )
    return file


@pytest.fixture
def repo(git: Git) -> Git:
    git.commit(
        "web: base, staging overlay, api chart",
        {
            "namespaces/web.yaml": NAMESPACE,
            "web/base/kustomization.yaml": BASE,
            "web/base/deployment.yaml": DEPLOYMENT,
            "web/base/service.yaml": SERVICE,
            "web/base/configmap.yaml": CONFIGMAP,
            "web/overlays/staging/kustomization.yaml": STAGING,
            **CHART,
        },
    )
    return git


def results(report: dict[str, Any]) -> dict[str, str]:
    return {r["resource"]: r["result"] for r in report["results"]}


def sync_namespace(gitward: Gitward, repo: Git, tmp_path: Path) -> None:
    ns_app = application(tmp_path, "namespaces", repo.url, "namespaces")
    report = gitward.json("sync", str(ns_app))
    assert results(report) == {"Namespace web": "Created"}


def test_kustomize_overlay_syncs_updates_prunes_and_stays_idempotent(
    gitward: Gitward, repo: Git, cluster: Any, tmp_path: Path
) -> None:
    sync_namespace(gitward, repo, tmp_path)
    app = application(
        tmp_path, "web-staging", repo.url, "web/overlays/staging", extra="    prune: true\n"
    )

    first = gitward.json("sync", str(app), "--wait")
    assert first["phase"] == "Succeeded", first
    assert results(first) == {
        "ConfigMap web/web-settings": "Created",
        "Service web/web": "Created",
        "Deployment.apps web/web": "Created",
    }
    live = kget(cluster, "-n", "web", "deployment", "web")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25.1"
    assert live["metadata"]["labels"]["gitward.dev/app"] == "web-staging"
    assert first["revision"]["author"] == "Ada Author <ada@example.com>"

    # Idempotency: a re-plan right after the sync is empty.
    gitward("diff", str(app))

    # Second commit: a new image, and the ConfigMap leaves Git.
    second_sha = repo.commit(
        "web: nginx 1.25.2, drop settings",
        {
            "web/overlays/staging/kustomization.yaml": STAGING.replace("1.25.1", "1.25.2"),
            "web/base/kustomization.yaml": BASE.replace("  - configmap.yaml\n", ""),
            "web/base/configmap.yaml": None,
        },
    )
    planned = gitward.json("diff", str(app), expect=1)
    actions = {c["resource"]: c["action"] for c in planned["changes"]}
    assert actions["Deployment.apps web/web"] == "update"
    assert actions["ConfigMap web/web-settings"] == "prune"
    assert actions["Service web/web"] == "unchanged"

    second = gitward.json("sync", str(app))
    assert second["revision"]["sha"] == second_sha
    assert results(second) == {
        "Deployment.apps web/web": "Configured",
        "Service web/web": "Unchanged",
        "ConfigMap web/web-settings": "Pruned",
    }
    assert kget(cluster, "-n", "web", "configmap", "web-settings") is None
    live = kget(cluster, "-n", "web", "deployment", "web")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25.2"
    gitward("diff", str(app))

    # Drift made with kubectl shows up in the diff, naming the field.
    kubectl(cluster, "-n", "web", "scale", "deployment", "web", "--replicas=5")
    drift = gitward("diff", str(app), expect=1)
    assert "Deployment.apps web/web" in drift.stdout
    assert "/spec/replicas" in drift.stdout
    gitward("sync", str(app))
    assert kget(cluster, "-n", "web", "deployment", "web")["spec"]["replicas"] == 2
    gitward("diff", str(app))


def test_helm_chart_syncs_with_values_files(
    gitward: Gitward, repo: Git, cluster: Any, tmp_path: Path
) -> None:
    sync_namespace(gitward, repo, tmp_path)
    app = application(
        tmp_path,
        "api",
        repo.url,
        "chart",
        render="{helm: {valueFiles: [values-staging.yaml], values: {image: {tag: v2}}}}",
    )
    report = gitward.json("sync", str(app), "--wait")
    assert report["phase"] == "Succeeded", report
    live = kget(cluster, "-n", "web", "deployment", "api-api")
    assert live["spec"]["replicas"] == 2
    assert (
        live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/api:v2"
    )
    gitward("diff", str(app))


def test_bad_inputs_fail_with_named_errors_and_change_nothing(
    gitward: Gitward, repo: Git, cluster: Any, tmp_path: Path
) -> None:
    sync_namespace(gitward, repo, tmp_path)
    app = application(
        tmp_path, "web-staging", repo.url, "web/overlays/staging", extra="    prune: true\n"
    )
    # Waited for: the API test server's rollout updates the Deployment's
    # status (and resourceVersion) for a while after a sync that returns at once.
    gitward("sync", str(app), "--wait")
    before = kget(cluster, "-n", "web", "deployment", "web")

    # Malformed YAML in the repository.
    repo.commit("broken yaml", {"web/base/service.yaml": "apiVersion: v1\nkind: [Service\n"})
    broken = gitward.json("sync", str(app), expect=2)
    assert broken["phase"] == "Failed"
    assert broken["reason"] == "RenderFailed"
    assert "service.yaml" in broken["message"]

    # A Kustomize resource escaping the repository.
    repo.commit(
        "escape",
        {
            "web/base/service.yaml": SERVICE,
            "web/overlays/staging/kustomization.yaml": STAGING.replace(
                "  - ../../base\n", "  - ../../base\n  - ../../../../../../etc\n"
            ),
        },
    )
    escaped = gitward.json("sync", str(app), expect=2)
    assert escaped["reason"] == "RenderFailed"
    assert "../../../../../../etc" in escaped["message"]

    # An empty render never prunes what the app manages.
    repo.commit(
        "empty",
        {
            "web/overlays/staging/kustomization.yaml": "resources: []\n",
        },
    )
    empty = gitward.json("sync", str(app), expect=2)
    assert empty["reason"] == "EmptyRender"

    after = kget(cluster, "-n", "web", "deployment", "web")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert kget(cluster, "-n", "web", "configmap", "web-settings") is not None

    # An application path that does not exist.
    missing = application(tmp_path, "missing", repo.url, "no/such/dir")
    gone = gitward.json("sync", str(missing), expect=2)
    assert "no/such/dir" in gone["message"]


def test_unreachable_git_server_is_source_unavailable(gitward: Gitward, tmp_path: Path) -> None:
    app = application(tmp_path, "nowhere", "http://127.0.0.1:9/org/repo.git", "")
    report = gitward.json("sync", str(app), expect=3)
    assert report["reason"] == "SourceFailed"
    assert "127.0.0.1:9" in report["message"]


def test_invalid_application_file_is_named(gitward: Gitward, tmp_path: Path) -> None:
    app = tmp_path / "bad.yaml"
    app.write_text("apiVersion: gitward.dev/v1\nkind: Application\nmetadata: {name: Bad_Name}\n")
    done = gitward("diff", str(app), expect=2)
    assert str(app) in done.stderr
    assert "Bad_Name" in done.stderr


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
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
              properties:
                size: {type: integer}
"""
WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: big
spec:
  size: 3
"""
KEEP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: keep-me
  annotations:
    gitward.dev/sync-options: Prune=false
data: {a: b}
"""


def test_crd_and_its_objects_sync_together_and_prune_false_is_kept(
    gitward: Gitward, git: Git, cluster: Any, tmp_path: Path
) -> None:
    git.commit(
        "widgets",
        {
            "ns/ns.yaml": NAMESPACE,
            "widgets/crd.yaml": CRD,
            "widgets/big.yaml": WIDGET,
            "widgets/keep.yaml": KEEP,
        },
    )
    gitward("sync", str(application(tmp_path, "ns", git.url, "ns")))
    app = application(tmp_path, "widgets", git.url, "widgets", extra="    prune: true\n")
    report = gitward.json("sync", str(app), "--wait")
    assert report["phase"] == "Succeeded", report
    assert results(report)["Widget.example.com web/big"] == "Created"
    assert kget(cluster, "-n", "web", "widgets.example.com", "big")["spec"]["size"] == 3
    gitward("diff", str(app))

    git.commit(
        "drop the widget and the kept map", {"widgets/big.yaml": None, "widgets/keep.yaml": None}
    )
    second = gitward.json("sync", str(app))
    assert results(second)["Widget.example.com web/big"] == "Pruned"
    assert results(second)["ConfigMap web/keep-me"] == "Skipped"
    assert kget(cluster, "-n", "web", "configmap", "keep-me") is not None
