"""Between the agent's working memory (:class:`states.AppState`) and the store's records."""

from __future__ import annotations

from datetime import datetime

import structlog

from gitward import errors
from gitward.config import applications
from gitward.engine import catalog, states
from gitward.model import operations
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)


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
        owner=state.owner,
        file=state.file if state.owner else "",
        generated=(
            state.app.model_dump(by_alias=True, exclude_defaults=True, mode="json")
            if state.owner
            else None
        ),
    )


def expansion_base(
    current: catalog.Catalog | None, restored: dict[str, store_base.AppRecord]
) -> catalog.Catalog | None:
    """What ApplicationSets are expanded against: the catalog in use or, before
    the first one since start-up, the generated Applications the store kept.

    So a set with ``applicationsSync: create-update`` still keeps, after a
    restart, what its generators no longer produce, and a set whose generators
    fail at start-up keeps what it had generated."""
    if current is not None:
        return current
    apps: dict[str, catalog.Declared] = {}
    for name, saved in restored.items():
        if not saved.owner or saved.generated is None:
            continue
        try:
            app = applications.parse(saved.generated, f"stored Application {name}")
        except errors.ConfigError as exc:
            # Written by another version of gitward: the set generates it again.
            _log.warning("stored generated Application unreadable", app=name, error=str(exc))
            continue
        apps[name] = catalog.Declared(app, saved.file, owner=saved.owner)
    return catalog.Catalog(revision="", apps=apps) if apps else None


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
