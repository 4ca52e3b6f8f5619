"""What only the SQL store has: URLs, schema versions and migrations, SQLite
pragmas, a real crash of the agent process, several agents on one database."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from gitward import errors
from gitward.model import operations
from gitward.store import base, migrating, storing
from tests.store import records
from tests.store.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    server.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    yield server.url


def _engine(url: str) -> sa.Engine:
    return storing.create_engine(storing.database_url(url))


# --- URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://gw:pw@db.example.com/gitward", "postgresql+psycopg"),
        ("postgres://gw@db.example.com:5433/gitward", "postgresql+psycopg"),
        ("postgresql+psycopg://gw@db/gitward", "postgresql+psycopg"),
        ("sqlite:///var/lib/gitward/state.db", "sqlite"),
        ("sqlite://", "sqlite"),
    ],
)
def test_database_url_chooses_the_driver(url: str, driver: str) -> None:
    assert storing.database_url(url).drivername == driver


def test_urls_never_show_the_password() -> None:
    store = storing.SqlStore("postgresql://gw:s3cr3t-pw@db.example.com/gitward")
    assert "s3cr3t-pw" not in store.display_url
    assert "s3cr3t-pw" not in repr(store)
    with pytest.raises(errors.ConfigError) as caught:
        storing.SqlStore("mysql://gw:s3cr3t-pw@db.example.com/gitward")
    assert "unsupported database 'mysql'" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)
    with pytest.raises(errors.ConfigError) as caught:
        storing.SqlStore("gw:s3cr3t-pw@not a url")
    assert "s3cr3t-pw" not in str(caught.value)


async def test_unreachable_postgresql_is_retryable_and_names_the_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once closed
    store = storing.SqlStore(f"postgresql://gw:s3cr3t-pw@127.0.0.1:{port}/gitward")
    with pytest.raises(errors.RetryableError) as caught:
        await store.open()
    assert caught.value.reason == "StoreUnavailable"
    assert f"127.0.0.1:{port}/gitward" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)
    with pytest.raises(base.StoreUnavailable, match="not open"):
        await store.list_status()


async def test_sqlite_in_a_missing_directory_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "state.db"
    store = storing.SqlStore(f"sqlite:///{path}")
    with pytest.raises(base.StoreUnavailable) as caught:
        await store.open()
    assert str(path) in str(caught.value)


async def test_sqlite_runs_in_wal_mode_with_immediate_transactions(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with storing.SqlStore(f"sqlite:///{path}") as store:
        await store.save_status(records.app())
        assert (tmp_path / "state.db-wal").exists()
    with sa.create_engine(f"sqlite:///{path}").connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


async def test_in_memory_sqlite_works(tmp_path: Path) -> None:
    async with storing.SqlStore("sqlite://") as store:
        await store.save_status(records.app())
        assert await store.get_status("web-staging") == records.app()


# --- schema versions -----------------------------------------------------------------------


async def test_a_new_database_is_stamped_with_the_latest_version(sql_url: str) -> None:
    async with storing.SqlStore(sql_url):
        pass
    engine = _engine(sql_url)
    with engine.connect() as conn:
        assert migrating.current_version(conn) == migrating.LATEST_VERSION
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert {
        "gitward_schema",
        "gitward_applications",
        "gitward_operations",
        "gitward_events",
        "gitward_tokens",
    } <= tables
    # Opening again changes nothing and keeps the data.
    async with storing.SqlStore(sql_url) as store:
        await store.save_status(records.app())
    async with storing.SqlStore(sql_url) as store:
        assert await store.get_status("web-staging") == records.app()


async def test_a_database_from_a_newer_gitward_is_refused(sql_url: str) -> None:
    async with storing.SqlStore(sql_url):
        pass
    engine = _engine(sql_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE gitward_schema SET version = 99"))
    engine.dispose()
    store = storing.SqlStore(sql_url)
    with pytest.raises(errors.ConfigError) as caught:
        await store.open()
    assert caught.value.reason == "IncompatibleStore"
    assert "version 99" in str(caught.value)
    assert "upgrade gitward" in str(caught.value)


def _add_owner_column(conn: sa.Connection) -> None:
    conn.execute(sa.text("ALTER TABLE gitward_applications ADD COLUMN owner VARCHAR"))
    conn.execute(sa.text("UPDATE gitward_applications SET owner = 'platform'"))


def _broken_migration(conn: sa.Connection) -> None:
    conn.execute(sa.text("CREATE TABLE gitward_half_done (id INTEGER)"))
    conn.execute(sa.text("ALTER TABLE gitward_no_such_table ADD COLUMN x INTEGER"))


async def test_migrations_run_forward_in_one_transaction(sql_url: str) -> None:
    async with storing.SqlStore(sql_url) as store:
        await store.save_status(records.app())
    engine = _engine(sql_url)
    now, then = migrating.LATEST_VERSION, migrating.LATEST_VERSION + 1
    try:
        with pytest.raises(sa.exc.SQLAlchemyError):
            migrating.upgrade(
                engine, latest=then, migrations={**migrating.MIGRATIONS, then: _broken_migration}
            )
        with engine.connect() as conn:
            assert migrating.current_version(conn) == now
            assert "gitward_half_done" not in sa.inspect(conn).get_table_names()

        upgraded = {**migrating.MIGRATIONS, then: _add_owner_column}
        assert migrating.upgrade(engine, latest=then, migrations=upgraded) == now
        with engine.connect() as conn:
            assert migrating.current_version(conn) == then
            owners = conn.execute(sa.text("SELECT owner FROM gitward_applications")).scalars()
            assert list(owners) == ["platform"]
        # Already there: nothing runs again.
        broken = {**migrating.MIGRATIONS, then: _broken_migration}
        assert migrating.upgrade(engine, latest=then, migrations=broken) == then
        with pytest.raises(
            base.IncompatibleSchema, match=rf"no migration to version\(s\) \[{then + 1}\]"
        ):
            migrating.upgrade(engine, latest=then + 1, migrations=upgraded)
    finally:
        engine.dispose()


async def test_version_1_gains_the_outbox(sql_url: str) -> None:
    async with storing.SqlStore(sql_url) as store:
        await store.save_status(records.app())
    engine = _engine(sql_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE gitward_deliveries"))
            conn.execute(sa.text("DROP TABLE gitward_cursors"))
            conn.execute(sa.text("UPDATE gitward_schema SET version = 1"))
        assert migrating.upgrade(engine) == 1
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
        assert {"gitward_deliveries", "gitward_cursors"} <= set(tables)
    finally:
        engine.dispose()


async def test_version_2_gains_the_operation_fence(sql_url: str) -> None:
    async with storing.SqlStore(sql_url) as store:
        old = await store.start_operation(records.operation("web"))
    engine = _engine(sql_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE gitward_operations DROP COLUMN fence"))
            conn.execute(sa.text("UPDATE gitward_schema SET version = 2"))
        assert migrating.upgrade(engine) == 2
    finally:
        engine.dispose()
    async with storing.SqlStore(sql_url) as store:
        assert (await store.get_operation(old)).operation.fence == ""
        fenced = replace(records.operation("web"), fence="gitward-1_ab#3")
        new = await store.start_operation(fenced)
        assert (await store.get_operation(new)).operation.fence == "gitward-1_ab#3"


# --- crashes and several agents ---------------------------------------------------------------

_CRASHING_AGENT = """
import asyncio, os, sys
from datetime import UTC, datetime
from gitward.model import operations
from gitward.store import base, storing

async def main():
    store = storing.SqlStore(sys.argv[1])
    await store.open()
    await store.save_status(base.AppRecord(name="web", updated_at=datetime.now(UTC)))
    op = operations.Operation(app="web", revision=operations.Revision(sha="f" * 40),
                              trigger="commit", started_at=datetime.now(UTC))
    op_id = await store.start_operation(op)
    print(op_id, flush=True)
    os._exit(137)  # as if killed mid-sync: no close, no finish

asyncio.run(main())
"""


async def test_an_operation_cut_short_by_a_killed_agent_is_recovered(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    env = {**os.environ, "HOME": str(tmp_path)}
    child = subprocess.run(
        [sys.executable, "-c", _CRASHING_AGENT, url],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert child.returncode == 137, child.stderr
    op_id = int(child.stdout.strip())

    now = datetime.now(UTC)
    async with storing.SqlStore(url) as store:
        assert (await store.get_status("web")) is not None
        assert (
            await store.get_operation(op_id)
        ).operation.phase is operations.OperationPhase.RUNNING
        assert await store.recover_interrupted(now) == [op_id]
        op = (await store.get_operation(op_id)).operation
        assert op.phase is operations.OperationPhase.FAILED
        assert op.reason == "Interrupted"


async def test_two_agents_on_one_database_interleave_writes(sql_url: str) -> None:
    async with storing.SqlStore(sql_url) as one, storing.SqlStore(sql_url) as two:

        async def write(store: storing.SqlStore, app: str) -> list[int]:
            ids = []
            for i in range(40):
                ids.append(
                    await store.add_event(
                        records.event(app, time=records.T0 + timedelta(seconds=i))
                    )
                )
                await store.save_status(records.app(app))
            return ids

        seen: list[int] = []
        writers = asyncio.gather(write(one, "web"), write(two, "api"))
        # A live-stream reader on a third connection, following the cursor.
        async with storing.SqlStore(sql_url) as reader:
            cursor = 0
            async with asyncio.timeout(30):
                while len(seen) < 80:
                    batch = await reader.list_events(after_id=cursor, limit=7)
                    seen.extend(e.id for e in batch)
                    if batch:
                        cursor = batch[-1].id
                    else:
                        await asyncio.sleep(0.005)
            web, api = await writers
        assert sorted(web + api) == seen  # nothing skipped, nothing twice, in id order
        assert len(await one.list_status()) == 2
