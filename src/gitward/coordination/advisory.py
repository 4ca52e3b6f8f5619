"""Replicas coordinated by PostgreSQL: session advisory locks and a members table.

For replica sets outside Kubernetes that already share a PostgreSQL store.
Each replica keeps one dedicated session (not the store's pool) that holds
the advisory lock of its identity, so two live processes can never claim the
same identity, and one row in ``gitward_members``:

* ``renewed_at`` is stamped with the *database's* clock on every renewal and
  a member is live while ``renewed_at + lease`` is in the future by that same
  clock, so the replicas never compare their own clocks;
* ``transitions`` grows on every join: with the identity it is the fencing
  token recorded on Operations;
* ``backend_pid`` names the session. A member whose lease expired (paused,
  partitioned) is marked released by the first live member that notices
  (rows are kept so ``transitions`` never repeats), and its session is
  terminated (``pg_terminate_backend``): its advisory lock is
  released, and the paused process, when it resumes, finds its session gone
  and cannot renew; it joins again as a new member.

The table belongs to this module (created if missing, under a transaction
advisory lock so replicas starting together do not race), not to the store's
schema: one row per identity ever seen, no history.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog

from gitward import errors
from gitward.coordination import base
from gitward.model import coordination

_log = structlog.get_logger(__name__)

TABLE = "gitward_members"
# pg_advisory_xact_lock key guarding CREATE TABLE (any constant works).
_SCHEMA_LOCK = 0x67697477_61726400 & 0x7FFFFFFFFFFFFFFF

_CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    identity text PRIMARY KEY,
    transitions bigint NOT NULL,
    address text NOT NULL DEFAULT '',
    backend_pid integer NOT NULL,
    lease_seconds double precision NOT NULL,
    acquired_at timestamptz NOT NULL,
    renewed_at timestamptz NOT NULL,
    released boolean NOT NULL DEFAULT false
)
"""


def lock_key(identity: str) -> int:
    """The 63-bit advisory lock key of a member identity."""
    digest = hashlib.blake2b(f"gitward-member:{identity}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFFFFFFFFFF


def conninfo(url: str) -> str:
    """A libpq URL from a SQLAlchemy one (``postgresql+psycopg://`` → ``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise errors.ConfigError(
            f"the PostgreSQL coordinator needs a postgresql:// store URL (got {scheme}://...)"
        )
    return f"postgresql://{rest}"


def _display(url: str) -> str:
    # user:password@host -> host; never show credentials.
    rest = url.partition("://")[2]
    return rest.rpartition("@")[2].split("?")[0]


class PostgresCoordinator:
    """:class:`gitward.coordination.base.Coordinator` over PostgreSQL."""

    def __init__(
        self,
        url: str,
        identity: str,
        *,
        timings: coordination.Timings | None = None,
        address: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conninfo = conninfo(url)
        self._where = f"PostgreSQL {_display(url)}"
        self._identity = identity
        self._timings = timings or coordination.Timings()
        self.address = address
        self._lease = base.LeaseClock(self._timings, clock)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def timings(self) -> coordination.Timings:
        return self._timings

    @property
    def description(self) -> str:
        return f"{self._where} (table {TABLE})"

    # --- the session ---------------------------------------------------------------

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        timeout_ms = int(self._timings.renew_deadline * 1000)
        try:
            conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=max(1, int(self._timings.renew_deadline)),
                    application_name=f"gitward member {self._identity}"[:63],
                    options=f"-c statement_timeout={timeout_ms}",
                ),
                self._timings.renew_deadline,
            )
        except (TimeoutError, psycopg.Error, OSError) as exc:
            raise errors.CoordinationUnavailable(
                f"{self._where}: cannot connect: {type(exc).__name__}"
            ) from exc
        return conn

    async def _query(
        self, what: str, sql: str, params: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            raise errors.LeaseLost(f"replica {self._identity}: {self._where}: session lost")
        async with self._lock:
            try:
                cursor = await asyncio.wait_for(
                    conn.execute(sql.encode(), params), self._timings.renew_deadline
                )
                return list(await cursor.fetchall()) if cursor.description else []
            except (TimeoutError, psycopg.Error, OSError) as exc:
                if conn.closed or conn.broken:
                    raise errors.LeaseLost(
                        f"replica {self._identity}: {self._where}: session lost while {what}"
                    ) from exc
                raise errors.CoordinationUnavailable(
                    f"{self._where}: {what}: {type(exc).__name__}"
                ) from exc

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(TimeoutError, psycopg.Error, OSError):
                await asyncio.wait_for(conn.close(), self._timings.retry_period)

    # --- the Protocol ----------------------------------------------------------------

    async def join(self) -> coordination.Fence:
        await self._close()
        self._lease.lost()
        self._conn = await self._connect()
        async with self._conn.transaction():
            await self._conn.execute(b"SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            await self._conn.execute(_CREATE.encode())
        key = lock_key(self._identity)
        while True:
            rows = await self._query("locking", "SELECT pg_try_advisory_lock(%s)", (key,))
            if rows and rows[0][0]:
                break
            # An earlier incarnation's session still holds the identity: take
            # it once that one's lease has expired, by the database's clock.
            await self._reap(only=self._identity)
            await asyncio.sleep(self._timings.retry_period)
        sent = self._lease.sending()
        rows = await self._query(
            "joining",
            "INSERT INTO gitward_members AS m (identity, transitions, address, backend_pid,"
            " lease_seconds, acquired_at, renewed_at)"
            " VALUES (%s, 0, %s, pg_backend_pid(), %s, now(), now())"
            " ON CONFLICT (identity) DO UPDATE SET transitions = m.transitions + 1,"
            " address = EXCLUDED.address, backend_pid = EXCLUDED.backend_pid,"
            " lease_seconds = EXCLUDED.lease_seconds, acquired_at = now(), renewed_at = now(),"
            " released = false"
            " RETURNING transitions",
            (self._identity, self.address, self._timings.lease_duration),
        )
        fence = coordination.Fence(self._identity, int(rows[0][0]))
        self._lease.renewed(fence, sent)
        return fence

    async def renew(self) -> coordination.Fence:
        held = self._lease.held
        if held is None or self._lease.remaining() <= 0:
            self._lease.lost()
            raise errors.LeaseLost(
                f"replica {self._identity}: {self._where}: not renewed within "
                f"{self._timings.renew_deadline:g}s"
            )
        sent = self._lease.sending()
        try:
            rows = await self._query(
                "renewing",
                "UPDATE gitward_members SET renewed_at = now() WHERE identity = %s"
                " AND transitions = %s AND backend_pid = pg_backend_pid() AND NOT released"
                " AND renewed_at + lease_seconds * interval '1 second' > now()"
                " RETURNING transitions",
                (self._identity, held.transitions),
            )
        except errors.LeaseLost:
            self._lease.lost()
            raise
        if not rows:
            self._lease.lost()
            raise errors.LeaseLost(
                f"replica {self._identity}: {self._where}: membership {held} expired "
                "or was taken over"
            )
        self._lease.renewed(held, sent)
        return held

    async def _reap(self, only: str = "") -> None:
        """Release expired members and end their sessions (their locks go with them).

        Rows are kept, released, so ``transitions`` keeps growing: a fencing
        token is never handed out twice."""
        rows = await self._query(
            "removing expired members",
            "UPDATE gitward_members SET released = true"
            " WHERE renewed_at + lease_seconds * interval '1 second' <= now()"
            " AND NOT released AND (identity = %s) = %s RETURNING identity, backend_pid",
            (only or self._identity, bool(only)),
        )
        for identity, pid in rows:
            _log.warning("replica lease expired: member released", member=identity)
            try:
                await self._query(
                    "ending an expired session", "SELECT pg_terminate_backend(%s)", (pid,)
                )
            except errors.CoordinationUnavailable as exc:
                _log.warning("could not end an expired member's session", error=str(exc))

    async def members(self) -> list[coordination.Member]:
        await self._reap()
        rows = await self._query(
            "listing members",
            "SELECT identity, transitions, address, acquired_at, renewed_at FROM gitward_members"
            " WHERE renewed_at + lease_seconds * interval '1 second' > now() AND NOT released"
            " ORDER BY identity",
        )
        live = []
        for identity, transitions, address, acquired, renewed in rows:
            if identity == self._identity and self._lease.remaining() <= 0:
                continue
            live.append(
                coordination.Member(
                    identity=identity,
                    fence=coordination.Fence(identity, int(transitions)),
                    acquired_at=_aware(acquired),
                    renewed_at=_aware(renewed),
                    address=address,
                    lease=f"{TABLE}/{identity}",
                )
            )
        return live

    def fence(self) -> coordination.Fence:
        return self._lease.fence(self._identity)

    async def leave(self) -> None:
        held = self._lease.held
        self._lease.lost()
        if held is not None and self._conn is not None:
            try:
                await self._query(
                    "leaving",
                    "UPDATE gitward_members SET released = true"
                    " WHERE identity = %s AND transitions = %s",
                    (self._identity, held.transitions),
                )
            except errors.GitwardError as exc:
                _log.warning("could not remove this member; it expires on its own", error=str(exc))
        await self._close()  # ends the session: the advisory lock goes with it


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
