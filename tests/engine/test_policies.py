"""Project limits: repositories, destinations, cluster-scoped kinds."""

from __future__ import annotations

from typing import Any

import pytest

from gitward import errors
from gitward.config import applications
from gitward.engine import policies
from gitward.model import resources


def app(
    project: str = "team-a",
    repo: str = "https://git.example.com/team-a/deploy.git",
    target: str = "prod",
    namespace: str = "team-a",
) -> applications.Application:
    return applications.parse(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "Application",
            "metadata": {"name": "web", "project": project},
            "spec": {
                "source": {"repoURL": repo},
                "destination": {"target": target, "namespace": namespace},
            },
        },
        "web.yaml",
    )


PROJECT = applications.parse_project(
    {
        "apiVersion": "gitward.dev/v1",
        "kind": "Project",
        "metadata": {"name": "team-a"},
        "spec": {
            "sourceRepos": ["https://git.example.com/team-a/*"],
            "destinations": [{"target": "prod", "namespace": "team-a*"}],
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
        },
    },
    "projects/team-a.yaml",
)


def manifest(kind: str, name: str, namespace: str = "", api: str = "v1") -> resources.Manifest:
    body: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": {"name": name}}
    if namespace:
        body["metadata"]["namespace"] = namespace
    return resources.Manifest.from_body(body, source=f"{name}.yaml")


def test_undeclared_default_project_allows_everything_but_unknown_projects_fail() -> None:
    assert policies.project_for(app(project="default"), {}) is None
    with pytest.raises(errors.PolicyViolation, match="project 'team-b', which is not declared"):
        policies.project_for(app(project="team-b"), {"team-a": PROJECT})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"repo": "https://git.example.com/team-b/x.git"},
            "repository https://git.example.com/team-b/x.git is not allowed",
        ),
        ({"target": "staging"}, "destination staging/team-a is not allowed"),
        ({"namespace": "kube-system"}, "destination prod/kube-system is not allowed"),
    ],
)
def test_application_outside_its_project_is_refused(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(errors.PolicyViolation, match=message):
        policies.check_application(app(**kwargs), PROJECT)
    policies.check_application(app(), PROJECT)


def test_each_manifest_is_checked_and_the_first_violation_is_named() -> None:
    ok = [
        manifest("ConfigMap", "a", "team-a"),
        manifest("ConfigMap", "b", "team-a-extra"),
        manifest("Namespace", "team-a"),
    ]
    policies.check_manifests(app(), PROJECT, ok)
    with pytest.raises(
        errors.PolicyViolation,
        match=r"ConfigMap kube-system/evil \(from evil.yaml\): namespace kube-system",
    ):
        policies.check_manifests(
            app(), PROJECT, [*ok, manifest("ConfigMap", "evil", "kube-system")]
        )
    with pytest.raises(
        errors.PolicyViolation,
        match=r"ClusterRole.rbac.authorization.k8s.io admin .*cluster-scoped",
    ):
        policies.check_manifests(
            app(),
            PROJECT,
            [manifest("ClusterRole", "admin", api="rbac.authorization.k8s.io/v1")],
        )


@pytest.mark.slow
async def test_a_manifest_outside_the_project_fails_the_plan_and_nothing_is_applied(
    git: Any, cluster: Any, tmp_path: Any
) -> None:
    from gitward.config import settings as config_settings
    from gitward.engine import reconciling, runtimes
    from tests.fixtures import create_namespace, kget

    create_namespace(cluster, "team-a")
    git.commit(
        "mixed",
        {
            "app/ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: {a: b}\n",
            "app/evil.yaml": "apiVersion: v1\nkind: ConfigMap\n"
            "metadata: {name: evil, namespace: kube-system}\ndata: {a: b}\n",
        },
    )
    project = applications.parse_project(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "Project",
            "metadata": {"name": "team-a"},
            "spec": {
                "sourceRepos": [git.url],
                "destinations": [{"target": "test", "namespace": "team-a"}],
            },
        },
        "projects/team-a.yaml",
    )
    the_app = applications.parse(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "Application",
            "metadata": {"name": "web", "project": "team-a"},
            "spec": {
                "source": {"repoURL": git.url, "ref": "main", "path": "app"},
                "destination": {"target": "test", "namespace": "team-a"},
            },
        },
        "web.yaml",
    )
    settings = config_settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
            "cacheDir": str(tmp_path / "cache"),
        }
    )
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        report = await reconciling.sync(runtime, the_app, trigger="test", project=project)
    assert report.operation.reason == "PolicyViolation"
    assert "ConfigMap kube-system/evil" in report.operation.message
    assert "app/evil.yaml" in report.operation.message
    assert report.operation.results == ()
    assert kget(cluster, "-n", "team-a", "configmap", "ok") is None
