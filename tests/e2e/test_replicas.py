"""Issue 13's done-when, with real processes: three ``gitward serve`` replicas on a
real PostgreSQL and the API test server (its own process), Applications synced
through a SIGKILL mid-sync, a SIGSTOP past the lease and a scale 3 -> 1 -> 3,
each Application owned by exactly one live replica after each step, and the
server's record of writes showing no Application written by two replicas in
overlapping time. The scenario lives in ``tests/e2e/ha_scenario.py`` (also run
by ``bench/ha.py``)."""

from __future__ import annotations

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
