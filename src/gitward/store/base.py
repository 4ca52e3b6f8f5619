"""What the store offers the engine and the edges: records, errors and the :class:`Store` Protocol.

The engine composes a :class:`Store` (``gitward.store.storing.SqlStore`` in
production, ``gitward.testing.stores.MemoryStore`` in tests) and calls it from
asyncio code:

* at start-up: ``await store.open()`` then ``await store.recover_interrupted(now)``
  (every operation a crash left Running becomes Failed, reason ``Interrupted``);
* per reconcile: ``save_status`` (an :class:`AppRecord`), ``start_operation`` /
  ``finish_operation`` around a sync, ``add_event`` for what people should see;
* the API, CLI and UI read with ``get_status``, ``list_status``,
  ``list_operations``, ``get_operation`` and ``list_events`` (``after_id`` is
  the cursor of the live event stream), and manage API tokens (stored hashed).

Every method is safe to call concurrently from many tasks. Records are frozen
dataclasses; every datetime must be timezone-aware (stored as UTC). Nothing in
a record may hold secret data: a Plan is stored only as its
:class:`PlanSummary` (counts per action), never its field values.

``gitward.testing`` may not import this package, so the fake's records match
these by shape (field names and types); the contract tests check they agree.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from gitward import errors
from gitward.model import operations, plans, status

DEFAULT_KEEP_OPERATIONS = 100
DEFAULT_KEEP_EVENTS = 1000
# The issue promises at least the last 100 operations per Application; a
# smaller setting would silently break rollback and audit, so it is refused.
MIN_KEEP_OPERATIONS = 100
INTERRUPTED_REASON = "Interrupted"
# Largest page a list call returns; the API pages with before_id/after_id.
MAX_LIST_LIMIT = 1000


# --- errors -------------------------------------------------------------------


class StoreUnavailable(errors.RetryableError):
    """The database could not be reached, is locked, or the store is not open."""

    reason = "StoreUnavailable"


class StoreCorrupt(errors.InputError):
    """The database file is not a database, or its pages are damaged: retrying
    cannot help; a person restores it or moves it aside."""

    reason = "StoreCorrupt"


class RecordNotFound(errors.InputError):
    """A record named by the caller (an operation id) does not exist."""

    reason = "NotFound"


class RecordConflict(errors.InputError):
    """The write contradicts what is stored (finishing an operation twice,
    a token hash already used by another token)."""

    reason = "Conflict"


class InvalidRecord(errors.InputError):
    """A record cannot be stored as given (naive datetime, wrong phase, bad hash)
    or a stored document cannot be read back."""

    reason = "InvalidRecord"


class InvalidQuery(errors.InputError):
    """A query argument is out of range (a limit below 1 or above the maximum)."""

    reason = "InvalidQuery"


class IncompatibleSchema(errors.ConfigError):
    """The database was written by a newer gitward (its schema version is ahead)."""

    reason = "IncompatibleStore"


_UNKNOWN_HEALTH = status.HealthResult(status.HealthStatus.UNKNOWN)


# --- records ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history the store keeps; trimmed on every insert.

    ``keep_operations``: newest operations kept per Application (at least 100).
    ``keep_events``: newest events kept per Application.
    ``event_max_age``: events older than this are deleted as well (None: no age
    limit); checked at most once a minute, on insert.
    """

    keep_operations: int = DEFAULT_KEEP_OPERATIONS
    keep_events: int = DEFAULT_KEEP_EVENTS
    event_max_age: timedelta | None = None

    def __post_init__(self) -> None:
        if self.keep_operations < MIN_KEEP_OPERATIONS:
            raise errors.ConfigError(
                f"store retention keep_operations={self.keep_operations} is below the "
                f"minimum of {MIN_KEEP_OPERATIONS} operations per Application"
            )
        if self.keep_events < 1:
            raise errors.ConfigError(
                f"store retention keep_events={self.keep_events} must be at least 1"
            )
        if self.event_max_age is not None and self.event_max_age <= timedelta(0):
            raise errors.ConfigError(
                f"store retention event_max_age={self.event_max_age} must be positive"
            )


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """What a Plan would do, in counts: all the store keeps of a Plan.

    Field values never reach the store (a Secret's data is masked in a Plan,
    and even masked values are not kept); per-resource detail of a sync lives in
    the operation's :class:`gitward.model.operations.ResourceResult` rows.
    """

    revision: str
    # Count per action value (create, update, unchanged, prune, skip), hooks excluded.
    counts: Mapping[str, int]
    hooks: int = 0
    server_side: bool = True
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(cls, plan: plans.Plan) -> PlanSummary:
        return cls(
            revision=plan.revision,
            counts=plan.summary(),
            hooks=sum(1 for change in plan.changes if change.hook),
            server_side=plan.server_side,
            warnings=tuple(plan.warnings),
        )

    @property
    def in_sync(self) -> bool:
        return not any(
            self.counts.get(action.value, 0)
            for action in (plans.Action.CREATE, plans.Action.UPDATE, plans.Action.PRUNE)
        )


@dataclass(frozen=True, slots=True)
class AppRecord:
    """The stored status of one Application: what the API, CLI and UI show.

    ``desired_revision`` is the commit the sync status was computed against;
    ``synced_revision`` the last one applied successfully (what a restarted
    agent compares with, so an app in sync is not applied again).
    ``drift_since`` is when the live state first differed from Git (None when
    in sync). ``plan`` summarises the current Plan. ``updated_at`` is stamped
    by the store's clock when the caller leaves it None.
    """

    name: str
    project: str = "default"
    sync: status.SyncStatus = status.SyncStatus.UNKNOWN
    desired_revision: str = ""
    synced_revision: operations.Revision | None = None
    health: status.HealthResult = _UNKNOWN_HEALTH
    conditions: tuple[status.Condition, ...] = ()
    resources: tuple[status.ResourceStatus, ...] = ()
    suspended: bool = False
    pinned_revision: str = ""
    last_operation_id: int | None = None
    drift_since: datetime | None = None
    updated_at: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    plan: PlanSummary | None = None
    # An Application an ApplicationSet generated: the set's name, the file
    # declaring the set, and the Application document as generated, so a
    # restarted agent still knows what a set keeps (applicationsSync:
    # create-update) or what a set whose generators fail at start-up made.
    owner: str = ""
    file: str = ""
    generated: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """One stored operation: its id, the operation, and the Plan it carried out."""

    id: int
    operation: operations.Operation
    plan: PlanSummary | None = None


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


class EventReason(StrEnum):
    """Reasons the engine uses for events; any condition reason may be used too."""

    SYNC_STARTED = "SyncStarted"
    SYNC_SUCCEEDED = "SyncSucceeded"
    SYNC_FAILED = "SyncFailed"
    DRIFT_DETECTED = "DriftDetected"
    DRIFT_CORRECTED = "DriftCorrected"
    SOURCE_FAILED = "SourceFailed"
    RENDER_FAILED = "RenderFailed"
    HEALTH_CHANGED = "HealthChanged"
    OPERATION_INTERRUPTED = "OperationInterrupted"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event of the log. ``id`` is None until stored; ids only grow, so the
    largest id a reader has seen is its cursor (``list_events(after_id=...)``).
    ``app`` is empty for agent-wide events."""

    app: str
    time: datetime
    type: EventType
    reason: str
    message: str
    revision: str = ""
    operation_id: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as stored: its SHA-256 hex digest, never the token itself."""

    name: str
    sha256_hash: str
    role: str
    projects: tuple[str, ...]
    created_at: datetime


class DeliveryState(StrEnum):
    """Where a notification is: due (``attempts`` > 0: retrying), or finished."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One notification for one alert's provider: in the outbox while pending,
    then in the delivery log. ``payload`` is the event and its context, never a
    secret. ``id`` is None until stored."""

    provider: str
    alert: str
    app: str
    reason: str
    dedup_key: str
    payload: Mapping[str, object]
    created_at: datetime
    event_id: int | None = None
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    updated_at: datetime | None = None
    last_error: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class RolloutControl:
    """What people said about an ApplicationSet's rollout (``gitward appset
    pause|resume|promote``): kept so a restarted agent still holds it."""

    name: str
    paused: bool = False
    promoted_through: int = -1  # steps 0..n opened by hand; -1: none


# --- the Protocol ---------------------------------------------------------------


class Store(Protocol):
    """Persistence of status, operations, events and tokens (see module doc)."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def save_status(self, app: AppRecord) -> None: ...

    async def save_statuses(self, apps: Sequence[AppRecord]) -> None:
        """Many statuses in one transaction: all saved, or none."""
        ...

    async def get_status(self, name: str) -> AppRecord | None: ...

    async def list_status(
        self,
        *,
        project: str | None = None,
        sync: status.SyncStatus | None = None,
        health: status.HealthStatus | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[AppRecord]: ...

    async def delete_app(self, name: str) -> bool:
        """Delete the status, operations and events of ``name``; False if none existed."""
        ...

    async def start_operation(
        self, op: operations.Operation, plan: PlanSummary | None = None
    ) -> int:
        """Record ``op`` (phase Running, else InvalidRecord); return its id.

        Trims the app's history to the newest ``Retention.keep_operations``
        (a Running operation is never trimmed).
        """
        ...

    async def finish_operation(self, id: int, op: operations.Operation) -> None:
        """Replace Running operation ``id`` by ``op`` (not Running; ``finished_at``
        stamped by the clock if None). RecordNotFound for an unknown id,
        InvalidRecord for another app's id, RecordConflict if it is not Running."""
        ...

    async def get_operation(self, id: int) -> OperationRecord | None: ...

    async def list_operations(
        self, app: str, *, limit: int = 100, before_id: int | None = None
    ) -> list[OperationRecord]:
        """Newest first; ``before_id`` pages to older ones; limit 1..MAX_LIST_LIMIT."""
        ...

    async def recover_interrupted(
        self,
        now: datetime,
        *,
        apps: Collection[str] | None = None,
        live_fences: Collection[str] = (),
    ) -> list[int]:
        """At start-up: every Running operation becomes Failed, reason Interrupted,
        ``finished_at=now``; returns their ids in ascending order. Replicas
        narrow it to ``apps`` (their shard) and skip operations whose fence is
        in ``live_fences`` (another live replica's sync)."""
        ...

    async def add_event(self, event: EventRecord) -> int:
        """Append ``event`` (``id`` None) and return its id; trims by count and age."""
        ...

    async def list_events(
        self,
        *,
        app: str | None = None,
        after_id: int | None = None,
        before_id: int | None = None,
        limit: int = 200,
    ) -> list[EventRecord]:
        """Events oldest first. With ``after_id`` (the live cursor) the first
        ``limit`` after it; without, the newest ``limit`` (below ``before_id``)."""
        ...

    async def save_token(
        self,
        name: str,
        sha256_hash: str,
        role: str,
        projects: tuple[str, ...],
        created_at: datetime,
    ) -> None:
        """Insert or replace token ``name``; ``sha256_hash`` is the hex digest of
        the token, never the token. A digest used by another name: RecordConflict."""
        ...

    async def find_token(self, sha256_hash: str) -> TokenRecord | None:
        """The token with this digest; None if unknown or not a digest."""
        ...

    async def delete_token(self, name: str) -> bool: ...

    async def list_tokens(self) -> list[TokenRecord]: ...

    async def save_rollout_control(self, control: RolloutControl) -> None: ...

    async def list_rollout_controls(self) -> list[RolloutControl]: ...


class Outbox(Protocol):
    """The notification outbox and delivery log (``SqlStore`` implements it).

    The router reads the event log from its cursor and ``enqueue``s; the
    deliverer takes what is ``due`` and ``settle``s each attempt.
    """

    async def outbox_cursor(self, name: str) -> int | None: ...

    async def enqueue(
        self,
        items: list[DeliveryRecord],
        *,
        cursor: tuple[str, int],
        dedup_window: timedelta,
        limit: int,
    ) -> list[int]:
        """Store ``items`` (skipping any whose ``dedup_key`` was enqueued within
        ``dedup_window``), move ``cursor`` and drop the oldest pending beyond
        ``limit``, in one transaction; the ids stored."""
        ...

    async def due(self, now: datetime, limit: int = 100) -> list[DeliveryRecord]: ...

    async def claim(
        self, now: datetime, *, lease: timedelta, limit: int = 100
    ) -> list[DeliveryRecord]:
        """The due deliveries, each moved ``lease`` ahead so nobody else sends it."""
        ...

    async def next_due(self) -> datetime | None: ...

    async def settle(self, delivery: DeliveryRecord, *, keep: int) -> None:
        """Record an attempt's outcome (state, attempts, next attempt, error) and
        trim finished deliveries beyond the newest ``keep``."""
        ...

    async def list_deliveries(
        self,
        *,
        app: str | None = None,
        provider: str | None = None,
        state: DeliveryState | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[DeliveryRecord]:
        """Newest first."""
        ...


def interrupted_message(now: datetime) -> str:
    """The message of an operation found Running at start-up."""
    return (
        "the gitward agent stopped while this operation was running; "
        f"it was marked failed when the agent started again at {now.isoformat()}"
    )
