"""Issue 11 point 5: faults injected into a running agent (``gitward serve``).

The agent runs as a real process with its SQLite store; the Kubernetes API
test server runs in the test process and is stopped, restarted empty or made
to hang as the fault requires; repositories are real git repositories.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gitward.testing import kubeapi
from tests.e2e.test_agent import CONFIGMAP, AgentProcess, application, eventually, free_port
from tests.fixtures import Git, kget, kubectl
from tests.manifests import deployment
from tests.source.test_fetch_failures import fill, tiny_disk

pytestmark = pytest.mark.slow

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: agent\n"


class Cluster:
    """An API test server at a fixed address that can be restarted empty."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.kubeconfig = tmp_path / "kubeconfig"
        self.progress_deadline = 3.0
        self._running: contextlib.ExitStack | None = None

    def start(self) -> None:
        stack = contextlib.ExitStack()
        server = stack.enter_context(
            kubeapi.running(
                port=self.port, workload_delay=0.1, progress_deadline=self.progress_deadline
            )
        )
        server.write_kubeconfig(self.kubeconfig)
        self._running = stack

    def stop(self) -> None:
        if self._running is not None:
            self._running.close()
            self._running = None


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def agent_on(
    tmp_path: Path, env: dict[str, str], restartable: Cluster
) -> Iterator[Callable[..., AgentProcess]]:
    made: list[AgentProcess] = []

    def make(root_url: str, **kwargs: Any) -> AgentProcess:
        agent = AgentProcess(tmp_path, env, restartable, root_url, **kwargs)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.stop()


def test_an_api_server_restarted_empty_is_seen_and_healed_within_seconds(
    git: Git, restartable: Cluster, agent_on: Callable[..., AgentProcess]
) -> None:
    # As after an etcd restore or a rebuilt cluster at the same address: the
    # watches' resourceVersions mean nothing to the new server.
    git.commit(
        "two apps",
        {
            "apps/healed.yaml": application("healed", git.url, "healed"),
            "apps/reported.yaml": application("reported", git.url, "reported", self_heal=False),
            "healed/ns.yaml": NAMESPACE,
            "healed/cm.yaml": CONFIGMAP.format(name="healed", value="a"),
            "reported/cm.yaml": CONFIGMAP.format(name="reported", value="b"),
        },
    )
    agent = agent_on(git.url, poll="1s")
    agent.start()
    eventually(lambda: kget(restartable, "-n", "agent", "configmap", "reported"), "first sync")
    eventually(
        lambda: (s := agent.status("reported")) and s.sync.value == "Synced", "reported synced"
    )

    before = kget(restartable, "-n", "agent", "configmap", "healed")["metadata"]["uid"]
    restartable.stop()
    restartable.start()  # empty: the healed ConfigMap is gone until the agent sees it
    restarted = time.monotonic()

    # selfHeal: the namespace and the object are back within seconds, as a new
    # object (the agent may be quicker than a kubectl process to look).
    eventually(
        lambda: (
            (found := kget(restartable, "-n", "agent", "configmap", "healed"))
            and found["metadata"]["uid"] != before
        ),
        "re-created",
        timeout=20,
    )
    assert time.monotonic() - restarted < 15
    # No selfHeal: the missing object is reported, not re-created.
    eventually(
        lambda: (s := agent.status("reported")) and s.sync.value == "OutOfSync",
        "reported OutOfSync",
        timeout=20,
    )
    assert kget(restartable, "-n", "agent", "configmap", "reported") is None
    assert "DriftDetected" in [e.reason for e in agent.events("reported")]


class Hang:
    """A server at the cluster's address that accepts connections and never answers."""

    def __init__(self, port: int) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(64)
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._sock.accept()
                self._held.append(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._sock.close()
        self._thread.join(5)
        for conn in self._held:
            conn.close()


def with_target_timeout(agent: AgentProcess, timeout: str) -> None:
    text = agent.config.read_text()
    agent.config.write_text(text.replace("kubeconfig: ", f"timeout: {timeout}, kubeconfig: ", 1))


def condition(status: Any, type_: str) -> Any:
    return next((c for c in status.conditions if c.type == type_), None)


def test_a_hanging_target_is_a_condition_and_no_revision_is_claimed(
    git: Git, restartable: Cluster, agent_on: Callable[..., AgentProcess]
) -> None:
    first = git.commit(
        "app",
        {
            "apps/web.yaml": application("web", git.url, "web"),
            "web/ns.yaml": NAMESPACE,
            "web/cm.yaml": CONFIGMAP.format(name="web", value="1"),
        },
    )
    agent = agent_on(git.url, poll="0.5s")
    with_target_timeout(agent, "2s")
    agent.start()
    eventually(lambda: (s := agent.status("web")) and s.sync.value == "Synced" and s, "first sync")

    restartable.stop()
    hang = Hang(restartable.port)
    try:
        head = git.commit("v2", {"web/cm.yaml": CONFIGMAP.format(name="web", value="2")})
        status = eventually(
            lambda: (
                (s := agent.status("web"))
                and (c := condition(s, "TargetReachable")) is not None
                and not c.status
                and s.desired_revision == head
                and s
            ),
            "TargetReachable False at the new head",
        )
        assert condition(status, "TargetReachable").reason == "TargetUnreachable"
        assert status.desired_revision == head
        assert status.sync.value != "Synced"  # never "Synced" at a revision not applied
        assert status.synced_revision is not None and status.synced_revision.sha == first
        unreachable = [e for e in agent.events("web") if e.reason == "TargetUnreachable"]
        assert len(unreachable) == 1 and "target test unreachable" in unreachable[0].message
    finally:
        hang.close()

    restartable.start()  # back (empty): the agent applies the new head and says so
    status = eventually(
        lambda: (
            (s := agent.status("web"))
            and s.sync.value == "Synced"
            and s.synced_revision is not None
            and s.synced_revision.sha == head
            and s
        ),
        "synced at the new head",
    )
    assert condition(status, "TargetReachable").status
    assert "TargetReachable" in [e.reason for e in agent.events("web")]
    assert kget(restartable, "-n", "agent", "configmap", "web")["data"]["value"] == "2"


def test_degraded_after_a_successful_sync_and_health_timeout_outside_a_sync(
    git: Git, restartable: Cluster, agent_on: Callable[..., AgentProcess]
) -> None:
    # The API test server never gives up on this rollout itself: only the
    # Application's healthTimeout (3 s) can call it Degraded.
    restartable.stop()
    restartable.progress_deadline = 600.0
    restartable.start()
    git.commit(
        "app",
        {
            "apps/web.yaml": application("web", git.url, "web", self_heal=False).replace(
                "healthTimeout: 60s", "healthTimeout: 3s"
            ),
            "web/ns.yaml": NAMESPACE,
            "web/deploy.yaml": deployment("web", "example/web:1"),
        },
    )
    agent = agent_on(git.url)
    agent.start()
    eventually(
        lambda: (s := agent.status("web")) and s.health.status.value == "Healthy",
        "synced and healthy",
    )
    assert "HealthDegraded" not in [e.reason for e in agent.events("web")]

    # Someone rolls out an image that never starts; no sync is running.
    kubectl(restartable, "-n", "agent", "set", "image", "deployment/web", "main=example/fail:2")
    status = eventually(
        lambda: (s := agent.status("web")) and s.health.status.value == "Degraded" and s,
        "Degraded after healthTimeout",
        timeout=30,
    )
    assert "healthTimeout (3s)" in status.health.message
    degraded = [e for e in agent.events("web") if e.reason == "HealthDegraded"]
    assert len(degraded) == 1 and degraded[0].type.value == "Warning"
    assert "healthTimeout" in degraded[0].message


def test_a_full_cache_disk_is_named_not_ready_and_recovered_from(
    git: Git, restartable: Cluster, agent_on: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    git.commit(
        "app",
        {
            "apps/web.yaml": application("web", git.url, "web"),
            "web/ns.yaml": NAMESPACE,
            "web/cm.yaml": CONFIGMAP.format(name="web", value="1"),
        },
    )
    agent = agent_on(git.url, poll="0.5s")
    with tiny_disk(tmp_path / "disk", "2m") as disk:
        text = agent.config.read_text()
        agent.config.write_text(text.replace(str(tmp_path / "agent-cache"), str(disk / "cache")))
        fill(disk)
        agent.start(ready=False)
        # Nothing loaded because the root could not be fetched: never "ready".
        reason = eventually(
            lambda: (
                (r := httpx.get(f"{agent.url}/readyz", timeout=2)).status_code == 503
                and "applications root" in r.text
                and r.text
            ),
            "readyz naming the root's failure",
        )
        assert "no space left on the cache disk" in reason and str(disk) in reason
        assert "no error" not in agent.log.read_text()
        assert httpx.get(f"{agent.url}/healthz", timeout=2).status_code == 200  # not the store
        (disk / "filler").unlink()
        eventually(
            lambda: httpx.get(f"{agent.url}/readyz", timeout=2).status_code == 200,
            "ready once there is space",
        )
        eventually(lambda: kget(restartable, "-n", "agent", "configmap", "web"), "synced")
        agent.stop()
