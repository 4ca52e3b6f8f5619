"""Fixtures of the store tests: a real PostgreSQL 15 server per session, and the
``backend`` fixture that runs each contract test against the in-memory fake,
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gitward.store import base, storing
from gitward.testing import stores
from tests.store.postgres import PG_BIN, PostgresServer, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"PostgreSQL 15 server binaries are absent ({PG_BIN})")
    with postgres_server() as server:
        yield server


class Clock:
    """A controllable clock for retention and ``updated_at`` stamps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Backend:
    """Makes stores of one kind; every store it makes sees the same data."""

    kind: str
    make_store: Callable[..., Any]
    raw_dump: Callable[[], bytes] | None = None
    _opened: list[Any] = field(default_factory=list)

    async def open(
        self,
        *,
        retention: base.Retention | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Any:
        store = self.make_store(retention=retention or base.Retention(), clock=clock)
        await store.open()
        self._opened.append(store)
        return store


def _memory_backend() -> Backend:
    shared: list[stores.MemoryStore] = []

    def make(retention: base.Retention, clock: Callable[[], datetime] | None) -> stores.MemoryStore:
        # One instance per test: reopening it is what a restart is for the fake.
        if not shared:
            kwargs: dict[str, Any] = {
                "keep_operations": retention.keep_operations,
                "keep_events": retention.keep_events,
                "event_max_age": retention.event_max_age,
            }
            if clock is not None:
                kwargs["clock"] = clock
            shared.append(stores.MemoryStore(**kwargs))
        return shared[0]

    return Backend("memory", make)


def _sql_backend(kind: str, url: str, raw_dump: Callable[[], bytes] | None) -> Backend:
    def make(retention: base.Retention, clock: Callable[[], datetime] | None) -> storing.SqlStore:
        if clock is None:
            return storing.SqlStore(url, retention=retention)
        return storing.SqlStore(url, retention=retention, clock=clock)

    return Backend(kind, make, raw_dump)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        made = _memory_backend()
    elif request.param == "sqlite":
        path = tmp_path / "state.db"

        def dump() -> bytes:
            return b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))

        made = _sql_backend("sqlite", f"sqlite:///{path}", dump)
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        server.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")

        def dump_pg() -> bytes:
            lines = []
            with psycopg.connect(
                host="127.0.0.1", port=server.port, user="postgres", dbname="postgres"
            ) as conn:
                for table in ("gitward_applications", "gitward_operations", "gitward_events"):
                    query = f"SELECT * FROM {table}"  # noqa: S608 - constant table names
                    for row in conn.execute(query.encode()):
                        lines.append(repr(row))
            return "\n".join(lines).encode()

        made = _sql_backend("postgresql", server.url, dump_pg)
    yield made
    for store in made._opened:
        await store.close()


@pytest.fixture
async def store(backend: Backend) -> Any:
    return await backend.open()
