"""The event log in SQL (:class:`EventQueries`).

Mixed into :class:`gitward.store.storing.SqlStore`. Events are appended with
increasing ids (on PostgreSQL under a transaction-scoped advisory lock, so
agents sharing the database never interleave ids and commit order: a reader
following ``after_id`` never skips one) and trimmed per Application by count
(``retention.keepEvents``) and, at most once a minute, by age.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from gitward.store import base, schema, serialising, statements

_T = TypeVar("_T")
_AGE_TRIM_INTERVAL = timedelta(minutes=1)
_PG_EVENT_LOCK_KEY = 0x67697477617265  # arbitrary: "gitward" + 1
_INSERT_EVENT = sa.insert(schema.EventRow)
_TRIM_EVENTS = statements.trim_statement(schema.EventRow, keep_running=False)


class EventQueries:
    """The event methods of ``SqlStore``."""

    # Provided by SqlStore.
    _clock: Callable[[], datetime]
    retention: base.Retention
    _last_age_trim: datetime | None

    async def _run(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        raise NotImplementedError

    def _begin(self) -> Any:
        raise NotImplementedError

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
        statements.check_limit(limit, "events")
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
