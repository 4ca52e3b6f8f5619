"""Issue 13's done-when, with real processes: three ``gitward serve`` replicas on a
real PostgreSQL and the API test server (its own process), Applications synced
through a SIGKILL mid-sync, a SIGSTOP past the lease and a scale 3 -> 1 -> 3,
each Application owned by exactly one live replica after each step, and the
server's record of writes showing no Application written by two replicas in
overlapping time. The scenario lives in ``tests/e2e/ha_scenario.py`` (also run
by ``bench/ha.py``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import ha_scenario
from tests.fixtures import Git
from tests.store.postgres import PG_BIN, PostgresServer, postgres_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("replicas")]

APPLICATIONS = 30  # the bench runs 60; half keeps the suite's wall time modest


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15 server binaries are absent ({PG_BIN})")
    with postgres_server() as server:
        yield server


@pytest.mark.timeout(900)
def test_replicas_survive_kill_pause_and_scaling(postgres: PostgresServer, tmp_path: Path) -> None:
    postgres.execute("CREATE DATABASE ha")
    env = ha_scenario.environment(tmp_path)
    git = Git(tmp_path, env)
    scenario = ha_scenario.Scenario(
        tmp_path, postgres.database_url("ha"), git, env, apps=APPLICATIONS
    )
    try:
        outcome = scenario.run()
    except AssertionError:
        for replica in scenario.replicas.values():
            if replica.log.exists():
                print(f"--- {replica.name}\n" + replica.log.read_text()[-4000:])
        raise
    finally:
        scenario.stop()
    assert outcome.double_appliers == []
    assert outcome.unowned_after_rebalance == 0
    # r1 was killed while writing: the others wrote what it had not.
    assert outcome.takeovers, "no Application of the killed replica was left to take over"
    assert max(outcome.takeovers) < 60
    # Each replica wrote under its own name (the fence in the User-Agent).
    writers = {ha_scenario._replica_of(w) for w in scenario.writes()}
    assert {"r1", "r2", "r3"} <= writers


def test_sqlite_runs_one_replica(tmp_path: Path) -> None:
    env = ha_scenario.environment(tmp_path)
    git = Git(tmp_path, env)
    git.commit("nothing yet", {"apps/README": "no Application\n"})
    config = tmp_path / "gitward.yaml"
    config.write_text(
        f'root: {{repoURL: "{git.url}", ref: main, path: apps}}\n'
        f"store: sqlite:///{tmp_path / 'state.db'}\n"
        f"cacheDir: {tmp_path / 'cache'}\n"
        f"listen: 127.0.0.1:{ha_scenario._free_port()}\n"
    )
    first = subprocess.Popen(
        [sys.executable, "-m", "gitward", "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lock = tmp_path / "state.db.agent-lock"
        ha_scenario.eventually(
            lambda: lock.exists() and lock.read_text().strip() == str(first.pid), "the lock", 30
        )
        second = subprocess.run(
            [sys.executable, "-m", "gitward", "serve", "--config", str(config),
             "--listen", f"127.0.0.1:{ha_scenario._free_port()}"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert f"another gitward agent (pid {first.pid}) already uses this SQLite" in second.stderr
        assert first.poll() is None  # the first one runs on
    finally:
        first.terminate()
        first.wait(30)
    config.write_text(config.read_text() + "replicas: {coordinator: postgresql}\n")
    refused = subprocess.run(
        [sys.executable, "-m", "gitward", "serve", "--config", str(config)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "replicas share a PostgreSQL store; SQLite runs a single replica" in refused.stderr
