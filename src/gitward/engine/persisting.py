"""Between the agent's working memory (:class:`states.AppState`) and the store's records."""

from __future__ import annotations

from datetime import datetime

from gitward.engine import states
from gitward.model import operations
from gitward.store import base as store_base


def record(state: states.AppState, now: datetime) -> store_base.AppRecord:
    """The stored status of ``state``."""
    return store_base.AppRecord(
        name=state.name,
        project=state.app.metadata.project,
        sync=state.sync,
        desired_revision=state.revision,
        synced_revision=operations.Revision(sha=state.synced_revision)
        if state.synced_revision
        else None,
        health=state.health,
        conditions=tuple(state.conditions[t] for t in sorted(state.conditions)),
        resources=tuple(state.resource_statuses),
        suspended=state.suspended,
        pinned_revision=state.pinned_revision,
        last_operation_id=state.last_operation,
        drift_since=state.drift_since,
        updated_at=now,
        labels=dict(state.app.metadata.labels),
    )


def restore(state: states.AppState, saved: store_base.AppRecord) -> None:
    """Take over what a previous run knew, so a restart does not re-apply what
    is in sync, and people's suspend/pin decisions survive."""
    state.sync = saved.sync
    state.revision = saved.desired_revision
    state.synced_revision = saved.synced_revision.sha if saved.synced_revision else ""
    state.health = saved.health
    state.conditions = {c.type: c for c in saved.conditions}
    state.resource_statuses = list(saved.resources)
    state.managed_keys = frozenset(r.key for r in saved.resources)
    state.suspended = saved.suspended
    state.pinned_revision = saved.pinned_revision
    state.last_operation = saved.last_operation_id
    state.drift_since = saved.drift_since


def event(
    app: str, type_: str, reason: str, message: str, revision: str, now: datetime
) -> store_base.EventRecord:
    return store_base.EventRecord(
        app=app,
        time=now,
        type=store_base.EventType(type_),
        reason=reason,
        message=message,
        revision=revision,
    )
