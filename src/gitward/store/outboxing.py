"""The notification outbox and delivery log in SQL (:class:`OutboxQueries`).

Mixed into :class:`gitward.store.storing.SqlStore`, so the outbox lives in the
same database and worker thread as the event log it is fed from: routing an
event and moving the cursor past it are one transaction, so a crash neither
loses nor repeats a notification. Called by
:mod:`gitward.engine.notifications.routing` (``enqueue``),
:mod:`gitward.engine.notifications.delivering` (``due``, ``settle``) and the
edges (``list_deliveries``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from gitward.store import base, schema, serialising

_T = TypeVar("_T")
# Serialises routing across replicas sharing a PostgreSQL store.
_PG_OUTBOX_LOCK_KEY = 0x67697477617266  # arbitrary: "gitward" - 1
_PENDING = base.DeliveryState.PENDING.value
_FINISHED = (
    base.DeliveryState.SENT.value,
    base.DeliveryState.FAILED.value,
    base.DeliveryState.DROPPED.value,
)


class OutboxQueries:
    """The :class:`gitward.store.base.Outbox` methods of ``SqlStore``."""

    # Provided by SqlStore.
    _clock: Callable[[], datetime]

    async def _run(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        raise NotImplementedError

    def _begin(self) -> Any:
        raise NotImplementedError

    async def outbox_cursor(self, name: str) -> int | None:
        return await self._run(f"reading cursor {name}", self._cursor_sync, name)

    def _cursor_sync(self, name: str) -> int | None:
        with self._begin() as conn:
            found = conn.execute(
                sa.select(schema.CursorRow.event_id).where(schema.CursorRow.name == name)
            ).scalar_one_or_none()
        return None if found is None else int(found)

    async def enqueue(
        self,
        items: list[base.DeliveryRecord],
        *,
        cursor: tuple[str, int],
        dedup_window: timedelta,
        limit: int,
    ) -> list[int]:
        rows = [_values(item) for item in items]
        return await self._run(
            f"queueing {len(rows)} notification(s)",
            self._enqueue_sync,
            rows,
            cursor,
            dedup_window,
            limit,
        )

    def _enqueue_sync(
        self,
        rows: list[dict[str, Any]],
        cursor: tuple[str, int],
        dedup_window: timedelta,
        limit: int,
    ) -> list[int]:
        table = schema.DeliveryRow
        ids: list[int] = []
        name, event_id = cursor
        with self._begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_OUTBOX_LOCK_KEY)))
            stored = conn.execute(
                sa.select(schema.CursorRow.event_id).where(schema.CursorRow.name == name)
            ).scalar_one_or_none()
            if stored is not None and stored >= event_id:
                # Another replica's router queued these events already.
                return ids
            for row in rows:
                if dedup_window > timedelta(0):
                    seen = conn.execute(
                        sa.select(table.id)
                        .where(
                            table.dedup_key == row["dedup_key"],
                            table.created_at >= row["created_at"] - dedup_window,
                            table.state != base.DeliveryState.DROPPED.value,
                        )
                        .limit(1)
                    ).scalar_one_or_none()
                    if seen is not None:
                        continue
                ids.append(int(conn.execute(sa.insert(table), row).inserted_primary_key[0]))
            updated = conn.execute(
                sa.update(schema.CursorRow)
                .where(schema.CursorRow.name == name)
                .values(event_id=event_id)
            )
            if not updated.rowcount:
                conn.execute(sa.insert(schema.CursorRow).values(name=name, event_id=event_id))
            pending = conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.state == _PENDING)
            ).scalar_one()
            if pending > limit:
                oldest = (
                    sa.select(table.id)
                    .where(table.state == _PENDING)
                    .order_by(table.id)
                    .limit(int(pending) - limit)
                )
                conn.execute(
                    sa.update(table)
                    .where(table.id.in_(oldest))
                    .values(
                        state=base.DeliveryState.DROPPED.value,
                        updated_at=self._clock(),
                        last_error=f"dropped: the outbox holds at most {limit} notifications",
                    )
                )
        return ids

    async def due(self, now: datetime, limit: int = 100) -> list[base.DeliveryRecord]:
        """Pending deliveries due at ``now``, read only (see :meth:`claim`)."""
        table = schema.DeliveryRow
        query = (
            sa.select(table.__table__)
            .where(table.state == _PENDING, table.next_attempt_at <= serialising.utc(now, "now"))
            .order_by(table.next_attempt_at, table.id)
            .limit(limit)
        )
        return await self._run("reading due notifications", self._select_sync, query)

    async def claim(
        self, now: datetime, *, lease: timedelta, limit: int = 100
    ) -> list[base.DeliveryRecord]:
        """Take the due deliveries for sending: each is moved ``lease`` ahead in the
        same transaction, so another replica (or this one's next look) does not
        send it too; a sender that dies leaves it due again when the lease ends."""
        now = serialising.utc(now, "now")
        return await self._run("claiming due notifications", self._claim_sync, now, lease, limit)

    def _claim_sync(self, now: datetime, lease: timedelta, limit: int) -> list[base.DeliveryRecord]:
        table = schema.DeliveryRow
        query = (
            sa.select(table.__table__)
            .where(table.state == _PENDING, table.next_attempt_at <= now)
            .order_by(table.next_attempt_at, table.id)
            .limit(limit)
        )
        with self._begin() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    sa.update(table)
                    .where(table.id.in_([row.id for row in rows]))
                    .values(next_attempt_at=now + lease)
                )
        return [_record(row) for row in rows]

    async def next_due(self) -> datetime | None:
        return await self._run("reading the next due notification", self._next_due_sync)

    def _next_due_sync(self) -> datetime | None:
        table = schema.DeliveryRow
        with self._begin() as conn:
            found: datetime | None = conn.execute(
                sa.select(table.next_attempt_at)
                .where(table.state == _PENDING)
                .order_by(table.next_attempt_at)
                .limit(1)
            ).scalar_one_or_none()
        return found

    async def settle(self, delivery: base.DeliveryRecord, *, keep: int) -> None:
        if delivery.id is None:
            raise base.InvalidRecord(
                f"notification {delivery.reason} of {delivery.app} is not stored"
            )
        now = self._clock()
        values = {
            "state": delivery.state.value,
            "attempts": delivery.attempts,
            "updated_at": now,
            "next_attempt_at": serialising.utc(delivery.next_attempt_at or now, "next attempt"),
            "last_error": delivery.last_error,
        }
        await self._run(
            f"recording delivery {delivery.id}", self._settle_sync, delivery.id, values, keep
        )

    def _settle_sync(self, id: int, values: dict[str, Any], keep: int) -> None:
        table = schema.DeliveryRow
        with self._begin() as conn:
            conn.execute(sa.update(table).where(table.id == id).values(**values))
            if values["state"] == _PENDING:
                return
            keep_from = (
                sa.select(table.id)
                .where(table.state.in_(_FINISHED))
                .order_by(table.id.desc())
                .offset(keep)
                .limit(1)
                .scalar_subquery()
            )
            conn.execute(sa.delete(table).where(table.state.in_(_FINISHED), table.id <= keep_from))

    async def list_deliveries(
        self,
        *,
        app: str | None = None,
        provider: str | None = None,
        state: base.DeliveryState | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[base.DeliveryRecord]:
        if not 1 <= limit <= base.MAX_LIST_LIMIT:
            raise base.InvalidQuery(
                f"listing deliveries: limit {limit} is outside 1..{base.MAX_LIST_LIMIT}"
            )
        table = schema.DeliveryRow
        query = sa.select(table.__table__).order_by(table.id.desc()).limit(limit)
        if app is not None:
            query = query.where(table.app == app)
        if provider is not None:
            query = query.where(table.provider == provider)
        if state is not None:
            query = query.where(table.state == base.DeliveryState(state).value)
        if before_id is not None:
            query = query.where(table.id < before_id)
        return await self._run("listing deliveries", self._select_sync, query)

    def _select_sync(self, query: sa.Select[Any]) -> list[base.DeliveryRecord]:
        with self._begin() as conn:
            rows = conn.execute(query).all()
        return [_record(row) for row in rows]


def _values(item: base.DeliveryRecord) -> dict[str, Any]:
    what = f"notification {item.reason} of app {item.app}"
    created = serialising.utc(item.created_at, f"creation of {what}")
    return {
        "provider": item.provider,
        "alert": item.alert,
        "app": item.app,
        "reason": item.reason,
        "event_id": item.event_id,
        "dedup_key": item.dedup_key,
        "state": item.state.value,
        "attempts": item.attempts,
        "created_at": created,
        "updated_at": serialising.utc(item.updated_at or created, f"update of {what}"),
        "next_attempt_at": serialising.utc(item.next_attempt_at or created, f"due time of {what}"),
        "last_error": item.last_error,
        "payload": dict(item.payload),
    }


def _record(row: sa.Row[Any]) -> base.DeliveryRecord:
    try:
        state = base.DeliveryState(row.state)
    except ValueError as exc:
        raise base.InvalidRecord(f"delivery {row.id}: unknown state {row.state!r}") from exc
    return base.DeliveryRecord(
        provider=row.provider,
        alert=row.alert,
        app=row.app,
        reason=row.reason,
        dedup_key=row.dedup_key,
        payload=row.payload,
        created_at=row.created_at,
        event_id=None if row.event_id is None else int(row.event_id),
        state=state,
        attempts=int(row.attempts),
        next_attempt_at=row.next_attempt_at,
        updated_at=row.updated_at,
        last_error=row.last_error,
        id=int(row.id),
    )
