"""A public in-memory fake of the store: :class:`MemoryStore`.

It implements the ``gitward.store.base.Store`` Protocol with the same contract
as ``gitward.store.storing.SqlStore`` (the contract tests in ``tests/store`` run
against both): validation, errors (by base class and ``reason``), ordering,
retention and recovery. Data survives ``close()`` and ``open()`` on the same
instance, so engine tests can simulate an agent restart, including operations
left Running by a "crash". Used by the engine's tests and by anyone testing
code that records status.

This module may import only ``gitward.model`` and ``gitward.errors``. It stores
and returns the caller's own records (``AppRecord``, ``EventRecord``,
``PlanSummary`` of ``gitward.store.base``) untouched but for ``id`` and
``updated_at``; the two records it builds itself, :class:`OperationRecord` and
:class:`TokenRecord`, match ``gitward.store.base`` by shape, as do its errors
(same names, bases and reasons).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from gitward import errors
from gitward.model import operations, status

_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")
_AGE_TRIM_INTERVAL = timedelta(minutes=1)
MAX_LIST_LIMIT = 1000
MIN_KEEP_OPERATIONS = 100
INTERRUPTED_REASON = "Interrupted"


class StoreUnavailable(errors.RetryableError):
    reason = "StoreUnavailable"


class RecordNotFound(errors.InputError):
    reason = "NotFound"


class RecordConflict(errors.InputError):
    reason = "Conflict"


class InvalidRecord(errors.InputError):
    reason = "InvalidRecord"


class InvalidQuery(errors.InputError):
    reason = "InvalidQuery"


@dataclasses.dataclass(frozen=True, slots=True)
class OperationRecord:
    id: int
    operation: operations.Operation
    plan: Any = None


@dataclasses.dataclass(frozen=True, slots=True)
class TokenRecord:
    name: str
    sha256_hash: str
    role: str
    projects: tuple[str, ...]
    created_at: datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MemoryStore:
    """The store, in memory. ``keep_operations``/``keep_events``/``event_max_age``
    are the retention settings of ``gitward.store.base.Retention``."""

    def __init__(
        self,
        *,
        keep_operations: int = 100,
        keep_events: int = 1000,
        event_max_age: timedelta | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if keep_operations < MIN_KEEP_OPERATIONS:
            raise errors.ConfigError(
                f"store retention keep_operations={keep_operations} is below the "
                f"minimum of {MIN_KEEP_OPERATIONS} operations per Application"
            )
        if keep_events < 1:
            raise errors.ConfigError(f"store retention keep_events={keep_events} must be >= 1")
        self.keep_operations = keep_operations
        self.keep_events = keep_events
        self.event_max_age = event_max_age
        self._clock = clock
        self._open = False
        self._apps: dict[str, Any] = {}
        self._operations: dict[int, OperationRecord] = {}
        self._events: dict[int, Any] = {}
        self._tokens: dict[str, TokenRecord] = {}
        self._controls: dict[str, Any] = {}
        self._next_operation = 1
        self._next_event = 1
        self._last_age_trim: datetime | None = None

    # --- life cycle ---------------------------------------------------------------

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def __aenter__(self) -> MemoryStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _enter(self, what: str) -> None:
        if not self._open:
            raise StoreUnavailable(f"store memory:// is not open ({what})")
        # Yield like a real store would, so races in callers show up in tests.
        await asyncio.sleep(0)

    # --- status ---------------------------------------------------------------------

    async def save_status(self, app: Any) -> None:
        if not app.name:
            raise InvalidRecord("an Application status needs a name")
        _check_datetimes(app, f"status of app {app.name}")
        if app.updated_at is None:
            app = dataclasses.replace(app, updated_at=self._clock())
        await self._enter(f"saving status of app {app.name}")
        self._apps[app.name] = app

    async def save_statuses(self, apps: Any) -> None:
        saved = []
        for app in apps:
            if not app.name:
                raise InvalidRecord("an Application status needs a name")
            _check_datetimes(app, f"status of app {app.name}")
            saved.append(
                app
                if app.updated_at is not None
                else dataclasses.replace(app, updated_at=self._clock())
            )
        await self._enter(f"saving {len(saved)} statuses")
        for app in saved:
            self._apps[app.name] = app

    async def get_status(self, name: str) -> Any:
        await self._enter(f"reading status of app {name}")
        return self._apps.get(name)

    async def list_status(
        self,
        *,
        project: str | None = None,
        sync: status.SyncStatus | None = None,
        health: status.HealthStatus | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Any]:
        for value, kind in ((sync, status.SyncStatus), (health, status.HealthStatus)):
            if value is not None and value not in tuple(kind):
                raise InvalidQuery(
                    f"listing app statuses: {value!r} is not a valid {kind.__name__}"
                )
        await self._enter("listing app statuses")
        found = []
        for name in sorted(self._apps):
            app = self._apps[name]
            if project is not None and app.project != project:
                continue
            if sync is not None and app.sync != sync:
                continue
            if health is not None and app.health.status != health:
                continue
            if labels and not all(app.labels.get(k) == v for k, v in labels.items()):
                continue
            found.append(app)
        return found

    async def delete_app(self, name: str) -> bool:
        await self._enter(f"deleting app {name}")
        found = self._apps.pop(name, None) is not None
        for op_id in [i for i, r in self._operations.items() if r.operation.app == name]:
            del self._operations[op_id]
            found = True
        for event_id in [i for i, e in self._events.items() if e.app == name]:
            del self._events[event_id]
            found = True
        return found

    # --- operations -----------------------------------------------------------------------

    async def start_operation(self, op: operations.Operation, plan: Any = None) -> int:
        if op.phase is not operations.OperationPhase.RUNNING:
            raise InvalidRecord(
                f"operation of app {op.app} must be Running to start, not {op.phase.value}"
            )
        _check_operation(op)
        await self._enter(f"starting an operation of app {op.app}")
        op_id = self._next_operation
        self._next_operation += 1
        self._operations[op_id] = OperationRecord(id=op_id, operation=op, plan=plan)
        mine = sorted(
            (i for i, r in self._operations.items() if r.operation.app == op.app), reverse=True
        )
        for old in mine[self.keep_operations :]:
            if self._operations[old].operation.phase is not operations.OperationPhase.RUNNING:
                del self._operations[old]
        return op_id

    async def finish_operation(self, id: int, op: operations.Operation) -> None:
        if op.phase is operations.OperationPhase.RUNNING:
            raise InvalidRecord(f"operation {id} of app {op.app} cannot finish in phase Running")
        _check_operation(op)
        if op.finished_at is None:
            op = dataclasses.replace(op, finished_at=self._clock())
        await self._enter(f"finishing operation {id} of app {op.app}")
        record = self._operations.get(id)
        if record is None:
            raise RecordNotFound(
                f"operation {id} of app {op.app} does not exist in store memory://"
            )
        if record.operation.app != op.app:
            raise InvalidRecord(
                f"operation {id} belongs to app {record.operation.app}, not {op.app}"
            )
        if record.operation.phase is not operations.OperationPhase.RUNNING:
            raise RecordConflict(
                f"operation {id} of app {op.app} is already {record.operation.phase.value}; "
                "an operation finishes once"
            )
        self._operations[id] = dataclasses.replace(record, operation=op)

    async def get_operation(self, id: int) -> OperationRecord | None:
        await self._enter(f"reading operation {id}")
        return self._operations.get(id)

    async def list_operations(
        self, app: str, *, limit: int = 100, before_id: int | None = None
    ) -> list[OperationRecord]:
        _check_limit(limit, f"operations of app {app}")
        await self._enter(f"listing operations of app {app}")
        ids = sorted(
            (
                i
                for i, r in self._operations.items()
                if r.operation.app == app and (before_id is None or i < before_id)
            ),
            reverse=True,
        )
        return [self._operations[i] for i in ids[:limit]]

    async def recover_interrupted(
        self,
        now: datetime,
        *,
        apps: Collection[str] | None = None,
        live_fences: Collection[str] = (),
    ) -> list[int]:
        _check_aware(now, "recovery time")
        await self._enter("recovering interrupted operations")
        wanted = None if apps is None else set(apps)
        live = set(live_fences)
        ids = sorted(
            i
            for i, r in self._operations.items()
            if r.operation.phase is operations.OperationPhase.RUNNING
            and (wanted is None or r.operation.app in wanted)
            and r.operation.fence not in live
        )
        for i in ids:
            record = self._operations[i]
            self._operations[i] = dataclasses.replace(
                record,
                operation=dataclasses.replace(
                    record.operation,
                    phase=operations.OperationPhase.FAILED,
                    reason=INTERRUPTED_REASON,
                    message=(
                        "the gitward agent stopped while this operation was running; "
                        f"it was marked failed when the agent started again at {now.isoformat()}"
                    ),
                    finished_at=now,
                ),
            )
        return ids

    # --- events ------------------------------------------------------------------------------

    async def add_event(self, event: Any) -> int:
        if event.id is not None:
            raise InvalidRecord(
                f"event {event.reason} of app {event.app} is already stored as id {event.id}"
            )
        if event.type not in ("Normal", "Warning"):
            raise InvalidRecord(
                f"event {event.reason} of app {event.app}: type {event.type!r} is not "
                "Normal or Warning"
            )
        _check_datetimes(event, f"event {event.reason} of app {event.app}")
        await self._enter(f"adding event {event.reason} of app {event.app}")
        event_id = self._next_event
        self._next_event += 1
        self._events[event_id] = dataclasses.replace(event, id=event_id)
        mine = sorted((i for i, e in self._events.items() if e.app == event.app), reverse=True)
        for old in mine[self.keep_events :]:
            del self._events[old]
        now = self._clock()
        if self.event_max_age is not None and (
            self._last_age_trim is None or now - self._last_age_trim >= _AGE_TRIM_INTERVAL
        ):
            cutoff = now - self.event_max_age
            for old in [i for i, e in self._events.items() if e.time < cutoff]:
                del self._events[old]
            self._last_age_trim = now
        return event_id

    async def list_events(
        self,
        *,
        app: str | None = None,
        after_id: int | None = None,
        before_id: int | None = None,
        limit: int = 200,
    ) -> list[Any]:
        _check_limit(limit, "events")
        await self._enter("listing events")
        ids = sorted(
            i
            for i, e in self._events.items()
            if (app is None or e.app == app)
            and (after_id is None or i > after_id)
            and (before_id is None or i < before_id)
        )
        chosen = ids[:limit] if after_id is not None else ids[-limit:]
        return [self._events[i] for i in chosen]

    # --- tokens ----------------------------------------------------------------------------------

    async def save_token(
        self,
        name: str,
        sha256_hash: str,
        role: str,
        projects: tuple[str, ...],
        created_at: datetime,
    ) -> None:
        if not name:
            raise InvalidRecord("a token needs a name")
        if not _TOKEN_HASH.fullmatch(sha256_hash):
            raise InvalidRecord(
                f"token {name}: expected the SHA-256 hex digest of the token (64 lowercase "
                "hex characters), never the token itself"
            )
        if not role:
            raise InvalidRecord(f"token {name} needs a role")
        if isinstance(projects, str) or not all(isinstance(p, str) and p for p in projects):
            raise InvalidRecord(f"token {name}: projects must be a tuple of project names")
        _check_aware(created_at, f"creation time of token {name}")
        await self._enter(f"saving token {name}")
        for other in self._tokens.values():
            if other.sha256_hash == sha256_hash and other.name != name:
                raise RecordConflict(
                    f"token {name}: the same token is already saved as {other.name}"
                )
        self._tokens[name] = TokenRecord(
            name=name,
            sha256_hash=sha256_hash,
            role=role,
            projects=tuple(projects),
            created_at=created_at,
        )

    async def find_token(self, sha256_hash: str) -> TokenRecord | None:
        await self._enter("looking up a token")
        for token in self._tokens.values():
            if token.sha256_hash == sha256_hash:
                return token
        return None

    async def delete_token(self, name: str) -> bool:
        await self._enter(f"deleting token {name}")
        return self._tokens.pop(name, None) is not None

    async def list_tokens(self) -> list[TokenRecord]:
        await self._enter("listing tokens")
        return [self._tokens[name] for name in sorted(self._tokens)]

    # --- rollout controls --------------------------------------------------------------

    async def save_rollout_control(self, control: Any) -> None:
        await self._enter(f"saving rollout of {control.name}")
        self._controls[control.name] = control

    async def list_rollout_controls(self) -> list[Any]:
        await self._enter("listing rollout controls")
        return [self._controls[name] for name in sorted(self._controls)]


def _check_limit(limit: int, what: str) -> None:
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidQuery(f"listing {what}: limit {limit} is outside 1..{MAX_LIST_LIMIT}")


def _check_operation(op: operations.Operation) -> None:
    if not op.app:
        raise InvalidRecord("an operation needs the name of its app")
    _check_datetimes(op, f"operation of app {op.app}")


def _check_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRecord(f"{what}: datetime {value.isoformat()} has no timezone")


def _check_datetimes(record: object, what: str) -> None:
    """Refuse a naive datetime anywhere in ``record``, as the SQL store does."""
    for value in _walk(record):
        _check_aware(value, what)


def _walk(value: object) -> Iterator[datetime]:
    if isinstance(value, datetime):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _walk(getattr(value, f.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk(item)
