"""``gitward app ...``, ``gitward events`` and ``gitward token`` against a running
``gitward serve`` process (real git repository, Kubernetes API test server,
SQLite store), over real HTTP on loopback.

Most commands run in-process through typer's runner (fast); the exit codes,
``events --follow`` and ``token create`` also run as real ``gitward``
processes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.conftest import (
    CANARY,
    FORBIDDEN_TEXTS,
    PROJECT,
    Git,
    application,
    configmap,
    deployment,
    secret,
)
from typer.testing import CliRunner

from gitward.cli import main
from gitward.testing import kubeapi


@dataclass
class Agent:
    url: str
    config: Path
    env: dict[str, str]
    git: Git
    admin: str
    team_reader: str
    log: Path

    def run(self, *args: str, token: str | None = None, server: str | None = None) -> Any:
        """The command in-process; returns click's Result (exit_code, stdout, stderr)."""
        env = {
            "GITWARD_SERVER": server or self.url,
            "GITWARD_TOKEN": token or "",
            "COLUMNS": "200",
        }
        return CliRunner().invoke(main.app, list(args), env=env, catch_exceptions=False)

    def process(
        self, *args: str, token: str = "", **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gitward", *args],
            env=self.env | {"GITWARD_SERVER": self.url, "GITWARD_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=120,
            **kwargs,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    root = tmp_path_factory.mktemp("cli")
    home = root / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Ada Author",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Author",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "XDG_CACHE_HOME": str(root / "cache"),
        "GITWARD_LOG_FORMAT": "json",
        # The agent process runs the code under test (a worktree's src too).
        **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ},
    }
    git = Git(root, env)
    git.commit(
        "apps",
        {
            "apps/web.yaml": application("web", git.url, "web"),
            "apps/team.yaml": PROJECT
            + "---\n"
            + application("billing", git.url, "billing", project="team", automated=False)
            + "---\n"
            + application("slow", git.url, "slow", project="team", automated=False),
            "web/cm.yaml": configmap("web-settings", "a"),
            "billing/cm.yaml": configmap("billing-settings", "b"),
            "billing/secret.yaml": secret("billing-credentials", CANARY),
            "slow/deploy.yaml": deployment("slow", "example/slow:fail"),
        },
    )
    with kubeapi.running(workload_delay=0.1, progress_deadline=1.0) as cluster:
        kubeconfig = cluster.write_kubeconfig(root / "kubeconfig")
        port = _free_port()
        config = root / "gitward.yaml"
        config.write_text(
            f"targets:\n  test: {{kubeconfig: {kubeconfig}}}\n"
            f'root: {{repoURL: "{git.url}", ref: main, path: apps}}\n'
            f"store: sqlite:///{root / 'state.db'}\n"
            f"cacheDir: {root / 'agent-cache'}\n"
            f"pollInterval: 0.5s\n"
            f"listen: 127.0.0.1:{port}\n"
        )
        tokens = {}
        for name, role, project in (
            ("ci-admin", "admin", "*"),
            ("team-reader", "read-only", "team"),
        ):
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "gitward",
                    "token",
                    "create",
                    name,
                    "--config",
                    str(config),
                    "--role",
                    role,
                    "--project",
                    project,
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            tokens[name] = done.stdout.strip()
            assert tokens[name] not in done.stderr
        log = root / "agent.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gitward", "serve", "--config", str(config)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "agent not ready:\n" + log.read_text()
                time.sleep(0.1)
            made = Agent(url, config, env, git, tokens["ci-admin"], tokens["team-reader"], log)
            # Each Application reconciled once (and known to the agent) before the tests.
            # A refresh also covers a first reconcile that ran before the catalog's
            # Projects were recorded (reported to the engine's owner).
            for name in ("web", "billing", "slow"):
                eventually(
                    lambda name=name: (
                        made.run("app", "refresh", name, token=made.admin).exit_code == 0
                    ),
                    f"{name} declared",
                )
            eventually(
                lambda: all(
                    a["sync"]["status"] != "Unknown"
                    for a in json.loads(
                        made.run("app", "list", "-o", "json", token=made.admin).stdout
                    )
                ),
                "every Application reconciled",
            )
            yield made
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            for name in tokens.values():
                assert name not in log.read_text(), "a token was logged"


def eventually(check: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def no_canary(*texts: str) -> None:
    for text in texts:
        for forbidden in FORBIDDEN_TEXTS:
            assert forbidden not in text


def test_list_get_and_exit_codes(agent: Agent) -> None:
    listed = eventually(
        lambda: (
            (r := agent.run("app", "list", "-o", "json", token=agent.admin))
            and len(json.loads(r.stdout)) == 3
            and r
        ),
        "three applications",
    )
    assert listed.exit_code == 0
    assert [a["name"] for a in json.loads(listed.stdout)] == ["billing", "slow", "web"]

    table = agent.run("app", "list", "--project", "default", token=agent.admin)
    assert table.exit_code == 0
    assert "web" in table.stdout and "billing" not in table.stdout

    team = agent.run("app", "list", "-o", "yaml", token=agent.team_reader)
    assert "name: billing" in team.stdout and "name: web" not in team.stdout

    got = agent.run("app", "get", "billing", token=agent.team_reader)
    assert got.exit_code == 0, got.stderr
    assert "OutOfSync" in got.stdout and "billing-credentials" in got.stdout, got.stdout
    no_canary(got.stdout)

    cases = [
        (("app", "get", "nope"), agent.admin, None, 2, "not found"),
        # Another Project's Application answers as an unknown one (no existence leak).
        (("app", "get", "web"), agent.team_reader, None, 2, "not found"),
        (("app", "get", "web"), "", None, 4, "unauthorized"),
        (("app", "get", "web"), "gw_wrong", None, 4, "unauthorized"),
        (("app", "sync", "billing"), agent.team_reader, None, 4, "read-only"),
        (("app", "list"), agent.admin, "http://127.0.0.1:1", 3, "cannot reach"),
        (("app", "list", "-o", "xml"), agent.admin, None, 2, "unknown output"),
    ]
    for args, token, server, code, message in cases:
        result = agent.run(*args, token=token, server=server)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert not token or token not in result.stderr


def test_exit_codes_of_the_real_command(agent: Agent) -> None:
    ok = agent.process("app", "list", token=agent.admin)
    assert ok.returncode == 0 and "billing" in ok.stdout
    assert agent.process("app", "get", "nope", token=agent.admin).returncode == 2
    assert agent.process("app", "list", token="gw_wrong").returncode == 4
    down = agent.process("app", "list", "--server", "http://127.0.0.1:1", token=agent.admin)
    assert down.returncode == 3


def test_diff_sync_wait_history_events(agent: Agent) -> None:
    diff = agent.run("app", "diff", "billing", token=agent.team_reader)
    assert diff.exit_code == 1, diff.stderr
    assert "create Secret default/billing-credentials" in diff.stdout
    as_json = agent.run("app", "diff", "billing", "-o", "json", token=agent.admin)
    assert json.loads(as_json.stdout)["plan"]["summary"]["create"] == 2

    dry = agent.run("app", "sync", "billing", "--dry-run", "-o", "json", token=agent.admin)
    assert dry.exit_code == 0 and json.loads(dry.stdout)["operation"]["dryRun"] is True

    synced = agent.run("app", "sync", "billing", "--wait", "--timeout", "60", token=agent.admin)
    assert synced.exit_code == 0, synced.stdout + synced.stderr
    assert "billing is synced and healthy" in synced.stdout
    assert "healthy" in synced.stderr  # the progress display
    assert agent.run("app", "diff", "billing", token=agent.admin).exit_code == 0

    history = agent.run("app", "history", "billing", "-o", "json", token=agent.admin)
    ops = json.loads(history.stdout)
    assert [op["dryRun"] for op in ops[:2]] == [False, True]
    assert ops[0]["phase"] == "Succeeded"
    assert (
        "manual sync by token 'ci-admin'"
        in agent.run("app", "history", "billing", token=agent.admin).stdout
    )

    events = agent.run("events", "--app", "billing", "-o", "json", token=agent.admin)
    reasons = [json.loads(line)["reason"] for line in events.stdout.splitlines()]
    assert "SyncSucceeded" in reasons
    text_events = agent.run("events", token=agent.admin)
    assert "SyncSucceeded" in text_events.stdout
    no_canary(diff.stdout, as_json.stdout, dry.stdout, synced.stdout, events.stdout)

    waited = agent.run("app", "wait", "billing", "--timeout", "30", token=agent.admin)
    assert waited.exit_code == 0, waited.stdout


def test_sync_wait_fails_when_unhealthy(agent: Agent) -> None:
    result = agent.run("app", "sync", "slow", "--wait", "--timeout", "2", token=agent.admin)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "slow is" in result.stdout and "Deployment.apps default/slow" in result.stdout
    waited = agent.run("app", "wait", "slow", "--timeout", "1", "-o", "json", token=agent.admin)
    assert waited.exit_code == 1
    assert json.loads(waited.stdout)["health"]["status"] != "Healthy"


def test_selected_resource_sync_and_bad_selector(agent: Agent) -> None:
    bad = agent.run("app", "sync", "web", "-r", "configmap/default/nope", token=agent.admin)
    assert bad.exit_code == 2 and "configmap/default/nope" in bad.stderr
    one = agent.run(
        "app", "sync", "web", "-r", "configmap/default/web-settings", "-o", "json",
        token=agent.admin,
    )  # fmt: skip
    assert one.exit_code == 0, one.stderr
    results = json.loads(one.stdout)["operation"]["results"]
    assert [r["resource"] for r in results] == ["ConfigMap default/web-settings"]


def test_suspend_resume(agent: Agent) -> None:
    suspended = agent.run("app", "suspend", "web", token=agent.admin)
    assert suspended.exit_code == 0 and "web suspended" in suspended.stdout
    got = json.loads(agent.run("app", "get", "web", "-o", "json", token=agent.admin).stdout)
    assert got["suspended"] is True
    resumed = agent.run("app", "resume", "web", token=agent.admin)
    assert resumed.exit_code == 0 and "web resumed" in resumed.stdout


def test_events_follow_streams_new_events(agent: Agent) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "gitward", "events", "--follow", "--app", "web", "-o", "json"],
        env=agent.env | {"GITWARD_SERVER": agent.url, "GITWARD_TOKEN": agent.admin},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            # History first, then the stream resumes after its last id: an event
            # of this commit is printed once, whichever side of the switch it falls.
            head = agent.git.commit("web b", {"web/cm.yaml": configmap("web-settings", "live")})
            deadline = time.monotonic() + 30
            seen = []
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                seen.append(json.loads(line))
                if seen[-1]["reason"] == "SyncSucceeded" and seen[-1]["revision"] == head:
                    break
            assert any(e["reason"] == "SyncSucceeded" and e["revision"] == head for e in seen), seen
            assert proc.poll() is None, "--follow keeps running"
        finally:
            proc.terminate()
            proc.wait(10)


def test_rollback_pins(agent: Agent) -> None:
    first = json.loads(agent.run("app", "get", "web", "-o", "json", token=agent.admin).stdout)
    revision = first["sync"]["revision"]
    result = agent.run("app", "rollback", "web", "--to", revision, token=agent.admin)
    assert result.exit_code == 0, result.stderr
    assert f"web pinned to {revision[:12]}" in result.stdout
    got = json.loads(agent.run("app", "get", "web", "-o", "json", token=agent.admin).stdout)
    assert got["pinnedRevision"] == revision
    both = agent.run("app", "rollback", "web", "--to", "a", "--commit", "b", token=agent.admin)
    assert both.exit_code == 2 and "not both" in both.stderr


def test_token_commands(agent: Agent) -> None:
    bad_role = agent.process("token", "create", "x", "--config", str(agent.config), "--role", "god")
    assert bad_role.returncode == 2 and "unknown role" in bad_role.stderr
    no_project = agent.process("token", "create", "x", "--config", str(agent.config))
    assert no_project.returncode == 2 and "at least one Project" in no_project.stderr
    again = agent.process(
        "token", "create", "ci-admin", "--config", str(agent.config), "--project", "*"
    )
    assert again.returncode == 2 and "--replace" in again.stderr
    listed = agent.process("token", "list", "--config", str(agent.config))
    assert "ci-admin" in listed.stdout and "team-reader" in listed.stdout
    assert agent.admin not in listed.stdout
    temp = agent.process(
        "token", "create", "temp", "--config", str(agent.config), "--project", "team"
    )
    secret_token = temp.stdout.strip()
    assert agent.run("app", "get", "billing", token=secret_token).exit_code == 0
    deleted = agent.process("token", "delete", "temp", "--config", str(agent.config))
    assert deleted.returncode == 0
    # Revocation takes effect at once: the store is read on every request.
    assert agent.run("app", "get", "billing", token=secret_token).exit_code == 4


def test_replicas_of_a_single_replica(agent: Agent) -> None:
    shown = agent.run("replicas", token=agent.team_reader)
    assert shown.exit_code == 0, shown.stderr
    assert "a single replica (replicas.coordinator: none) owns all 3 Applications" in shown.stdout
    data = json.loads(agent.run("replicas", "-o", "json", token=agent.admin).stdout)
    assert data["enabled"] is False and data["members"] == [] and data["applications"] == 3
    refused = agent.run("replicas", token="")
    assert refused.exit_code == 4 and "unauthorized" in refused.stderr
    wrong = agent.run("replicas", "-o", "xml", token=agent.admin)
    assert wrong.exit_code == 2 and "--output must be text, json or yaml" in wrong.stderr
