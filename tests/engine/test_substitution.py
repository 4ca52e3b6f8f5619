"""Variables from the target's labels, a ConfigMap and a Secret named in the agent's
configuration, substituted after render; Secret values stay masked in the Plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitward.config import applications
from gitward.config import settings as config_settings
from gitward.diff import reports
from gitward.engine import reconciling, runtimes
from gitward.model import operations
from tests.fixtures import Git, create_namespace, kubectl

pytestmark = pytest.mark.slow

MANIFESTS = {
    "web/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"
        "data: {cluster: '${target_name}', env: '${target_env}', region: '${region}',"
        " tier: '${tier:=standard}'}\n"
    ),
    "web/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: web}\n"
        "stringData: {password: '${db_password}'}\n"
    ),
}


def app(url: str, post_build: dict[str, Any]) -> applications.Application:
    return applications.Application.model_validate(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "Application",
            "metadata": {"name": "web"},
            "spec": {
                "source": {"repoURL": url, "ref": "main", "path": "web"},
                "destination": {"target": "test", "namespace": "web"},
                "postBuild": post_build,
            },
        }
    )


async def test_variables_from_labels_configmap_and_secret(
    git: Git, cluster: Any, tmp_path: Path
) -> None:
    create_namespace(cluster, "web")
    kubectl(cluster, "create", "namespace", "vars")
    kubectl(
        cluster, "-n", "vars", "create", "configmap", "cluster-vars", "--from-literal=region=eu-1"
    )
    kubectl(
        cluster,
        "-n",
        "vars",
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=db_password=pw-1234567",
    )
    git.commit("manifests", dict(MANIFESTS))
    settings = config_settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig), "labels": {"env": "qa"}}},
            "cacheDir": str(tmp_path / "cache"),
            "variables": {
                "cluster-vars": {
                    "target": "test",
                    "namespace": "vars",
                    "kind": "ConfigMap",
                    "name": "cluster-vars",
                },
                "db": {"target": "test", "namespace": "vars", "kind": "Secret", "name": "db"},
            },
        }
    )
    declared = app(git.url, {"substituteFrom": ["cluster-vars", "db"]})
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        desired = await reconciling.desired_state(runtime, declared)
        plan = await reconciling.plan(runtime, declared, desired)
        printed = json.dumps(reports.to_dict(plan)) + reports.text(plan, show_unchanged=True)
        assert "pw-1234567" not in printed
        report = await reconciling.sync(runtime, declared, trigger="test")
        assert report.operation.phase is operations.OperationPhase.SUCCEEDED, (
            report.operation.message
        )
        assert "pw-1234567" not in report.operation.message
        # A new value in the Secret: the plan updates the Secret, values masked.
        kubectl(
            cluster,
            "-n",
            "vars",
            "patch",
            "secret",
            "db",
            "-p",
            '{"stringData": {"db_password": "pw-7654321"}}',
        )
        changed = await reconciling.plan(
            runtime, declared, await reconciling.desired_state(runtime, declared)
        )
        printed = json.dumps(reports.to_dict(changed)) + reports.text(changed)
        assert "Secret web/web" in printed
        for value in ("pw-7654321", "pw-1234567", "cHctNzY1NDMyMQ==", "cHctMTIzNDU2Nw=="):
            assert value not in printed
    data = json.loads(
        kubectl(cluster, "-n", "web", "get", "configmap", "web", "-o", "json").stdout
    )["data"]
    assert data == {"cluster": "test", "env": "qa", "region": "eu-1", "tier": "standard"}
    secret = json.loads(kubectl(cluster, "-n", "web", "get", "secret", "web", "-o", "json").stdout)
    assert secret["data"]["password"] == "cHctMTIzNDU2Nw=="


async def test_missing_variable_source_and_secret_in_configmap_are_refused(
    git: Git, cluster: Any, tmp_path: Path
) -> None:
    create_namespace(cluster, "web")
    git.commit(
        "manifests",
        {"web/cm.yaml": MANIFESTS["web/cm.yaml"].replace("${region}", "${db_password}")},
    )
    kubectl(
        cluster,
        "-n",
        "web",
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=db_password=pw-1234567",
    )
    settings = config_settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig), "labels": {"env": "qa"}}},
            "cacheDir": str(tmp_path / "cache"),
            "variables": {
                "db": {"target": "test", "namespace": "web", "kind": "Secret", "name": "db"}
            },
        }
    )
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        for post_build, expected in (
            ({"substituteFrom": ["nope"]}, "'nope', which is not declared"),
            ({"substituteFrom": ["db"]}, "come from a Secret"),
        ):
            declared = app(git.url, post_build)
            report = await reconciling.sync(runtime, declared, trigger="test")
            assert report.operation.phase is operations.OperationPhase.FAILED
            assert expected in report.operation.message
            assert "pw-1234567" not in report.operation.message
            assert not report.operation.results
