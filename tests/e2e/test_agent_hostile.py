"""Issue 11, the agent (``gitward serve``): hostile repositories never lose a live object.

A typo in Git, a Project that forbids what an Application declares and a chart
that eats memory each fail their own Application with a named condition,
keep its last good state live, and never stop the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.test_agent import AgentProcess, agent_factory, eventually
from tests.fixtures import Git, create_namespace, kget

pytestmark = pytest.mark.slow

__all__ = ["agent_factory"]  # the fixture, imported for its registration

CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata: {{value: '{value}'}}\n"
)
PROJECTS = """\
apiVersion: gitward.dev/v1
kind: Project
metadata: {name: team-a}
spec:
  sourceRepos: ["*"]
  destinations: [{target: test, namespace: "agent"}]
  clusterResourceWhitelist: [{group: "", kind: Namespace}]
"""
BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: team-a-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: agent}]
"""


def application(name: str, url: str, path: str, project: str = "default") -> str:
    return f"""\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}, project: {project}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: {path}}}
  destination: {{target: test, namespace: agent}}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
    retry: {{limit: 2, backoff: {{duration: 1s, factor: 2, maxDuration: 2s}}}}
"""


def reconciled(agent: AgentProcess, app: str) -> Any:
    status = agent.status(app)
    return {c.type: c for c in status.conditions}.get("Reconciled") if status else None


def test_agent_keeps_live_objects_through_typos_policy_and_memory_hogs(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess]
) -> None:
    create_namespace(cluster, "agent")
    git.commit(
        "apps",
        {
            "apps/cms.yaml": application("cms", git.url, "cms"),
            "apps/other.yaml": application("other", git.url, "other"),
            "apps/hog.yaml": application("hog", git.url, "hog"),
            "apps/admin.yaml": application("admin", git.url, "admin", project="team-a"),
            "apps/stray.yaml": application("stray", git.url, "other", project="team-z"),
            "apps/projects.yaml": PROJECTS,
            "cms/a.yaml": CONFIGMAP.format(name="a", value="1"),
            "cms/b.yaml": CONFIGMAP.format(name="b", value="1"),
            "other/c.yaml": CONFIGMAP.format(name="c", value="1"),
            "hog/Chart.yaml": "apiVersion: v2\nname: hog\nversion: 0.1.0\n",
            "hog/templates/hog.yaml": '{{ repeat 100000000 "xxxxxxxxxx" }}\n',
            "admin/binding.yaml": BINDING,
        },
    )
    agent = agent_factory(git.url, extra_config="renderMemoryLimit: 256Mi\n")
    agent.start()
    eventually(lambda: kget(cluster, "-n", "agent", "configmap", "b"), "cms synced")
    good = agent.status("cms").synced_revision.sha

    # The chart that drove Helm to 3.5 GB stops at the limit; the agent lives on.
    hog = eventually(
        lambda: (c := reconciled(agent, "hog")) and c.reason == "RenderFailed" and c, "hog fails"
    )
    assert "application hog: helm chart 'hog': went over the render memory limit of 256 MiB" in (
        hog.message
    )
    # The Project refuses the ClusterRoleBinding; an undeclared Project is refused.
    admin = eventually(
        lambda: (c := reconciled(agent, "admin")) and c.reason == "PolicyViolation" and c,
        "admin refused",
    )
    assert "ClusterRoleBinding.rbac.authorization.k8s.io" in admin.message
    stray = eventually(
        lambda: (c := reconciled(agent, "stray")) and c.reason == "PolicyViolation" and c,
        "stray refused",
    )
    assert "project 'team-z', which is not declared" in stray.message
    assert kget(cluster, "clusterrolebinding", "team-a-admin") is None

    # Issue 11's reproduction: `Kind:` for `kind:` once made prune delete b.
    git.commit(
        "typo", {"cms/b.yaml": CONFIGMAP.format(name="b", value="2").replace("kind:", "Kind:")}
    )
    typo = eventually(
        lambda: (c := reconciled(agent, "cms")) and c.reason == "RenderFailed" and c, "typo seen"
    )
    assert "cms/b.yaml#0 (line 1): not a Kubernetes object: kind missing" in typo.message
    # The others keep reconciling meanwhile: a change to `other` is applied...
    git.commit("other 2", {"other/c.yaml": CONFIGMAP.format(name="c", value="2")})
    eventually(
        lambda: kget(cluster, "-n", "agent", "configmap", "c")["data"]["value"] == "2",
        "other keeps reconciling",
    )
    # ...while cms keeps its last good state: nothing pruned, nothing applied.
    live = kget(cluster, "-n", "agent", "configmap", "b")
    assert live is not None and live["data"]["value"] == "1"
    status = agent.status("cms")
    assert status.synced_revision.sha == good
    assert reconciled(agent, "cms").reason == "RenderFailed"
    assert agent.proc is not None and agent.proc.poll() is None
    assert httpx.get(f"{agent.url}/healthz", timeout=5).status_code == 200

    # Fixed in Git: applied again.
    git.commit("fixed", {"cms/b.yaml": CONFIGMAP.format(name="b", value="3")})
    eventually(
        lambda: kget(cluster, "-n", "agent", "configmap", "b")["data"]["value"] == "3", "fixed"
    )
