"""Issue 11 point 5: faults injected into a running agent (``gitward serve``).

The agent runs as a real process with its SQLite store; the Kubernetes API
test server runs in the test process and is stopped, restarted empty or made
to hang as the fault requires; repositories are real git repositories.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gitward.testing import kubeapi
from tests.e2e.test_agent import CONFIGMAP, AgentProcess, application, eventually, free_port
from tests.fixtures import Git, kget

pytestmark = pytest.mark.slow

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: agent\n"


class Cluster:
    """An API test server at a fixed address that can be restarted empty."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.kubeconfig = tmp_path / "kubeconfig"
        self._running: contextlib.ExitStack | None = None

    def start(self) -> None:
        stack = contextlib.ExitStack()
        server = stack.enter_context(
            kubeapi.running(port=self.port, workload_delay=0.1, progress_deadline=3.0)
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

    restartable.stop()
    restartable.start()
    assert kget(restartable, "-n", "agent", "configmap", "healed") is None
    restarted = time.monotonic()

    # selfHeal: the namespace and the object are back within seconds.
    eventually(
        lambda: kget(restartable, "-n", "agent", "configmap", "healed"), "re-created", timeout=20
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
