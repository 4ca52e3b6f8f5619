"""The install chart: rendered by the real Helm SDK, linted, applied with the real kubectl.

The plain manifests (deploy/manifests) and the chart's CRDs are generated; a
test fails when they drift from the chart or from the config models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from gitward import errors
from gitward.config import crds
from gitward.install import generating, manifests
from tests.fixtures import kget, kubectl

ROOT = Path(__file__).resolve().parents[2]


def _by_kind(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        out.setdefault(obj["kind"], []).append(obj)
    return out


def test_generated_files_match_the_chart_and_the_models() -> None:
    for name, text in generating.crd_files().items():
        path = manifests.CHART_DIR / "crds" / name
        assert path.read_text() == text, f"{path} is stale: run `make manifests`"
    for name, text in generating.plain_files().items():
        path = ROOT / "deploy" / "manifests" / name
        assert path.read_text() == text, f"{path} is stale: run `make manifests`"
    assert (ROOT / "deploy" / "chart").resolve() == manifests.CHART_DIR.resolve()


def test_check_mode_names_a_drifted_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "deploy" / "manifests"
    out.mkdir(parents=True)
    for name, text in generating.plain_files().items():
        (out / name).write_text(text)
    assert generating.main(["--root", str(tmp_path), "--check"]) == 0
    (out / "install.yaml").write_text("# edited by hand\n")
    assert generating.main(["--root", str(tmp_path), "--check"]) == 1
    assert "install.yaml" in capsys.readouterr().err
    assert (out / "install.yaml").read_text() == "# edited by hand\n"


def test_chart_lint_is_clean() -> None:
    for values in ({}, {"rbac": {"scope": "namespaced", "namespaces": ["web"]}}):
        report = helm_python.lint(manifests.CHART_DIR, values, strict=True)
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert report["total_charts_linted"] == 1
        assert not problems and not report.get("errors"), report


def test_deployment_is_locked_down() -> None:
    kinds = _by_kind(manifests.render({"image": {"tag": "1.2.3"}}))
    deployment = kinds["Deployment"][0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "registry.example.com/gitward:1.2.3"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    # Every path the agent writes is a volume; the root stays read-only.
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/tmp", "/var/lib/gitward", "/var/cache/gitward", "/etc/gitward"} <= mounts
    config = yaml.safe_load(kinds["ConfigMap"][0]["data"]["gitward.yaml"])
    assert config["store"].endswith("/var/lib/gitward/state.db")
    assert config["cacheDir"] == "/var/cache/gitward"
    assert config["targets"] == {"in-cluster": {"inCluster": True}}
    assert {"Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount"} <= set(kinds)
    assert "Namespace" not in kinds  # helm install --create-namespace makes it


def test_secrets_are_referenced_never_inlined() -> None:
    values = {
        "envFromSecrets": ["git-credentials"],
        "secretMounts": [{"secretName": "deploy-key", "mountPath": "/etc/gitward/secrets/key"}],
        "config": {
            "repositories": [{"url": "https://git.example.com/*", "passwordEnv": "GIT_TOKEN"}]
        },
    }
    kinds = _by_kind(manifests.render(values))
    assert "Secret" not in kinds
    pod = kinds["Deployment"][0]["spec"]["template"]["spec"]
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "git-credentials"}}]
    assert {
        "name": "secret-0",
        "secret": {"secretName": "deploy-key", "defaultMode": 0o400},
    } in pod["volumes"]
    config = yaml.safe_load(kinds["ConfigMap"][0]["data"]["gitward.yaml"])
    assert config["repositories"][0]["passwordEnv"] == "GIT_TOKEN"
    assert config["targets"]["in-cluster"] == {
        "inCluster": True
    }  # user config merged, not replaced


def test_rbac_modes() -> None:
    cluster = _by_kind(manifests.render())
    assert [r["metadata"]["name"] for r in cluster["ClusterRole"]] == ["gitward-gitward-system"]
    agent_role = next(r for r in cluster["Role"] if r["metadata"]["name"] == "gitward-agent")
    leases = next(r for r in agent_role["rules"] if r["apiGroups"] == ["coordination.k8s.io"])
    assert {"get", "create", "update", "delete"} <= set(leases["verbs"])
    status = next(r for r in agent_role["rules"] if "applications/status" in r["resources"])
    assert "patch" in status["verbs"]

    namespaced = _by_kind(
        manifests.render({"rbac": {"scope": "namespaced", "namespaces": ["web", "db"]}})
    )
    assert "ClusterRole" not in namespaced and "ClusterRoleBinding" not in namespaced
    managed = sorted(
        r["metadata"]["namespace"]
        for r in namespaced["Role"]
        if r["metadata"]["name"] == "gitward-manage"
    )
    assert managed == ["db", "gitward-system", "web"]
    config = yaml.safe_load(namespaced["ConfigMap"][0]["data"]["gitward.yaml"])
    assert config["clusterObjects"]["namespaces"] == ["gitward-system", "web", "db"]


def test_replicas_coordinate_through_leases_on_a_shared_store() -> None:
    with pytest.raises(errors.ConfigError, match=r"replicas: 3 needs config.store"):
        manifests.render({"replicas": 3})
    store = "postgresql://gitward@postgres.gitward-system/gitward"
    kinds = _by_kind(manifests.render({"replicas": 3, "config": {"store": store}}))
    assert kinds["Deployment"][0]["spec"]["replicas"] == 3
    config = yaml.safe_load(kinds["ConfigMap"][0]["data"]["gitward.yaml"])
    assert config["replicas"] == {"coordinator": "kubernetes"} and config["store"] == store
    container = kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    # One replica: no coordinator (the configuration may still set one).
    single = yaml.safe_load(_by_kind(manifests.render())["ConfigMap"][0]["data"]["gitward.yaml"])
    assert "replicas" not in single


def test_a_wrong_value_names_it() -> None:
    with pytest.raises(errors.ConfigError, match=r"rbac\.scope"):
        manifests.render({"rbac": {"scope": "everything"}})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["install.yaml", "install-namespaced.yaml"])
def test_plain_manifests_apply_server_side(cluster: Any, name: str) -> None:
    path = ROOT / "deploy" / "manifests" / name
    applied = kubectl(cluster, "apply", "--server-side", "-f", str(path), check=False)
    assert applied.returncode == 0, applied.stderr
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert applied.stdout.count("serverside-applied") == len(documents)
    for doc in documents:
        meta = doc["metadata"]
        args = [doc["kind"].lower(), meta["name"]]
        if "namespace" in meta:
            args += ["-n", meta["namespace"]]
        assert kget(cluster, *args) is not None, args
    crd = kget(cluster, "crd", "applications.gitward.dev")
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}
    assert kget(cluster, "deploy", "gitward", "-n", "gitward-system")["spec"]["replicas"] == 1
    again = kubectl(cluster, "apply", "--server-side", "-f", str(path))
    assert again.returncode == 0


@pytest.mark.slow
def test_cluster_applications_show_sync_and_health_columns(cluster: Any) -> None:
    for definition in crds.definitions():
        kubectl(cluster, "apply", "--server-side", "-f", "-", stdin=json.dumps(definition))
    kubectl(cluster, "wait", "--for=condition=Established", "crd/applications.gitward.dev")
    app = {
        "apiVersion": "gitward.dev/v1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example.com/deploy.git", "path": "web"},
            "destination": {"target": "in-cluster", "namespace": "web"},
            "syncPolicy": {
                "automated": {"prune": True},
                "interval": "5m",
                "retry": {"backoff": {"duration": 5, "factor": 2}},
            },
            "render": {"helm": {"values": {"replicas": 2, "nested": {"a": [1]}}}},
        },
    }
    kubectl(cluster, "apply", "--server-side", "-f", "-", stdin=json.dumps(app))
    stored = kget(cluster, "applications", "web", "-n", "default")
    parsed = crds.application_from_object(stored)
    assert parsed.spec.sync_policy.interval == 300.0
    assert parsed.spec.render.helm is not None and parsed.spec.render.helm.values["nested"] == {
        "a": [1]
    }
    status = {"status": {"sync": "Synced", "health": "Healthy", "revision": "abc1234"}}
    kubectl(
        cluster,
        "patch",
        "applications",
        "web",
        "-n",
        "default",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    table = kubectl(cluster, "get", "applications", "-A").stdout
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAMESPACE", "NAME", "SYNC", "HEALTH", "REVISION", "AGE"]
    assert row.split()[:5] == ["default", "web", "Synced", "Healthy", "abc1234"]
