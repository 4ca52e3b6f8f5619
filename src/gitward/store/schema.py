"""The store's tables (SQLAlchemy 2 declarative), shared by SQLite and PostgreSQL.

Read and written only by :mod:`gitward.store.storing` (queries) and
:mod:`gitward.store.migrating` (creation and upgrades). Table names carry a
``gitward_`` prefix so the store can live in a database shared with others.

Design notes:

* Structured parts (conditions, resource rows, per-resource results, revision,
  plan summary, labels) are JSON documents written by
  :mod:`gitward.store.serialising`; columns exist only for what is filtered,
  ordered or trimmed on. PostgreSQL stores them as JSONB.
* Ids of operations and events only grow and are never reused, even after the
  newest rows are deleted (SQLite ``AUTOINCREMENT``; a PostgreSQL sequence):
  an event id is the cursor of the live event stream, and an operation id is
  what ``AppRecord.last_operation_id`` points at.
* Datetimes are timezone-aware UTC in Python on both databases
  (:class:`UtcDateTime`), ``timestamptz`` in PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as UTC; SQLite keeps no zone, so the
    value is normalised to UTC on the way in and marked UTC on the way out."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # serialising.utc refuses naive datetimes before they get here.
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (smaller, indexable); JSON text elsewhere.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite needs INTEGER (not BIGINT) for an auto-incrementing rowid alias.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class SchemaVersion(Base):
    """One row: the schema version the database is at (see :mod:`gitward.store.migrating`)."""

    __tablename__ = "gitward_schema"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)


class AppRow(Base):
    """The status of one Application; ``document`` is ``serialising.app_to_dict``."""

    __tablename__ = "gitward_applications"

    name: Mapped[str] = mapped_column(sa.String, primary_key=True)
    project: Mapped[str] = mapped_column(sa.String, nullable=False, index=True)
    sync: Mapped[str] = mapped_column(sa.String, nullable=False)
    health: Mapped[str] = mapped_column(sa.String, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    document: Mapped[dict[str, Any]] = mapped_column(Json, nullable=False)


class OperationRow(Base):
    """One sync attempt; ``revision``, ``plan`` and ``results`` are JSON documents."""

    __tablename__ = "gitward_operations"
    __table_args__ = (
        # list_operations and retention: newest first per app.
        sa.Index("ix_gitward_operations_app_id", "app", "id"),
        # Delivery metrics and time-range queries of one app's history.
        sa.Index("ix_gitward_operations_app_started", "app", sa.text("started_at DESC")),
        # recover_interrupted looks for Running operations at start-up.
        sa.Index("ix_gitward_operations_phase", "phase"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    app: Mapped[str] = mapped_column(sa.String, nullable=False)
    phase: Mapped[str] = mapped_column(sa.String, nullable=False)
    trigger: Mapped[str] = mapped_column(sa.String, nullable=False)
    revision_sha: Mapped[str] = mapped_column(sa.String, nullable=False)
    revision: Mapped[dict[str, Any]] = mapped_column(Json, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    dry_run: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    message: Mapped[str] = mapped_column(sa.Text, nullable=False)
    reason: Mapped[str] = mapped_column(sa.String, nullable=False)
    plan: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    results: Mapped[list[dict[str, Any]]] = mapped_column(Json, nullable=False)
    # The replica's fencing token ('' for a single replica): recovery at
    # start-up touches only operations whose fence is no longer live.
    fence: Mapped[str] = mapped_column(sa.String, nullable=False, server_default="")


class EventRow(Base):
    """One event of the log; the id is the cursor of the live stream."""

    __tablename__ = "gitward_events"
    __table_args__ = (
        sa.Index("ix_gitward_events_app_id", "app", "id"),
        # Age-based retention.
        sa.Index("ix_gitward_events_time", "time"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    app: Mapped[str] = mapped_column(sa.String, nullable=False)
    time: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    type: Mapped[str] = mapped_column(sa.String, nullable=False)
    reason: Mapped[str] = mapped_column(sa.String, nullable=False)
    message: Mapped[str] = mapped_column(sa.Text, nullable=False)
    revision: Mapped[str] = mapped_column(sa.String, nullable=False)
    operation_id: Mapped[int | None] = mapped_column(Id, nullable=True)


class TokenRow(Base):
    """An API token: its SHA-256 hex digest (never the token), role and projects."""

    __tablename__ = "gitward_tokens"

    name: Mapped[str] = mapped_column(sa.String, primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    role: Mapped[str] = mapped_column(sa.String, nullable=False)
    projects: Mapped[list[str]] = mapped_column(Json, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class DeliveryRow(Base):
    """One notification in the outbox and, once finished, in the delivery log.

    ``state`` is pending (due at ``next_attempt_at``; ``attempts`` > 0 means
    retrying), sent, failed (gave up) or dropped (the outbox was full).
    ``payload`` is the event and its context (never a secret: secrets are read
    by the provider at send time); ``dedup_key`` finds the same event for the
    same alert within the de-duplication window.
    """

    __tablename__ = "gitward_deliveries"
    __table_args__ = (
        sa.Index("ix_gitward_deliveries_due", "state", "next_attempt_at"),
        sa.Index("ix_gitward_deliveries_dedup", "dedup_key", "created_at"),
        sa.Index("ix_gitward_deliveries_app_id", "app", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(sa.String, nullable=False)
    alert: Mapped[str] = mapped_column(sa.String, nullable=False)
    app: Mapped[str] = mapped_column(sa.String, nullable=False)
    reason: Mapped[str] = mapped_column(sa.String, nullable=False)
    event_id: Mapped[int | None] = mapped_column(Id, nullable=True)
    dedup_key: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    state: Mapped[str] = mapped_column(sa.String, nullable=False)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_error: Mapped[str] = mapped_column(sa.Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(Json, nullable=False)


class CursorRow(Base):
    """Named read positions in the event log (the outbox's: the last event routed)."""

    __tablename__ = "gitward_cursors"

    name: Mapped[str] = mapped_column(sa.String, primary_key=True)
    event_id: Mapped[int] = mapped_column(Id, nullable=False)


class RolloutRow(Base):
    """People's word on an ApplicationSet's rollout: paused, steps promoted."""

    __tablename__ = "gitward_rollouts"

    name: Mapped[str] = mapped_column(sa.String, primary_key=True)
    paused: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    promoted_through: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


metadata = Base.metadata
