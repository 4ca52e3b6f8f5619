"""What the running agent's parts share: the Applications known, the queue,
and the one way to record status and events.

``engine.loop`` builds one :class:`Context` and hands it to the triggers
(``engine.triggers``), the workers, recovery and the people's requests. It
imports none of them, so they reach each other only through the queue.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gitward import errors
from gitward.config import applications
from gitward.config import settings as config_settings
from gitward.engine import (
    catalog,
    imaging,
    ownership,
    persisting,
    projecting,
    queueing,
    runtimes,
    states,
    storage,
)
from gitward.store import base as store_base


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AgentOptions:
    workers: int = 4
    poll_interval: float = 60.0
    jitter: float = 0.1  # +/- fraction of the poll interval
    tick: float = 1.0  # resync check period


def jittered(options: AgentOptions) -> float:
    """The poll interval, spread by ``options.jitter`` so pollers do not align."""
    spread = options.poll_interval * options.jitter
    return max(0.05, options.poll_interval + random.uniform(-spread, spread))  # noqa: S311


class Context:
    """The agent's working memory; one per agent process."""

    def __init__(
        self,
        settings: config_settings.Settings,
        runtime: runtimes.Runtime,
        store: store_base.Store,
        *,
        options: AgentOptions,
        clock: Callable[[], datetime],
        owner: ownership.Ownership,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.store = store
        self.options = options
        self.clock = clock
        self.ownership = owner
        self.metrics = runtime.metrics
        self.queue = queueing.WorkQueue()
        self.apps: dict[str, states.AppState] = {}
        self.catalog: catalog.Catalog | None = None
        self.root_revision = ""
        # Set once the Applications are loaded (the root read without error);
        # until then ``load_error`` says why not.
        self.ready = asyncio.Event()
        self.load_error = ""
        # Set by a push to the root repository: read the root now, not at the next poll.
        self.root_wakeup = asyncio.Event()
        # Reconciles in flight: app -> (task, the revision it is working on).
        self.running: dict[str, tuple[asyncio.Task[None], str]] = {}
        # Monotonic time of each Application's last full reconcile (resync clock).
        self.last_full: dict[str, float] = {}
        self.image_statuses: dict[str, imaging.PolicyStatus] = {}
        # Statuses saved by a previous run, applied to Applications as the
        # catalog declares them again (restart without re-applying).
        self.restored: dict[str, store_base.AppRecord] = {}
        # Applications this process has reconciled as their owner (see engine.workers).
        self.owned: set[str] = set()
        # Whether the store answers (``/healthz``); see engine.storage.
        self.store_health = storage.StoreHealth()
        self._listeners: list[Callable[[str], None]] = []

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """``listener(app)`` is called after every status change (API live updates)."""
        self._listeners.append(listener)

    async def save(self, state: states.AppState) -> None:
        """Save ``state``'s status; a store error is recorded and raised (the
        worker tries the Application again after the store's backoff)."""
        try:
            await self.store.save_status(persisting.record(state, self.clock()))
        except store_base.StoreUnavailable as exc:
            self.store_health.failed(exc, f"saving status of {state.name}")
            raise
        self.store_health.succeeded()
        self._changed(state.name)

    async def save_all(self, saved: Sequence[states.AppState]) -> None:
        """Save many statuses in one transaction; a store error is recorded and raised."""
        now = self.clock()
        try:
            await self.store.save_statuses([persisting.record(s, now) for s in saved])
        except store_base.StoreUnavailable as exc:
            self.store_health.failed(exc, f"saving {len(saved)} statuses")
            raise
        self.store_health.succeeded()
        for state in saved:
            self._changed(state.name)

    async def event(
        self, app: str, type_: str, reason: str, message: str, revision: str = ""
    ) -> None:
        """Add an event to the log. The log is history: while the store cannot
        take it the event is dropped (logged with the store error) rather
        than stopping what it reports on."""
        try:
            await self.store.add_event(
                persisting.event(app, type_, reason, message, revision, self.clock())
            )
        except store_base.StoreUnavailable as exc:
            self.store_health.failed(exc, f"event {reason} of {app or 'the agent'} not recorded")
            return
        self.store_health.succeeded()
        self._changed(app)

    async def events(self, entries: Sequence[tuple[str, str, str, str]]) -> None:
        """``(app, type, reason, message)`` events, all handed to the store at once
        (it writes them back to back) rather than one after another."""
        now = self.clock()
        done = await asyncio.gather(
            *(self.store.add_event(persisting.event(*entry, "", now)) for entry in entries),
            return_exceptions=True,
        )
        for app in dict.fromkeys(entry[0] for entry in entries):
            self._changed(app)
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome

    def announce(self, app: str) -> None:
        """``app``'s status changed elsewhere (another replica, through the store)."""
        self._changed(app)

    def known(self, name: str) -> states.AppState:
        state = self.apps.get(name)
        if state is None:
            raise errors.ConfigError(f"Application {name!r} is not declared")
        return state

    def project(self, app: applications.Application) -> applications.Project | None:
        """The Project limiting ``app``: the same decision as the API's and the CLI's."""
        return projecting.in_catalog(self.catalog, app)

    def supersede(self, name: str, revision: str) -> None:
        """``name``'s ref now names ``revision``: cancel a sync still running
        (or waiting) for another one; the worker queues it again."""
        running = self.running.get(name)
        if running is not None and running[1] and running[1] != revision:
            running[0].cancel()

    def _changed(self, app: str) -> None:
        for listener in self._listeners:
            listener(app)
