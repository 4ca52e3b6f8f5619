"""Issue 11, one-shot commands: hostile or mistaken repositories never lose a live object.

Real git repositories, the Kubernetes API test server and ``gitward`` as a
process; what is live is read back with the real kubectl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import Git, Gitward, create_namespace, kget

pytestmark = pytest.mark.slow

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata: {{value: '1'}}\n"
PROJECTS = """\
apiVersion: gitward.dev/v1
kind: Project
metadata: {name: team-a}
spec:
  sourceRepos: ["*"]
  destinations: [{target: test, namespace: "team-a*"}]
  clusterResourceWhitelist: [{group: "", kind: Namespace}]
"""
BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: team-a-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: team-a}]
"""


def application(
    tmp_path: Path,
    name: str,
    url: str,
    path: str,
    *,
    project: str = "default",
    namespace: str = "work",
) -> Path:
    file = tmp_path / f"{name}.yaml"
    file.write_text(
        f"""\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}, project: {project}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: "{path}"}}
  destination: {{target: test, namespace: {namespace}}}
  syncPolicy: {{automated: {{prune: true}}}}
"""
    )
    return file


def test_a_kind_typo_fails_the_render_and_prunes_nothing(
    gitward: Gitward, git: Git, cluster: Any, tmp_path: Path
) -> None:
    create_namespace(cluster, "work")
    git.commit(
        "two",
        {"cms/a.yaml": CONFIGMAP.format(name="a"), "cms/b.yaml": CONFIGMAP.format(name="b")},
    )
    app = application(tmp_path, "cms", git.url, "cms")
    gitward("sync", "--prune", str(app))
    assert kget(cluster, "-n", "work", "configmap", "b") is not None

    git.commit("typo", {"cms/b.yaml": CONFIGMAP.format(name="b").replace("kind:", "Kind:")})
    expected = (
        "cms/b.yaml#0 (line 1): not a Kubernetes object: kind missing"
        " (found Kind: field names are case-sensitive)"
    )
    report = gitward.json("sync", "--prune", str(app), expect=2)
    assert report["phase"] == "Failed" and report["reason"] == "RenderFailed"
    assert expected in report["message"]
    assert report["results"] == []
    assert kget(cluster, "-n", "work", "configmap", "b") is not None
    assert kget(cluster, "-n", "work", "configmap", "a") is not None
    for command in ("render", "diff"):
        done = gitward(command, str(app), expect=2)
        assert expected in done.stderr, done.stderr

    # An object without a name, and a name that would become another API path.
    git.commit(
        "no name",
        {"cms/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n"},
    )
    done = gitward("sync", "--prune", str(app), expect=2)
    assert "cms/b.yaml#0 (line 1): ConfigMap: metadata.name is missing or empty" in done.stdout
    git.commit(
        "traversal",
        {"cms/b.yaml": CONFIGMAP.format(name="../../../namespaces/kube-system/configmaps/victim")},
    )
    done = gitward("sync", "--prune", str(app), expect=2)
    assert "may not contain '/'" in done.stdout
    assert kget(cluster, "-n", "work", "configmap", "b") is not None


def test_render_and_diff_report_duplicates_and_unknown_kinds(
    gitward: Gitward, git: Git, cluster: Any, tmp_path: Path
) -> None:
    create_namespace(cluster, "work")
    git.commit(
        "twice",
        {"dup/one.yaml": CONFIGMAP.format(name="x"), "dup/two.yaml": CONFIGMAP.format(name="x")},
    )
    app = application(tmp_path, "dup", git.url, "dup")
    twice = "ConfigMap x is declared twice: in dup/one.yaml#0 and in dup/two.yaml#0"
    for command in ("render", "diff"):
        assert twice in gitward(command, str(app), expect=2).stderr
    assert twice in gitward("sync", str(app), expect=2).stdout

    git.commit(
        "unknown kind",
        {
            "dup/two.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
        },
    )
    unknown = "the cluster does not serve kind Widget.example.com (example.com/v1)"
    rendered = gitward("render", "--kubeconfig", str(cluster.kubeconfig), str(app), expect=2)
    assert unknown in rendered.stderr
    assert unknown in gitward("diff", str(app), expect=2).stderr
    # Offline (no target to ask), render prints what it rendered.
    assert "kind: Widget" in gitward("render", str(app), env={"KUBECONFIG": "/nonexistent"}).stdout


def test_one_shot_commands_enforce_the_root_projects(
    gitward: Gitward, git: Git, cluster: Any, tmp_path: Path
) -> None:
    create_namespace(cluster, "team-a-web")
    git.commit(
        "root and workloads",
        {
            "apps/projects.yaml": PROJECTS,
            "team-a/escape/cm.yaml": CONFIGMAP.format(name="victim").replace(
                "metadata:\n", "metadata:\n  namespace: kube-system\n"
            ),
            "team-a/admin/binding.yaml": BINDING,
            "team-a/fine/cm.yaml": CONFIGMAP.format(name="fine"),
        },
    )
    config = tmp_path / "gitward.yaml"
    config.write_text(
        f"targets:\n  test: {{kubeconfig: {cluster.kubeconfig}}}\n"
        f'root: {{repoURL: "{git.url}", ref: main, path: apps}}\n'
        f"cacheDir: {tmp_path / 'cache-config'}\n"
    )

    def app(name: str, path: str, project: str = "team-a") -> str:
        return str(
            application(
                tmp_path, name, git.url, f"team-a/{path}", project=project, namespace="team-a-web"
            )
        )

    escape = gitward.json("sync", "--config", str(config), app("escape", "escape"), expect=2)
    assert escape["reason"] == "PolicyViolation"
    assert "ConfigMap kube-system/victim" in escape["message"]
    assert (
        "namespace kube-system on target test is not allowed by project team-a"
        in (escape["message"])
    )
    assert kget(cluster, "-n", "kube-system", "configmap", "victim") is None

    admin = gitward.json("sync", "--config", str(config), app("admin", "admin"), expect=2)
    assert admin["reason"] == "PolicyViolation"
    assert "cluster-scoped ClusterRoleBinding.rbac.authorization.k8s.io" in admin["message"]
    assert kget(cluster, "clusterrolebinding", "team-a-admin") is None
    done = gitward("diff", "--config", str(config), app("admin", "admin"), expect=2)
    assert "clusterResourceWhitelist" in done.stderr
    done = gitward("render", "--config", str(config), app("admin", "admin"), expect=2)
    assert "clusterResourceWhitelist" in done.stderr

    nobody = gitward.json(
        "sync", "--config", str(config), app("nobody", "fine", project="team-z"), expect=2
    )
    assert nobody["reason"] == "PolicyViolation"
    assert (
        "project 'team-z', which is not declared under the root (declared: team-a)"
        in (nobody["message"])
    )

    # Without a root nothing declares team-a: refused, saying why.
    lone = gitward.json("sync", app("lone", "fine"), expect=2)
    assert lone["reason"] == "PolicyViolation"
    assert "no root is configured" in lone["message"]
    assert kget(cluster, "-n", "team-a-web", "configmap", "fine") is None

    # Within its Project it syncs.
    fine = gitward.json("sync", "--config", str(config), app("fine", "fine"))
    assert fine["phase"] == "Succeeded"
    assert kget(cluster, "-n", "team-a-web", "configmap", "fine") is not None


def test_a_missing_local_repository_is_an_input_error(gitward: Gitward, tmp_path: Path) -> None:
    app = application(tmp_path, "nowhere", (tmp_path / "no-such-repo.git").as_uri(), "")
    report = gitward.json("sync", str(app), expect=2)
    assert report["reason"] == "SourceFailed"
    assert "no repository at" in report["message"] and "no-such-repo.git" in report["message"]
    assert gitward("render", str(app), expect=2).returncode == 2
