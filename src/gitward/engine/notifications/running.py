"""The notification service: two tasks beside the agent, never inside a reconcile.

:class:`Notifier` runs the router (event log -> outbox) and the deliverer
(outbox -> providers). The agent only records events, as it always did; a
listener (``wake``) tells the notifier there is something new, so a
notification leaves within milliseconds of its event, and a one-second poll
catches events written by another process (the CLI, another replica). A slow
or unreachable receiver therefore never slows a reconcile: at worst its
deliveries wait in the outbox.

Started by the agent's loop when ``notifications.providers`` is not empty and
the store keeps an outbox (``SqlStore``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import structlog

from gitward import errors
from gitward.config import notifications as config
from gitward.engine import states
from gitward.engine.notifications import delivering, routing

_log = structlog.get_logger(__name__)

_POLL = 1.0
_ERROR_PAUSE = 5.0
_START_PAUSE = 0.1


def supported(store: Any) -> bool:
    """Whether ``store`` keeps an outbox (``SqlStore`` does, the memory fake not)."""
    return all(hasattr(store, name) for name in ("enqueue", "claim", "settle", "outbox_cursor"))


class Notifier:
    def __init__(
        self,
        store: Any,
        settings: Callable[[], config.NotificationSettings],
        *,
        alerts: Callable[[], Sequence[tuple[str, config.AlertSpec]]],
        describe: routing.Describe,
        clock: Callable[[], datetime],
        metrics: Any = None,
    ) -> None:
        self.router = routing.Router(store, settings, alerts, describe, clock)
        self.deliverer = delivering.Deliverer(store, settings, clock, metrics)
        self._clock = clock
        self._wakeup = asyncio.Event()
        # Set once the router holds its cursor: events recorded afterwards are sent.
        self.ready = asyncio.Event()

    def wake(self, _app: str = "") -> None:
        """Something was recorded: route and deliver now (an agent listener)."""
        self._wakeup.set()

    async def _start(self) -> None:
        """Take the router's cursor, waiting while the store is not usable yet
        (the agent opens it in its own start-up, retrying while it fails)."""
        pause = _START_PAUSE
        while True:
            try:
                await self.router.start()
                return
            except errors.RetryableError as exc:
                _log.debug("notifications wait for the store", error=str(exc))
                await asyncio.sleep(pause)
                pause = min(pause * 2, _ERROR_PAUSE)

    async def run(self) -> None:
        """Route and deliver until cancelled."""
        try:
            await self._start()
            self.ready.set()
            while True:
                try:
                    await self.router.route()
                    await self.deliverer.start_due()
                    timeout = await self._until_next_due()
                except errors.RetryableError as exc:
                    _log.warning("notifications paused", error=str(exc))
                    timeout = _ERROR_PAUSE
                await self._sleep(timeout)
        finally:
            with contextlib.suppress(Exception):
                await self.deliverer.close()

    async def _until_next_due(self) -> float:
        due = await self.deliverer.next_due()
        if due is None:
            return _POLL
        seconds = (due - self._clock()).total_seconds()
        # Due now means being sent (start_due took it): a finished attempt
        # wakes the loop through ``settled``.
        return _POLL if seconds <= 0 else min(_POLL, seconds)

    async def _sleep(self, seconds: float) -> None:
        settled = self.deliverer.settled
        wakeup = asyncio.ensure_future(self._wakeup.wait())
        finished = asyncio.ensure_future(settled.wait())
        try:
            await asyncio.wait(
                {wakeup, finished}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            wakeup.cancel()
            finished.cancel()
        self._wakeup.clear()
        settled.clear()


def application(state: states.AppState | None, name: str, external_url: str) -> dict[str, Any]:
    """The payload's ``application`` object for ``state`` (the agent's working memory)."""
    if state is None:
        return {"name": name}
    spec = state.app.spec
    found: dict[str, Any] = {
        "name": state.name,
        "project": state.app.metadata.project,
        "labels": dict(state.app.metadata.labels),
        "repoURL": spec.source.repo_url,
        "path": spec.source.path,
        "targetRevision": spec.source.ref,
        "sync": state.sync.value,
        "health": state.health.status.value,
        "syncedRevision": state.synced_revision,
    }
    if external_url:
        found["url"] = f"{external_url.rstrip('/')}/apps/{state.name}"
    return found


def for_agent(agent: Any) -> Notifier | None:
    """The notifier of a running agent, listening to its events; None when no
    provider is configured or the store keeps no outbox."""
    settings = agent.settings.notifications
    if not settings.providers:
        return None
    if not supported(agent.store):
        _log.warning("notifications need a SQL store (sqlite or postgresql); none will be sent")
        return None

    warned: set[tuple[str, str]] = set()

    def alerts() -> list[tuple[str, config.AlertSpec]]:
        found: list[tuple[str, config.AlertSpec]] = settings.named_alerts()
        declared = agent.catalog.alerts if agent.catalog is not None else {}
        for name, item in sorted(declared.items()):
            if item.alert.provider not in settings.providers:
                if (name, item.alert.provider) not in warned:
                    warned.add((name, item.alert.provider))
                    _log.warning(
                        "Alert names a provider gitward.yaml does not declare; it routes nothing",
                        alert=name,
                        file=item.file,
                        provider=item.alert.provider,
                    )
                continue
            found.append((name, item.alert))
        return found

    notifier = Notifier(
        agent.store,
        lambda: settings,
        alerts=alerts,
        describe=lambda name: application(agent.apps.get(name), name, settings.external_url),
        clock=agent.clock,
        metrics=agent.metrics,
    )
    agent.subscribe(notifier.wake)
    return notifier
