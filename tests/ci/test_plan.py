"""``gitward plan``: a pull request previewed against the live target, as Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ci.conftest import application
from tests.fixtures import Git, Gitward, create_namespace
from tests.manifests import deployment

pytestmark = pytest.mark.slow

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: web-credentials
stringData:
  password: {value}
"""


def _branch(git: Git, name: str, files: dict[str, str | None]) -> str:
    git.run("checkout", "-q", "-B", name, "origin/main")
    git.write(files)
    git.run("add", "-A")
    git.run("commit", "-q", "-m", f"pull request {name}")
    git.run("push", "-q", "-f", "origin", f"HEAD:{name}")
    sha = git.run("rev-parse", "HEAD")
    git.run("checkout", "-q", "main")
    return sha


@pytest.fixture
def project(git: Git, tmp_path: Path) -> list[str]:
    git.commit(
        "two apps",
        {
            "web/web.yaml": deployment("web", "ghcr.io/example/web:1.0.0"),
            "web/worker.yaml": deployment("worker", "ghcr.io/example/worker:1.0.0"),
            "web/secret.yaml": SECRET.format(value="old-secret-value"),
            "other/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n",
        },
    )
    args = []
    for name, path in (("web", "web"), ("other", "other")):
        file = tmp_path / f"{name}.yaml"
        file.write_text(application(name, git.url, path, "plan"))
        args += ["--app", str(file)]
    return args


def test_plan_of_a_pull_request_against_the_live_target(
    git: Git, gitward: Gitward, cluster: Any, tmp_path: Path, project: list[str]
) -> None:
    create_namespace(cluster, "plan")
    gitward("sync", project[1])
    head = _branch(
        git,
        "pr",
        {
            "web/worker.yaml": None,
            "web/web.yaml": deployment("web", "ghcr.io/example/web:1.1.0"),
            "web/secret.yaml": SECRET.format(value="new-secret-value"),
        },
    )
    done = gitward("plan", "--revision", "pr", "--base", "main", *project, expect=1)
    report = done.stdout
    assert report.startswith("## gitward plan: `")
    assert f"→ `{head[:12]}`" in report
    assert "| web | 0 | 2 | 1 | ✏️ changes |" in report
    assert "- prune Deployment.apps plan/worker" in report
    assert '"ghcr.io/example/web:1.0.0" → "ghcr.io/example/web:1.1.0"' in report
    assert "<details>" in report and "```diff" in report
    assert "Unaffected: other." in report
    assert "secret-value" not in report
    assert "Secret plan/web-credentials" in report

    offline = gitward("plan", "--revision", "pr", "--base", "main", *project, "--offline", expect=1)
    assert "base render compared with head render" in offline.stdout
    assert "- prune Deployment.apps worker" in offline.stdout
    assert "secret-value" not in offline.stdout

    data = gitward.json("plan", "--revision", "pr", "--base", "main", *project, expect=1)
    assert data["exitCode"] == 1
    [web] = data["applications"]
    assert web["plan"]["summary"]["prune"] == 1

    nothing = gitward("plan", "--revision", "main", *project)
    assert "No Application is affected" in nothing.stdout


def test_unreachable_target_falls_back_to_the_base_render(
    git: Git, gitward: Gitward, tmp_path: Path, project: list[str]
) -> None:
    _branch(git, "pr", {"web/worker.yaml": None})
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {}}]\n"
    )
    done = gitward(
        "plan",
        "--revision",
        "pr",
        "--base",
        "main",
        *project,
        "--kubeconfig",
        str(dead),
        expect=1,
    )
    assert "target test unreachable" in done.stdout
    assert "base render compared with head render" in done.stdout
    assert "- prune Deployment.apps worker" in done.stdout


def test_render_errors_exit_2_and_are_shown_per_app(
    git: Git, gitward: Gitward, project: list[str]
) -> None:
    _branch(git, "broken", {"web/web.yaml": "kind: [unclosed\n"})
    done = gitward(
        "plan", "--revision", "broken", "--base", "main", *project, "--offline", expect=2
    )
    assert "❌ RenderFailed" in done.stdout
    assert "web/web.yaml" in done.stdout


def test_applications_added_and_removed_in_the_root(
    git: Git, gitward: Gitward, tmp_path: Path
) -> None:
    git.commit(
        "root",
        {
            "apps/old.yaml": application("old", git.url, "old", "plan"),
            "old/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\n",
        },
    )
    _branch(
        git,
        "pr",
        {
            "apps/old.yaml": None,
            "apps/new.yaml": application("new", git.url, "new", "plan"),
            "new/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: new}\n",
        },
    )
    config = tmp_path / "gitward.yaml"
    config.write_text(f'root: {{repoURL: "{git.url}", ref: main, path: apps}}\n')
    done = gitward("plan", "--config", str(config), "--revision", "pr", "--offline", expect=1)
    assert "| new | 1 | 0 | 0 |" in done.stdout
    assert "+ create ConfigMap new" in done.stdout
    assert "| old | - | - | - | 🗑️ removed |" in done.stdout
    assert "cascadeDelete is off" in done.stdout


def test_plan_enforces_the_projects_of_the_root(
    git: Git, gitward: Gitward, cluster: Any, tmp_path: Path
) -> None:
    # Issue 11: `plan` never looked Projects up; the root's own (at its ref) apply.
    create_namespace(cluster, "plan")
    admin = application("admin", git.url, "admin", "plan").replace(
        "metadata: {name: admin}", "metadata: {name: admin, project: team-a}"
    )
    git.commit(
        "root",
        {
            "apps/projects.yaml": (
                "apiVersion: gitward.dev/v1\nkind: Project\nmetadata: {name: team-a}\n"
                'spec: {sourceRepos: ["*"], destinations: [{target: test, namespace: plan}],'
                " clusterResourceWhitelist: [{group: '', kind: Namespace}]}\n"
            ),
            "apps/admin.yaml": admin,
            "admin/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n",
        },
    )
    _branch(
        git,
        "pr",
        {
            "admin/binding.yaml": (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
                "metadata: {name: take-over}\n"
                "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole,"
                " name: cluster-admin}\nsubjects: [{kind: Group, name: everyone}]\n"
            ),
            # A pull request cannot widen its own Project.
            "apps/projects.yaml": (
                "apiVersion: gitward.dev/v1\nkind: Project\nmetadata: {name: team-a}\n"
                'spec: {sourceRepos: ["*"], destinations: [{namespace: "*"}],'
                " clusterResourceWhitelist: [{group: '*', kind: '*'}]}\n"
            ),
        },
    )
    config = tmp_path / "gitward.yaml"
    config.write_text(
        f"targets:\n  test: {{kubeconfig: {cluster.kubeconfig}}}\n"
        f'root: {{repoURL: "{git.url}", ref: main, path: apps}}\n'
    )
    done = gitward("plan", "--config", str(config), "--revision", "pr", expect=2)
    assert "PolicyViolation" in done.stdout
    assert "ClusterRoleBinding.rbac.authorization.k8s.io take-over" in done.stdout
