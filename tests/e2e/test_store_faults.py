"""Issue 11 points 5c and 5d: the store failing under ``gitward serve``.

The agent runs as a real process on a real SQLite file; the store's directory
is made read-only (a read-only bind mount when the tests run as root, who
ignores file modes; mode 0555 otherwise) or the file is overwritten with
garbage. Repositories are real git repositories, the target the Kubernetes
API test server.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_agent import (
    CONFIGMAP,
    AgentProcess,
    agent_factory,
    application,
    eventually,
)
from tests.fixtures import Git, kget

pytestmark = pytest.mark.slow
__all__ = ["agent_factory"]  # the fixture, imported for its registration

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: agent\n"


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Callable[[], None]]:
    """``path`` read-only for the agent; the callable makes it writable again."""
    as_root = os.geteuid() == 0
    if as_root:
        bound = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
        if bound.returncode != 0:
            pytest.skip(f"cannot bind-mount as root here: {bound.stderr.decode().strip()}")
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
    else:
        path.chmod(0o555)
    held = [True]

    def writable() -> None:
        if held.pop() if held else False:
            if as_root:
                subprocess.run(["umount", str(path)], check=True)
            else:
                path.chmod(0o755)

    try:
        yield writable
    finally:
        writable()


def on_store_in(agent: AgentProcess, directory: Path) -> None:
    """Point ``agent`` at a store file inside ``directory``."""
    text = agent.config.read_text().replace(f"sqlite:///{agent.db}", f"sqlite:///{directory}/s.db")
    agent.config.write_text(text)
    agent.db = directory / "s.db"


def probe(agent: AgentProcess, path: str) -> httpx.Response:
    return httpx.get(f"{agent.url}/{path}", timeout=2)


def test_a_read_only_store_fails_healthz_then_the_agent_recovers_without_restart(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    git.commit(
        "app",
        {
            "apps/web.yaml": application("web", git.url, "web"),
            "web/ns.yaml": NAMESPACE,
            "web/cm.yaml": CONFIGMAP.format(name="web", value="1"),
        },
    )
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    agent = agent_factory(git.url)
    on_store_in(agent, store_dir)
    with read_only(store_dir) as make_writable:
        agent.start(ready=False)
        health = eventually(
            lambda: (r := probe(agent, "healthz")).status_code == 503 and r.text, "healthz 503"
        )
        # One line naming the store, not the root.
        assert health.count("\n") == 1 and health.startswith("unhealthy: store unavailable")
        assert str(store_dir) in health
        ready = probe(agent, "readyz")
        assert ready.status_code == 503 and "store unavailable" in ready.text
        assert kget(cluster, "-n", "agent", "configmap", "web") is None
        # A new commit while the store refuses: nothing is lost.
        head = git.commit("v2", {"web/cm.yaml": CONFIGMAP.format(name="web", value="2")})
        make_writable()
    eventually(lambda: probe(agent, "readyz").status_code == 200, "ready once writable")
    eventually(
        lambda: (s := agent.status("web")) and s.synced_revision and s.synced_revision.sha == head,
        "synced at the head",
    )
    assert probe(agent, "healthz").text == "ok\n"
    assert kget(cluster, "-n", "agent", "configmap", "web")["data"]["value"] == "2"
    log = agent.log.read_text()
    assert '"store unavailable"' in log and "applications root unavailable" not in log
    assert "Traceback" not in log
    assert agent.proc is not None and agent.proc.poll() is None  # never restarted


def gitward(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitward", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_corrupt_store_is_one_line_naming_the_file_and_exit_2(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess], env: dict[str, str]
) -> None:
    git.commit("app", {"apps/web.yaml": application("web", git.url, "web")})
    agent = agent_factory(git.url)
    agent.db.write_bytes(b"this is not a database, it was overwritten\n" * 200)
    for args in (
        ("serve", "--config", str(agent.config)),
        ("token", "list", "--config", str(agent.config)),
        ("report", "delivery", "--config", str(agent.config)),
    ):
        done = gitward(env, *args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (args, done.stderr)
        assert str(agent.db) in lines[0] and "damaged" in lines[0]
        assert "restore it from a backup" in lines[0] and "move it aside" in lines[0]
    assert agent.db.read_bytes().startswith(b"this is not a database")  # left as it was
