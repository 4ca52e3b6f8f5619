"""The SQLAlchemy store: :class:`SqlStore`, on SQLite (default) or PostgreSQL.

The agent builds one from ``settings.store`` (``sqlite:///var/lib/gitward/state.db``
or ``postgresql://user@host/db``), ``await store.open()`` at start-up (tables
are created or upgraded, see :mod:`gitward.store.migrating`), and the engine,
API and CLI call the :class:`gitward.store.base.Store` methods from asyncio.

Threading: each store owns one worker thread and every database call runs
there, in order. SQLite allows one writer at a time; one thread per store
means gitward never competes with itself for the write lock (no
``database is locked`` retries) and a connection is never shared across
threads. The cost is that calls do not overlap and each pays a thread hop
(about 100-150 us). ``bench/store.py`` on a shared 2-core machine: on SQLite
about 1,000-1,400 operations recorded per second (start and finish, 25
results), 3,500-4,500 operation inserts and ~5,000 status saves per second;
far above what reconciling thousands of Applications needs, so SQLAlchemy's
asyncio layer (two more dependencies, ``aiosqlite`` and ``greenlet``) would
buy nothing here. A call whose awaiting
task is cancelled may still complete: each call is one transaction, applied
entirely or not at all.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a crash of the agent loses
nothing committed; a power loss may lose the last transactions, never the
file's consistency, and what it loses (the latest status) is derived again
from Git and the target on the next reconcile. Transactions start with
``BEGIN IMMEDIATE`` so a second process on the same file waits (busy timeout)
instead of failing half-way. For PostgreSQL the ``postgresql://`` scheme uses
the psycopg 3 driver; event ids are allocated under an advisory lock so they
commit in id order and a stream cursor never skips an event written by another
agent.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc

from gitward import errors
from gitward.model import operations, status
from gitward.store import (
    base,
    controlling,
    eventing,
    failures,
    migrating,
    operating,
    outboxing,
    schema,
    serialising,
    statements,
    tokening,
)

_T = TypeVar("_T")

_RUNNING = operations.OperationPhase.RUNNING.value
_SQLITE_BUSY_TIMEOUT_MS = 10_000
_PG_CONNECT_TIMEOUT_S = 10
# Advisory lock serialising event inserts across agents sharing a database.


def utc_now() -> datetime:
    return datetime.now(UTC)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def database_url(url: str) -> sa.URL:
    """Parse a store URL, choosing gitward's driver; ConfigError when unusable.

    ``postgresql://`` and ``postgres://`` mean psycopg 3; ``sqlite://`` is an
    in-memory database (for tests), ``sqlite:///relative`` and
    ``sqlite:////absolute`` are files.
    """
    try:
        parsed = sa.make_url(url)
    except sa_exc.ArgumentError as exc:
        # The text may hold a password: do not repeat it.
        raise errors.ConfigError(
            "the store URL is not a database URL (expected sqlite:///path/state.db "
            "or postgresql://user@host/database)"
        ) from exc
    backend = parsed.drivername.partition("+")[0]
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise errors.ConfigError(
        f"store {parsed.render_as_string(hide_password=True)}: unsupported database "
        f"{backend!r} (gitward supports sqlite and postgresql)"
    )


def create_engine(url: sa.URL) -> sa.Engine:
    """A SQLAlchemy engine configured as the store needs it (pragmas, transactions, pool).

    Used by :class:`SqlStore` in its worker thread, and by tools that inspect or
    migrate a store's database.
    """
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, json_serializer=_dumps, json_deserializer=orjson.loads)
        sa_event.listen(engine, "connect", _sqlite_connect)
        sa_event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(
        url,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        # One worker thread uses one connection; a spare covers a reconnect.
        pool_size=1,
        max_overflow=1,
        # A restarted PostgreSQL server must not fail the next call.
        pool_pre_ping=True,
        connect_args={"connect_timeout": _PG_CONNECT_TIMEOUT_S},
    )


class SqlStore(
    outboxing.OutboxQueries,
    controlling.ControlQueries,
    operating.OperationQueries,
    eventing.EventQueries,
    tokening.TokenQueries,
):
    """Status, operations, events, tokens and the notification outbox in a SQL
    database (see module doc).

    ``retention`` bounds history per Application; ``clock`` stamps
    ``updated_at`` and unset ``finished_at`` and drives age-based retention.
    """

    def __init__(
        self,
        url: str,
        *,
        retention: base.Retention | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.url = database_url(url)
        self.retention = retention or base.Retention()
        self._clock = clock
        self._engine: sa.Engine | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._open = False
        self._opening = asyncio.Lock()
        # Touched only in the worker thread.
        self._last_age_trim: datetime | None = None

    @property
    def display_url(self) -> str:
        """The URL with its password hidden, for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"SqlStore({self.display_url!r})"

    # --- life cycle --------------------------------------------------------------

    async def open(self) -> None:
        """Connect, then create or upgrade the tables. Calling it again does nothing."""
        async with self._opening:
            if self._open:
                return
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gitward-store")
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(
                    executor, functools.partial(self._guarded, "opening", self._open_sync)
                )
            except BaseException:
                await loop.run_in_executor(executor, self._dispose_sync)
                executor.shutdown(wait=False)
                raise
            self._executor = executor
            self._open = True

    async def close(self) -> None:
        """Finish the calls already made, then release connections and the thread."""
        if not self._open or self._executor is None:
            return
        self._open = False
        executor, self._executor = self._executor, None
        await asyncio.get_running_loop().run_in_executor(executor, self._dispose_sync)
        executor.shutdown(wait=False)

    async def __aenter__(self) -> SqlStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _open_sync(self) -> None:
        self._engine = create_engine(self.url)
        migrating.upgrade(self._engine)

    def _dispose_sync(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- running calls in the worker thread ----------------------------------------------

    async def _run(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        executor = self._executor
        if not self._open or executor is None:
            raise base.StoreUnavailable(f"store {self.display_url} is not open ({what})")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            executor, functools.partial(self._guarded, what, fn, *args)
        )

    def _guarded(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        try:
            return fn(*args)
        except sa_exc.SQLAlchemyError as exc:
            raise failures.named(exc, what, self.url) from exc

    def _begin(self) -> Any:
        if self._engine is None:
            raise base.StoreUnavailable(f"store {self.display_url} is not open")
        return self._engine.begin()

    # --- status ------------------------------------------------------------------------

    async def save_status(self, app: base.AppRecord) -> None:
        """Insert or replace the status of ``app.name``."""
        if not app.name:
            raise base.InvalidRecord("an Application status needs a name")
        values = self._status_values(app)
        await self._run(f"saving status of app {app.name}", self._save_status_sync, [values])

    async def save_statuses(self, apps: Sequence[base.AppRecord]) -> None:
        """Insert or replace many statuses in one transaction (all or none)."""
        if any(not app.name for app in apps):
            raise base.InvalidRecord("an Application status needs a name")
        values = [self._status_values(app) for app in apps]
        if values:
            await self._run(f"saving {len(values)} statuses", self._save_status_sync, values)

    def _status_values(self, app: base.AppRecord) -> dict[str, Any]:
        if app.updated_at is None:
            app = replace(app, updated_at=self._clock())
        return {
            "name": app.name,
            "project": app.project,
            "sync": app.sync.value,
            "health": app.health.status.value,
            "updated_at": serialising.utc(app.updated_at or self._clock(), "updated_at"),
            "document": serialising.app_to_dict(app),
        }

    def _save_status_sync(self, values: list[dict[str, Any]]) -> None:
        with self._begin() as conn:
            statements.upsert(conn, schema.AppRow, values, "name")

    async def get_status(self, name: str) -> base.AppRecord | None:
        return await self._run(f"reading status of app {name}", self._get_status_sync, name)

    def _get_status_sync(self, name: str) -> base.AppRecord | None:
        with self._begin() as conn:
            doc = conn.execute(
                sa.select(schema.AppRow.document).where(schema.AppRow.name == name)
            ).scalar_one_or_none()
        return None if doc is None else serialising.app_from_dict(doc)

    async def list_status(
        self,
        *,
        project: str | None = None,
        sync: status.SyncStatus | None = None,
        health: status.HealthStatus | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[base.AppRecord]:
        """Statuses matching every filter given (labels: all pairs equal), by name."""
        query = sa.select(schema.AppRow.document).order_by(schema.AppRow.name)
        if project is not None:
            query = query.where(schema.AppRow.project == project)
        try:
            if sync is not None:
                query = query.where(schema.AppRow.sync == status.SyncStatus(sync).value)
            if health is not None:
                query = query.where(schema.AppRow.health == status.HealthStatus(health).value)
        except ValueError as exc:
            raise base.InvalidQuery(f"listing app statuses: {exc}") from exc
        found = await self._run("listing app statuses", self._list_status_sync, query)
        if not labels:
            return found
        # Label selectors are matched here rather than in SQL: JSON containment
        # differs between SQLite and PostgreSQL, and an agent's few thousand
        # Applications are filtered in well under a millisecond each.
        return [app for app in found if all(app.labels.get(k) == v for k, v in labels.items())]

    def _list_status_sync(self, query: sa.Select[Any]) -> list[base.AppRecord]:
        with self._begin() as conn:
            docs = conn.execute(query).scalars().all()
        return [serialising.app_from_dict(doc) for doc in docs]

    async def delete_app(self, name: str) -> bool:
        """Delete the status, operations and events of ``name``; False if none existed."""
        return await self._run(f"deleting app {name}", self._delete_app_sync, name)

    def _delete_app_sync(self, name: str) -> bool:
        deleted = 0
        with self._begin() as conn:
            for table, column in (
                (schema.AppRow, schema.AppRow.name),
                (schema.OperationRow, schema.OperationRow.app),
                (schema.EventRow, schema.EventRow.app),
            ):
                deleted += int(conn.execute(sa.delete(table).where(column == name)).rowcount)
        return deleted > 0


# --- helpers ---------------------------------------------------------------------------------


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit
    # transactions would defer it and run DDL outside it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # IMMEDIATE takes the write lock up front: a transaction that read and then
    # needs to write cannot fail with SQLITE_BUSY half-way.
    conn.exec_driver_sql("BEGIN IMMEDIATE")
