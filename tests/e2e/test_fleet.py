"""Issue 16 acceptance: one repository driving three clusters through an ApplicationSet.

Three Kubernetes API test servers are three clusters; ``gitward serve`` runs as a
real process with targets labelled in its configuration; the test edits the
configuration (labels), commits to Git, breaks a Deployment with the test
server's ``fail`` image tag, and stops one cluster, reading the results back from
the clusters, the store and the REST API.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gitward.config import crds
from gitward.testing import kubeapi
from tests.e2e.test_agent import AgentProcess, eventually
from tests.fixtures import Git, kget, kubectl
from tests.manifests import deployment

pytestmark = pytest.mark.slow


class Fleet:
    """Three clusters, each a Kubernetes API test server on its own thread."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self._stacks: dict[str, contextlib.ExitStack] = {}
        self.servers: dict[str, Any] = {}

    def start(self, name: str) -> Any:
        stack = contextlib.ExitStack()
        server = stack.enter_context(kubeapi.running(workload_delay=0.1, progress_deadline=2.0))
        server.kubeconfig = server.write_kubeconfig(self.tmp / f"{name}.kubeconfig")
        self._stacks[name] = stack
        self.servers[name] = server
        return server

    def stop(self, name: str) -> None:
        self._stacks.pop(name).close()

    def close(self) -> None:
        for stack in self._stacks.values():
            stack.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    clusters = Fleet(tmp_path)
    for name in ("stage-1", "eu-1", "us-1"):
        clusters.start(name)
    yield clusters
    clusters.close()


APPSET = """\
apiVersion: gitward.dev/v1
kind: ApplicationSet
metadata: {{name: web}}
spec:
  generators:
    - targets: {{selector: {{matchLabels: {selector}}}}}
  template:
    metadata: {{name: "web-{{{{target.name}}}}", labels: {{env: "{{{{target.labels.env}}}}"}}}}
    spec:
      source: {{repoURL: "{url}", ref: main, path: web}}
      destination: {{target: "{{{{target.name}}}}", namespace: web}}
      syncPolicy:
        automated: {{prune: true, selfHeal: true}}
        retry: {{limit: 2, backoff: {{duration: 1s, factor: 2, maxDuration: 2s}}}}
        healthTimeout: 20s
{extra}"""

ROLLING = """\
  strategy:
    rollingSync:
      steps:
        - matchLabels: {env: staging}
        - matchLabels: {env: prod}
"""

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n"


def _write_config(agent: AgentProcess, fleet: Fleet, labels: dict[str, str]) -> None:
    lines = ["targets:"]
    for name, server in fleet.servers.items():
        lines.append(
            f"  {name}: {{kubeconfig: {server.kubeconfig}, timeout: 3s, "
            f"labels: {{{labels[name]}}}}}"
        )
    text = agent.config.read_text()
    rest = text[text.index("root:") :]
    agent.config.write_text("\n".join(lines) + "\n" + rest)


def _agent(tmp_path: Path, env: dict[str, str], fleet: Fleet, url: str, labels: dict[str, str]):
    agent = AgentProcess(tmp_path, env, fleet.servers["eu-1"], url)
    _write_config(agent, fleet, labels)
    return agent


@contextlib.contextmanager
def _serving(agent: AgentProcess, config: str = "") -> Iterator[AgentProcess]:
    """``agent`` started with ``config`` and anonymous read access added to its
    configuration, and stopped after."""
    agent.config.write_text(agent.config.read_text() + config + "auth: {anonymous: read-only}\n")
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


def _commit_web(git: Git, message: str, selector: str, extra: str = "") -> None:
    """The ApplicationSet in apps/ (targets matching ``selector``) and web/ at version 1."""
    git.commit(
        message,
        {
            "apps/web.yaml": APPSET.format(selector=selector, url=git.url, extra=extra),
            "web/ns.yaml": NAMESPACE,
            "web/deploy.yaml": deployment("web", "example/web:1"),
        },
    )


def _image(server: Any) -> str | None:
    live = kget(server, "-n", "web", "deployment", "web")
    return live["spec"]["template"]["spec"]["containers"][0]["image"] if live else None


def _apps(agent: AgentProcess) -> dict[str, Any]:
    answer = httpx.get(f"{agent.url}/api/v1/applications", timeout=5)
    answer.raise_for_status()
    return {item["name"]: item for item in answer.json()["items"]}


def _targets(agent: AgentProcess) -> list[dict[str, Any]]:
    answer = httpx.get(f"{agent.url}/api/v1/targets", timeout=5)
    return list(answer.json()["items"])


def test_targets_generator_follows_labels(
    tmp_path: Path, env: dict[str, str], git: Git, fleet: Fleet
) -> None:
    _commit_web(git, "web on staging clusters", "{env: staging}")
    labels = {"stage-1": "env: staging", "eu-1": "env: prod", "us-1": "env: staging"}
    agent = _agent(tmp_path, env, fleet, git.url, labels)
    with _serving(agent):
        s1, eu, us = (fleet.servers[n] for n in ("stage-1", "eu-1", "us-1"))
        eventually(lambda: _image(s1) == "example/web:1" and _image(us) == "example/web:1", "sync")
        assert _image(eu) is None
        assert sorted(_apps(agent)) == ["web-stage-1", "web-us-1"]

        # Label eu-1 staging: an Application appears; unlabel stage-1: its one goes.
        labels |= {"eu-1": "env: staging", "stage-1": "env: retired"}
        _write_config(agent, fleet, labels)
        eventually(lambda: _image(eu) == "example/web:1", "eu-1 added")
        eventually(lambda: sorted(_apps(agent)) == ["web-eu-1", "web-us-1"], "stage-1 removed")
        # Without cascadeDelete the removed Application's objects keep running.
        assert _image(s1) == "example/web:1"

        targets = _targets(agent)
        assert {t["name"]: t["reachable"] for t in targets} == {
            "stage-1": True,
            "eu-1": True,
            "us-1": True,
        }
        assert {t["name"]: t["labels"] for t in targets}["eu-1"] == {"env": "staging"}


def test_rolling_sync_stops_at_a_failing_staging_and_continues_when_fixed(
    tmp_path: Path, env: dict[str, str], git: Git, fleet: Fleet
) -> None:
    _commit_web(git, "web everywhere, staging first", "{}", ROLLING)
    labels = {"stage-1": "env: staging", "eu-1": "env: prod", "us-1": "env: prod"}
    agent = _agent(tmp_path, env, fleet, git.url, labels)
    s1, eu, us = (fleet.servers[n] for n in ("stage-1", "eu-1", "us-1"))
    with _serving(agent):
        eventually(lambda: all(_image(s) == "example/web:1" for s in (s1, eu, us)), "v1", 60)

        git.commit("v2 fails", {"web/deploy.yaml": deployment("web", "example/web:2-fail")})
        eventually(lambda: _image(s1) == "example/web:2-fail", "staging gets v2")
        status = eventually(
            lambda: (
                (r := httpx.get(f"{agent.url}/api/v1/appsets/web", timeout=5).json())["phase"]
                == "Failed"
                and r
            ),
            "rollout failed at staging",
            60,
        )
        assert status["broken"] == ["web-stage-1"]
        # Said on the failed Application, so alerts routed by Application see it.
        failed = eventually(
            lambda: [
                e
                for e in httpx.get(
                    f"{agent.url}/api/v1/applications/web-stage-1/events", timeout=5
                ).json()["items"]
                if e["reason"] == "RolloutFailed"
            ],
            "RolloutFailed event",
        )
        assert "rollout stopped at step 1: web-stage-1 failed" in failed[0]["message"]
        # Production sees the new commit and is held back, not applied.
        for name in ("web-eu-1", "web-us-1"):
            held = eventually(
                lambda name=name: (
                    (a := _apps(agent)[name])["sync"]["status"] == "OutOfSync"
                    and "RolloutWaiting" in {c["reason"] for c in a["conditions"]}
                    and a
                ),
                f"{name} held by the rollout",
            )
            messages = " ".join(c["message"] for c in held["conditions"])
            assert "waiting for step 1 to be Synced and Healthy" in messages
        assert _image(eu) == "example/web:1" and _image(us) == "example/web:1"

        git.commit("v3 fixes", {"web/deploy.yaml": deployment("web", "example/web:3")})
        eventually(lambda: all(_image(s) == "example/web:3" for s in (s1, eu, us)), "v3", 60)
        # Applied everywhere; the rollout completes once the last step is also Healthy.
        eventually(
            lambda: (
                httpx.get(f"{agent.url}/api/v1/appsets/web", timeout=5).json()["phase"]
                == "Completed"
            ),
            "rollout completed",
        )


def test_a_stopped_cluster_leaves_the_others_reconciling(
    tmp_path: Path, env: dict[str, str], git: Git, fleet: Fleet
) -> None:
    _commit_web(git, "web everywhere", "{}")
    labels = {"stage-1": "env: staging", "eu-1": "env: prod", "us-1": "env: prod"}
    agent = _agent(tmp_path, env, fleet, git.url, labels)
    s1, us = fleet.servers["stage-1"], fleet.servers["us-1"]
    with _serving(agent):
        eventually(lambda: _image(fleet.servers["eu-1"]) == "example/web:1", "v1", 60)
        eventually(lambda: _image(s1) == "example/web:1" and _image(us) == "example/web:1", "v1")
        fleet.stop("eu-1")
        git.commit("v2", {"web/deploy.yaml": deployment("web", "example/web:2")})
        eventually(lambda: _image(s1) == "example/web:2" and _image(us) == "example/web:2", "v2")
        kubectl(s1, "-n", "web", "scale", "deployment", "web", "--replicas=3")
        eventually(
            lambda: kget(s1, "-n", "web", "deployment", "web")["spec"]["replicas"] == 1,
            "drift on a healthy cluster corrected while another is down",
        )
        rows = eventually(
            lambda: (
                (t := {row["name"]: row for row in _targets(agent)})["eu-1"]["reachable"] is False
                and t
            ),
            "eu-1 shown unreachable",
        )
        assert rows["eu-1"]["lastError"]
        assert rows["eu-1"]["since"]
        assert rows["us-1"]["reachable"] is True


def test_targets_registered_as_secrets_join_and_leave_the_fleet(
    tmp_path: Path, env: dict[str, str], git: Git, fleet: Fleet
) -> None:
    _commit_web(git, "web on staging clusters", "{env: staging}")
    management, eu = fleet.servers["stage-1"], fleet.servers["eu-1"]
    kubectl(management, "create", "namespace", "gitward-system")
    agent = AgentProcess(tmp_path, env, management, git.url)
    agent.config.write_text(agent.config.read_text().replace("  test: {", "  mgmt: {"))
    secrets = "targetSecrets: {target: mgmt, namespace: gitward-system, interval: 0.3s}\n"
    with _serving(agent, secrets):
        kubectl(
            management,
            "-n",
            "gitward-system",
            "create",
            "secret",
            "generic",
            "eu-1",
            f"--from-file=kubeconfig={eu.kubeconfig}",
        )
        kubectl(
            management,
            "-n",
            "gitward-system",
            "label",
            "secret",
            "eu-1",
            "gitward.dev/secret-type=target",
            "env=staging",
        )
        eventually(lambda: _image(eu) == "example/web:1", "registered cluster synced")
        assert sorted(_apps(agent)) == ["web-eu-1"]
        rows = _targets(agent)
        assert {r["name"]: r["labels"] for r in rows}["eu-1"] == {"env": "staging"}
        # No kubeconfig content in the API, and the file written is the agent's alone.
        assert "token" not in json.dumps(rows)
        written = tmp_path / "agent-cache" / "targets" / "registered" / "eu-1.kubeconfig"
        assert written.stat().st_mode & 0o777 == 0o600

        kubectl(
            management, "-n", "gitward-system", "label", "--overwrite", "secret", "eu-1", "env=prod"
        )
        eventually(lambda: _apps(agent) == {}, "relabelled cluster leaves the set")
        kubectl(management, "-n", "gitward-system", "delete", "secret", "eu-1")
        eventually(
            lambda: "eu-1" not in {r["name"] for r in _targets(agent)},
            "unregistered",
        )
        assert not written.exists()


def test_an_applicationset_declared_as_a_cluster_object_generates(
    tmp_path: Path, env: dict[str, str], git: Git, fleet: Fleet
) -> None:
    git.commit(
        "manifests only",
        {
            "apps/README.md": "",
            "web/ns.yaml": NAMESPACE,
            "web/deploy.yaml": deployment("web", "x:1"),
        },
    )
    management, eu = fleet.servers["stage-1"], fleet.servers["eu-1"]
    for definition in crds.definitions():
        kubectl(management, "apply", "--server-side", "-f", "-", stdin=json.dumps(definition))
    kubectl(management, "wait", "--for=condition=Established", "crd/applicationsets.gitward.dev")
    kubectl(management, "create", "namespace", "gitward-system")
    agent = _agent(tmp_path, env, fleet, git.url, dict.fromkeys(fleet.servers, "env: prod"))
    cluster_objects = (
        "clusterObjects: {target: stage-1, namespace: gitward-system, "
        "namespaces: [gitward-system]}\n"
    )
    appset = {
        "apiVersion": "gitward.dev/v1",
        "kind": "ApplicationSet",
        "metadata": {"name": "web", "namespace": "gitward-system"},
        "spec": {
            "generators": [{"list": {"elements": [{"cluster": "eu-1"}]}}],
            "template": {
                "metadata": {"name": "web-{{cluster}}"},
                "spec": {
                    "source": {"repoURL": git.url, "ref": "main", "path": "web"},
                    "destination": {"target": "{{cluster}}", "namespace": "web"},
                    "syncPolicy": {"automated": {"prune": True}},
                },
            },
        },
    }
    with _serving(agent, cluster_objects):
        kubectl(management, "apply", "-f", "-", stdin=json.dumps(appset))
        eventually(lambda: _image(eu) == "x:1", "the cluster-declared set's Application synced")
        assert sorted(_apps(agent)) == ["web-eu-1"]
        stored = eventually(
            lambda: (
                (o := kget(management, "-n", "gitward-system", "applicationset", "web"))
                and o.get("status", {}).get("conditions")
                and o
            ),
            "the set's verdict written",
        )
        assert stored["status"]["conditions"][0]["status"] == "True"
        # A broken template: the set keeps what it generated and says why.
        appset["spec"]["template"]["metadata"]["name"] = "web-{{nope}}"
        kubectl(management, "apply", "-f", "-", stdin=json.dumps(appset))
        events = eventually(
            lambda: [
                e
                for e in httpx.get(f"{agent.url}/api/v1/events", timeout=5).json()["items"]
                if "'nope' is undefined" in e["message"]
            ],
            "the template error reported",
        )
        assert "ApplicationSet 'web'" in events[0]["message"]
        assert sorted(_apps(agent)) == ["web-eu-1"]
        kubectl(management, "-n", "gitward-system", "delete", "applicationset", "web")
        eventually(lambda: _apps(agent) == {}, "the set deleted, its Application removed")
        assert _image(eu) == "x:1"  # not cascaded: the workload keeps running
