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
import re
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from gitward import errors
from gitward.model import operations, status
from gitward.store import (
    base,
    controlling,
    failures,
    migrating,
    outboxing,
    schema,
    serialising,
)

_T = TypeVar("_T")

_RUNNING = operations.OperationPhase.RUNNING.value
_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")
_AGE_TRIM_INTERVAL = timedelta(minutes=1)
_SQLITE_BUSY_TIMEOUT_MS = 10_000
_PG_CONNECT_TIMEOUT_S = 10
# Advisory lock serialising event inserts across agents sharing a database.
_PG_EVENT_LOCK_KEY = 0x67697477617265  # arbitrary: "gitward" + 1


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


class SqlStore(outboxing.OutboxQueries, controlling.ControlQueries):
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
        if app.updated_at is None:
            app = replace(app, updated_at=self._clock())
        document = serialising.app_to_dict(app)
        values = {
            "name": app.name,
            "project": app.project,
            "sync": app.sync.value,
            "health": app.health.status.value,
            "updated_at": serialising.utc(app.updated_at or self._clock(), "updated_at"),
            "document": document,
        }
        await self._run(f"saving status of app {app.name}", self._save_status_sync, values)

    def _save_status_sync(self, values: dict[str, Any]) -> None:
        with self._begin() as conn:
            _upsert(conn, schema.AppRow, values, "name")

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

    # --- operations ----------------------------------------------------------------------

    async def start_operation(
        self, op: operations.Operation, plan: base.PlanSummary | None = None
    ) -> int:
        """Record a Running operation and return its id; trims the app's history."""
        if op.phase is not operations.OperationPhase.RUNNING:
            raise base.InvalidRecord(
                f"operation of app {op.app} must be Running to start, not {op.phase.value}"
            )
        values = _operation_values(op)
        values["plan"] = None if plan is None else serialising.plan_summary_to_dict(plan)
        return await self._run(
            f"starting an operation of app {op.app}", self._start_operation_sync, values
        )

    def _start_operation_sync(self, values: dict[str, Any]) -> int:
        with self._begin() as conn:
            result = conn.execute(_INSERT_OPERATION, values)
            new_id = int(result.inserted_primary_key[0])
            conn.execute(
                _TRIM_OPERATIONS,
                {"trim_app": values["app"], "keep": self.retention.keep_operations},
            )
        return new_id

    async def finish_operation(self, id: int, op: operations.Operation) -> None:
        """Record the outcome of Running operation ``id``; ``op`` replaces what was stored.

        RecordNotFound if ``id`` does not exist, RecordConflict if it is no
        longer Running (finished already, or failed by recover_interrupted).
        """
        if op.phase is operations.OperationPhase.RUNNING:
            raise base.InvalidRecord(
                f"operation {id} of app {op.app} cannot finish in phase Running"
            )
        if op.finished_at is None:
            op = replace(op, finished_at=self._clock())
        values = _operation_values(op)
        await self._run(
            f"finishing operation {id} of app {op.app}", self._finish_operation_sync, id, values
        )

    def _finish_operation_sync(self, id: int, values: dict[str, Any]) -> None:
        ops = schema.OperationRow
        with self._begin() as conn:
            row = conn.execute(
                sa.select(ops.app, ops.phase).where(ops.id == id).with_for_update()
            ).one_or_none()
            if row is None:
                raise base.RecordNotFound(
                    f"operation {id} of app {values['app']} does not exist in store "
                    f"{self.display_url}"
                )
            if row.app != values["app"]:
                raise base.InvalidRecord(
                    f"operation {id} belongs to app {row.app}, not {values['app']}"
                )
            if row.phase != _RUNNING:
                raise base.RecordConflict(
                    f"operation {id} of app {row.app} is already {row.phase}; "
                    "an operation finishes once"
                )
            conn.execute(_UPDATE_OPERATION, {**values, "op_id": id})

    async def get_operation(self, id: int) -> base.OperationRecord | None:
        return await self._run(f"reading operation {id}", self._get_operation_sync, id)

    def _get_operation_sync(self, id: int) -> base.OperationRecord | None:
        ops = schema.OperationRow
        with self._begin() as conn:
            row = conn.execute(sa.select(ops.__table__).where(ops.id == id)).one_or_none()
        return None if row is None else _operation_record(row)

    async def list_operations(
        self, app: str, *, limit: int = 100, before_id: int | None = None
    ) -> list[base.OperationRecord]:
        """Operations of ``app``, newest first; ``before_id`` pages to older ones."""
        _check_limit(limit, f"operations of app {app}")
        ops = schema.OperationRow
        query = sa.select(ops.__table__).where(ops.app == app).order_by(ops.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(ops.id < before_id)
        return await self._run(
            f"listing operations of app {app}", self._list_operations_sync, query
        )

    def _list_operations_sync(self, query: sa.Select[Any]) -> list[base.OperationRecord]:
        with self._begin() as conn:
            rows = conn.execute(query).all()
        return [_operation_record(row) for row in rows]

    async def recover_interrupted(
        self,
        now: datetime,
        *,
        apps: Collection[str] | None = None,
        live_fences: Collection[str] = (),
    ) -> list[int]:
        """Mark Running operations Failed (reason Interrupted); return their ids.

        A single agent calls it once at start-up, before any sync starts: an
        operation still Running then was cut short by a crash or a kill.
        Replicas pass ``apps`` (their own shard) and ``live_fences`` (the
        tokens of live members): only operations of those Applications whose
        fence is not live are touched, never another replica's running sync.
        """
        now = serialising.utc(now, "recovery time")
        return await self._run(
            "recovering interrupted operations",
            self._recover_interrupted_sync,
            now,
            None if apps is None else sorted(set(apps)),
            sorted(set(live_fences)),
        )

    def _recover_interrupted_sync(
        self, now: datetime, apps: list[str] | None, live_fences: list[str]
    ) -> list[int]:
        ops = schema.OperationRow
        query = sa.select(ops.id).where(ops.phase == _RUNNING)
        if apps is not None:
            if not apps:
                return []
            query = query.where(ops.app.in_(apps))
        if live_fences:
            query = query.where(ops.fence.not_in(live_fences))
        with self._begin() as conn:
            ids = [int(i) for i in conn.execute(query.order_by(ops.id).with_for_update()).scalars()]
            if ids:
                conn.execute(
                    sa.update(ops)
                    .where(ops.id.in_(ids))
                    .values(
                        phase=operations.OperationPhase.FAILED.value,
                        reason=base.INTERRUPTED_REASON,
                        message=base.interrupted_message(now),
                        finished_at=now,
                    )
                )
        return ids

    # --- events ---------------------------------------------------------------------------

    async def add_event(self, event: base.EventRecord) -> int:
        """Append ``event`` and return its id; trims the app's events by count and age."""
        if event.id is not None:
            raise base.InvalidRecord(
                f"event {event.reason} of app {event.app} is already stored as id {event.id}"
            )
        if event.type not in tuple(base.EventType):
            raise base.InvalidRecord(
                f"event {event.reason} of app {event.app}: type {event.type!r} is not "
                "Normal or Warning"
            )
        values = {
            "app": event.app,
            "time": serialising.utc(event.time, f"time of event {event.reason} of app {event.app}"),
            "type": base.EventType(event.type).value,
            "reason": event.reason,
            "message": event.message,
            "revision": event.revision,
            "operation_id": event.operation_id,
        }
        return await self._run(
            f"adding event {event.reason} of app {event.app}", self._add_event_sync, values
        )

    def _add_event_sync(self, values: dict[str, Any]) -> int:
        events = schema.EventRow
        with self._begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_EVENT_LOCK_KEY)))
            result = conn.execute(_INSERT_EVENT, values)
            new_id = int(result.inserted_primary_key[0])
            conn.execute(
                _TRIM_EVENTS, {"trim_app": values["app"], "keep": self.retention.keep_events}
            )
            max_age = self.retention.event_max_age
            now = self._clock()
            if max_age is not None and (
                self._last_age_trim is None or now - self._last_age_trim >= _AGE_TRIM_INTERVAL
            ):
                conn.execute(sa.delete(events).where(events.time < now - max_age))
                self._last_age_trim = now
        return new_id

    async def list_events(
        self,
        *,
        app: str | None = None,
        after_id: int | None = None,
        before_id: int | None = None,
        limit: int = 200,
    ) -> list[base.EventRecord]:
        """Events in id order (oldest first).

        With ``after_id`` (the live cursor): the first ``limit`` events after it.
        Without: the newest ``limit`` events (below ``before_id`` if given).
        """
        _check_limit(limit, "events")
        events = schema.EventRow
        query = sa.select(events.__table__).limit(limit)
        if app is not None:
            query = query.where(events.app == app)
        if before_id is not None:
            query = query.where(events.id < before_id)
        if after_id is not None:
            query = query.where(events.id > after_id).order_by(events.id)
        else:
            query = query.order_by(events.id.desc())
        found = await self._run(
            f"listing events{f' of app {app}' if app is not None else ''}",
            self._list_events_sync,
            query,
        )
        return found if after_id is not None else found[::-1]

    def _list_events_sync(self, query: sa.Select[Any]) -> list[base.EventRecord]:
        with self._begin() as conn:
            rows = conn.execute(query).all()
        return [_event_record(row) for row in rows]

    # --- tokens ---------------------------------------------------------------------------

    async def save_token(
        self,
        name: str,
        sha256_hash: str,
        role: str,
        projects: tuple[str, ...],
        created_at: datetime,
    ) -> None:
        """Insert or replace token ``name``. Only the SHA-256 hex digest is given, never
        the token; a digest already used by another token is a RecordConflict."""
        _check_token(name, sha256_hash, role, projects)
        values = {
            "name": name,
            "sha256": sha256_hash,
            "role": role,
            "projects": list(projects),
            "created_at": serialising.utc(created_at, f"creation time of token {name}"),
        }
        await self._run(f"saving token {name}", self._save_token_sync, values)

    def _save_token_sync(self, values: dict[str, Any]) -> None:
        tokens = schema.TokenRow
        with self._begin() as conn:
            other = conn.execute(
                sa.select(tokens.name).where(
                    tokens.sha256 == values["sha256"], tokens.name != values["name"]
                )
            ).scalar_one_or_none()
            if other is not None:
                raise base.RecordConflict(
                    f"token {values['name']}: the same token is already saved as {other}"
                )
            _upsert(conn, tokens, values, "name")

    async def find_token(self, sha256_hash: str) -> base.TokenRecord | None:
        """The token whose digest is ``sha256_hash``; None if unknown or malformed."""
        if not _TOKEN_HASH.fullmatch(sha256_hash):
            return None
        return await self._run("looking up a token", self._find_token_sync, sha256_hash)

    def _find_token_sync(self, sha256_hash: str) -> base.TokenRecord | None:
        tokens = schema.TokenRow
        with self._begin() as conn:
            row = conn.execute(
                sa.select(tokens.__table__).where(tokens.sha256 == sha256_hash)
            ).one_or_none()
        return None if row is None else _token_record(row)

    async def delete_token(self, name: str) -> bool:
        return await self._run(f"deleting token {name}", self._delete_token_sync, name)

    def _delete_token_sync(self, name: str) -> bool:
        tokens = schema.TokenRow
        with self._begin() as conn:
            deleted = conn.execute(sa.delete(tokens).where(tokens.name == name))
        return int(deleted.rowcount) > 0

    async def list_tokens(self) -> list[base.TokenRecord]:
        return await self._run("listing tokens", self._list_tokens_sync)

    def _list_tokens_sync(self) -> list[base.TokenRecord]:
        tokens = schema.TokenRow
        with self._begin() as conn:
            rows = conn.execute(sa.select(tokens.__table__).order_by(tokens.name)).all()
        return [_token_record(row) for row in rows]


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


def _upsert(conn: sa.Connection, model: Any, values: dict[str, Any], key: str) -> None:
    conn.execute(_upsert_statement(conn.dialect.name, model, key), values)


@functools.cache
def _upsert_statement(dialect: str, model: Any, key: str) -> sa.Executable:
    table = model.__table__
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=[key],
            set_={c.name: pg.excluded[c.name] for c in table.columns if c.name != key},
        )
    lite = sqlite.insert(table)
    return lite.on_conflict_do_update(
        index_elements=[key],
        set_={c.name: lite.excluded[c.name] for c in table.columns if c.name != key},
    )


def _trim_statement(model: Any, *, keep_running: bool) -> sa.Executable:
    """Delete the rows of one app older than its newest ``keep``."""
    keep_from = (
        sa.select(model.id)
        .where(model.app == sa.bindparam("trim_app"))
        .order_by(model.id.desc())
        .offset(sa.bindparam("keep"))
        .limit(1)
        .scalar_subquery()
    )
    condition = sa.and_(model.app == sa.bindparam("trim_app"), model.id <= keep_from)
    if keep_running:
        # A Running operation is never trimmed: recover_interrupted must see it.
        condition = sa.and_(condition, model.phase != _RUNNING)
    return sa.delete(model).where(condition)


# The statements of the hot paths are built once and given their values at
# execution: building and cache-keying a statement per call was about 40% of
# the CPU time of start_operation (bench/store.py, profiled).
_INSERT_OPERATION = sa.insert(schema.OperationRow)
_UPDATE_OPERATION = sa.update(schema.OperationRow).where(
    schema.OperationRow.id == sa.bindparam("op_id")
)
_TRIM_OPERATIONS = _trim_statement(schema.OperationRow, keep_running=True)
_INSERT_EVENT = sa.insert(schema.EventRow)
_TRIM_EVENTS = _trim_statement(schema.EventRow, keep_running=False)


def _check_limit(limit: int, what: str) -> None:
    if not 1 <= limit <= base.MAX_LIST_LIMIT:
        raise base.InvalidQuery(
            f"listing {what}: limit {limit} is outside 1..{base.MAX_LIST_LIMIT}"
        )


def _check_token(name: str, sha256_hash: str, role: str, projects: tuple[str, ...]) -> None:
    if not name:
        raise base.InvalidRecord("a token needs a name")
    if not _TOKEN_HASH.fullmatch(sha256_hash):
        # Never echo the value: a caller passing the token itself must not
        # see it land in a log.
        raise base.InvalidRecord(
            f"token {name}: expected the SHA-256 hex digest of the token (64 lowercase "
            "hex characters), never the token itself"
        )
    if not role:
        raise base.InvalidRecord(f"token {name} needs a role")
    if isinstance(projects, str) or not all(isinstance(p, str) and p for p in projects):
        raise base.InvalidRecord(f"token {name}: projects must be a tuple of project names")


def _operation_values(op: operations.Operation) -> dict[str, Any]:
    if not op.app:
        raise base.InvalidRecord("an operation needs the name of its app")
    what = f"operation of app {op.app}"
    return {
        "app": op.app,
        "phase": op.phase.value,
        "trigger": op.trigger,
        "revision_sha": op.revision.sha,
        "revision": serialising.revision_to_dict(op.revision),
        "started_at": serialising.utc(op.started_at, f"start of {what}"),
        "finished_at": (
            None if op.finished_at is None else serialising.utc(op.finished_at, f"end of {what}")
        ),
        "dry_run": op.dry_run,
        "message": op.message,
        "reason": op.reason,
        "results": [serialising.result_to_dict(r) for r in op.results],
        "fence": op.fence,
    }


def _operation_record(row: sa.Row[Any]) -> base.OperationRecord:
    try:
        phase = operations.OperationPhase(row.phase)
    except ValueError as exc:
        raise base.InvalidRecord(f"operation {row.id}: unknown phase {row.phase!r}") from exc
    op = operations.Operation(
        app=row.app,
        revision=serialising.revision_from_dict(row.revision),
        trigger=row.trigger,
        started_at=row.started_at,
        phase=phase,
        finished_at=row.finished_at,
        dry_run=bool(row.dry_run),
        results=tuple(serialising.result_from_dict(r) for r in row.results),
        message=row.message,
        reason=row.reason,
        fence=row.fence,
    )
    plan = None if row.plan is None else serialising.plan_summary_from_dict(row.plan)
    return base.OperationRecord(id=int(row.id), operation=op, plan=plan)


def _event_record(row: sa.Row[Any]) -> base.EventRecord:
    try:
        event_type = base.EventType(row.type)
    except ValueError as exc:
        raise base.InvalidRecord(f"event {row.id}: unknown type {row.type!r}") from exc
    return base.EventRecord(
        app=row.app,
        time=row.time,
        type=event_type,
        reason=row.reason,
        message=row.message,
        revision=row.revision,
        operation_id=None if row.operation_id is None else int(row.operation_id),
        id=int(row.id),
    )


def _token_record(row: sa.Row[Any]) -> base.TokenRecord:
    return base.TokenRecord(
        name=row.name,
        sha256_hash=row.sha256,
        role=row.role,
        projects=tuple(row.projects),
        created_at=row.created_at,
    )
