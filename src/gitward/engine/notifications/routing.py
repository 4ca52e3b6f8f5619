"""From the event log to the outbox: which alerts an event matches, for whom.

:class:`Router` reads the events recorded after its cursor (stored, so a
restart neither repeats nor loses a notification), matches them against the
alerts (``gitward.yaml`` and ``kind: Alert`` documents in the Git root), builds
the payload (``messages.payload``) and queues one delivery per matching alert,
moving the cursor in the same transaction. Reading the log instead of being
called by the reconcile keeps notification work off the reconcile's path.
Called by :mod:`gitward.engine.notifications.running`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog

from gitward.config import notifications as config
from gitward.engine import transitions
from gitward.engine.notifications import messages
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)

CURSOR = "notifications"
_BATCH = 200

Describe = Callable[[str], Mapping[str, Any] | None]
"""The ``application`` object of the payload for an app name (None: unknown)."""


def dedup_key(alert: str, provider: str, document: Mapping[str, Any]) -> str:
    event = document.get("event", {})
    parts = (
        alert,
        provider,
        str(document.get("application", {}).get("name", "")),
        str(event.get("reason", "")),
        str(event.get("revision", "")),
        str(event.get("message", "")),
        str(document.get("status")),
    )
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _selects(
    alert: config.AlertSpec,
    provider: config.ProviderSettings,
    event: store_base.EventRecord,
    project: str,
    labels: Mapping[str, str],
) -> bool:
    if alert.matches(event.reason, event.app, project, labels):
        return True
    # A commit status turns success when the Application is Synced and Healthy
    # (Deployed), not when the apply ends: an alert asking a forge for
    # SyncSucceeded (as people write it) means that moment.
    return (
        provider.commit_status
        and event.reason == transitions.DEPLOYED
        and alert.matches(transitions.SYNC_SUCCEEDED, event.app, project, labels)
    )


def deliveries(
    event: store_base.EventRecord,
    application: Mapping[str, Any],
    alerts: Sequence[tuple[str, config.AlertSpec]],
    providers: Mapping[str, config.ProviderSettings],
    now: datetime,
) -> list[store_base.DeliveryRecord]:
    """The deliveries ``event`` causes (pure: table-tested)."""
    document = messages.payload(
        event_id=event.id,
        reason=event.reason,
        type_=str(event.type),
        message=event.message,
        revision=event.revision,
        time=event.time,
        application=application,
    )
    found = []
    labels = application.get("labels") or {}
    for name, alert in alerts:
        provider = providers.get(alert.provider)
        if provider is None:
            continue
        if not _selects(alert, provider, event, str(application.get("project", "")), labels):
            continue
        if provider.commit_status and (document["status"] is None or not event.revision):
            continue
        payload = dict(document)
        if alert.template:
            payload["template"] = alert.template
        found.append(
            store_base.DeliveryRecord(
                provider=alert.provider,
                alert=name,
                app=event.app,
                reason=event.reason,
                dedup_key=dedup_key(name, alert.provider, document),
                payload=payload,
                created_at=now,
                event_id=event.id,
                next_attempt_at=now,
            )
        )
    return found


class Router:
    def __init__(
        self,
        store: Any,
        settings: Callable[[], config.NotificationSettings],
        alerts: Callable[[], Sequence[tuple[str, config.AlertSpec]]],
        describe: Describe,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._settings = settings
        self._alerts = alerts
        self._describe = describe
        self._clock = clock
        self._cursor: int | None = None

    async def start(self) -> None:
        """Take the stored cursor; the first time, start after the newest event
        (history recorded before notifications were configured is not sent)."""
        self._cursor = await self._store.outbox_cursor(CURSOR)
        if self._cursor is None:
            newest = await self._store.list_events(limit=1)
            self._cursor = newest[-1].id if newest and newest[-1].id is not None else 0

    async def route(self) -> int:
        """Queue the deliveries of every event after the cursor; how many were queued."""
        if self._cursor is None:
            await self.start()
        queued = 0
        while True:
            events = await self._store.list_events(after_id=self._cursor, limit=_BATCH)
            if not events:
                return queued
            settings = self._settings()
            alerts = self._alerts()
            now = self._clock()
            items: list[store_base.DeliveryRecord] = []
            for event in events:
                application = self._describe(event.app) or {"name": event.app}
                items.extend(deliveries(event, application, alerts, settings.providers, now))
            last = events[-1].id
            assert last is not None
            ids = await self._store.enqueue(
                items,
                cursor=(CURSOR, last),
                dedup_window=timedelta(seconds=settings.delivery.dedup_window),
                limit=settings.delivery.outbox_limit,
            )
            if len(ids) < len(items):
                _log.info("notifications de-duplicated", skipped=len(items) - len(ids))
            # Another replica may have routed further; never route behind it.
            self._cursor = max(last, await self._store.outbox_cursor(CURSOR) or 0)
            queued += len(ids)
            if len(events) < _BATCH:
                return queued
