"""From the outbox to the providers: attempts, backoff, give-up and rate limits.

:class:`Deliverer` takes the due deliveries, sends each in its own task (so a
slow receiver holds only its own notifications), and records every outcome:
``sent``; ``pending`` again after a retryable failure (connection error,
timeout, 5xx, 429), due after the backoff; ``failed`` after a refusal (4xx,
a refused address, a missing secret) or ``maxAttempts`` attempts. Each
provider sends at most ``rateLimit`` notifications a minute; one beyond waits
in the outbox, without using an attempt. Called by ``running``.

Notifications of one Application to one provider leave in the order they
were made: each waits for the one before it, and while one waits for a retry
(or for the rate limit) the later ones wait behind it, so a commit status's
``success`` is never overtaken by its ``pending``. Different Applications and
providers never wait for each other. (Two replicas sending at once may still
interleave one Application's notifications.)
"""

from __future__ import annotations

import asyncio
import collections
import functools
import ssl
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog

from gitward import errors
from gitward.config import notifications as config
from gitward.engine.notifications import messages
from gitward.engine.notifications.providers import base, registry
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)

_RATE_PERIOD = timedelta(minutes=1)
_CONCURRENCY = 16
RENDER_SECONDS = 2.0
# A claimed delivery is due again this long after its slowest possible send,
# should the sender die (a crash or a lost replica) before recording it.
_LEASE_MARGIN = 30.0


def retry_delay(backoff: config.Backoff, attempts: int) -> float:
    """Seconds before attempt ``attempts + 1`` (``attempts`` >= 1 made so far)."""
    return float(min(backoff.duration * backoff.factor ** (attempts - 1), backoff.max_duration))


class RateLimits:
    """Sliding one-minute windows of send times, per provider."""

    def __init__(self) -> None:
        self._sent: dict[str, collections.deque[datetime]] = collections.defaultdict(
            collections.deque
        )

    def admit(self, provider: str, limit: int, now: datetime) -> datetime | None:
        """Record a send and return None, or return when one is next allowed."""
        window = self._sent[provider]
        while window and window[0] <= now - _RATE_PERIOD:
            window.popleft()
        if len(window) >= limit:
            return window[0] + _RATE_PERIOD
        window.append(now)
        return None


class Deliverer:
    def __init__(
        self,
        store: Any,
        settings: Callable[[], config.NotificationSettings],
        clock: Callable[[], datetime],
        metrics: Any = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._limits = RateLimits()
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(_CONCURRENCY)
        self.settled = asyncio.Event()
        # Per (provider, application): the last delivery task started, and the
        # earliest delivery waiting to be tried again (its id, when, and why).
        self._tails: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._held: dict[tuple[str, str], tuple[int, datetime, str]] = {}

    async def close(self) -> None:
        for task in self._in_flight.values():
            task.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def start_due(self) -> None:
        """Start a task for every due delivery not already being sent."""
        now = self._clock()
        settings = self._settings()
        slowest = max((p.timeout for p in settings.providers.values()), default=10.0)
        lease = timedelta(seconds=2 * slowest + _LEASE_MARGIN)
        for delivery in await self._store.claim(now, lease=lease, limit=_CONCURRENCY * 4):
            assert delivery.id is not None
            if delivery.id in self._in_flight:
                continue
            self._release(delivery)  # held, it is its turn again
            key = (delivery.provider, delivery.app)
            previous = self._tails.get(key)
            task = asyncio.create_task(
                self._attempt_after(previous, delivery), name=f"notify-{delivery.id}"
            )
            self._in_flight[delivery.id] = task
            self._tails[key] = task
            task.add_done_callback(functools.partial(self._done, delivery.id, key))

    def _done(self, id: int, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        self._in_flight.pop(id, None)
        if self._tails.get(key) is task:
            del self._tails[key]
        self.settled.set()

    def _hold(self, delivery: store_base.DeliveryRecord, until: datetime, why: str) -> None:
        """Later notifications of this Application to this provider wait for
        ``delivery``, which is tried again at ``until`` (``why`` is what their
        log says meanwhile)."""
        assert delivery.id is not None
        key = (delivery.provider, delivery.app)
        held = self._held.get(key)
        if held is None or held[0] >= delivery.id:
            self._held[key] = (delivery.id, until, why)

    def _release(self, delivery: store_base.DeliveryRecord) -> None:
        key = (delivery.provider, delivery.app)
        held = self._held.get(key)
        if held is not None and held[0] == delivery.id:
            del self._held[key]

    async def _attempt_after(
        self, previous: asyncio.Task[None] | None, delivery: store_base.DeliveryRecord
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        assert delivery.id is not None
        key = (delivery.provider, delivery.app)
        held = self._held.get(key)
        if held is not None and held[0] < delivery.id:
            if held[1] > self._clock():
                # An earlier one waits for its retry: this one is tried after it.
                await self._store.settle(
                    replace(delivery, next_attempt_at=held[1], last_error=held[2]),
                    keep=self._settings().delivery.keep,
                )
                return
            # The earlier one is due but was not claimed here before this one
            # (claims go in order): another replica sent it, or it left the
            # outbox. Nothing to wait for any more.
            del self._held[key]
        await self._attempt(delivery)

    async def next_due(self) -> datetime | None:
        return await self._store.next_due()  # type: ignore[no-any-return]

    async def _attempt(self, delivery: store_base.DeliveryRecord) -> None:
        settings = self._settings()
        provider = settings.providers.get(delivery.provider)
        if provider is None:
            await self._settle(
                delivery,
                store_base.DeliveryState.FAILED,
                f"provider {delivery.provider} is no longer configured",
                settings,
            )
            return
        now = self._clock()
        wait_until = self._limits.admit(delivery.provider, provider.rate_limit, now)
        if wait_until is not None:
            self._hold(delivery, wait_until, "rate limited")
            await self._store.settle(
                replace(delivery, next_attempt_at=wait_until, last_error="rate limited"),
                keep=settings.delivery.keep,
            )
            return
        document = dict(delivery.payload)
        template = str(document.pop("template", "") or "")
        if template:
            # A template (perhaps from Git) renders off the event loop, with a
            # deadline, before anything is sent: a slow one fails its delivery.
            try:
                await asyncio.wait_for(
                    asyncio.to_thread(messages.render, template, document), RENDER_SECONDS
                )
            except TimeoutError:
                await self._settle(
                    replace(delivery, attempts=delivery.attempts + 1),
                    store_base.DeliveryState.FAILED,
                    f"message template: no result within {RENDER_SECONDS:g}s",
                    settings,
                )
                return
            except errors.GitwardError as exc:
                await self._settle(
                    replace(delivery, attempts=delivery.attempts + 1),
                    store_base.DeliveryState.FAILED,
                    str(exc),
                    settings,
                )
                return
        outgoing = base.Outgoing(
            provider=delivery.provider,
            settings=provider,
            document=document,
            template=template,
            client=self._client(delivery.provider, provider),
            delivery_id=delivery.id or 0,
        )
        attempts = delivery.attempts + 1
        try:
            async with self._slots:
                await registry.sender(provider.type)(outgoing)
        except errors.NotificationUnavailable as exc:
            if attempts >= settings.delivery.max_attempts:
                await self._settle(
                    replace(delivery, attempts=attempts),
                    store_base.DeliveryState.FAILED,
                    f"gave up after {attempts} attempts: {exc}",
                    settings,
                )
                return
            delay = retry_delay(settings.delivery.backoff, attempts)
            _log.info(
                "notification will be retried",
                provider=delivery.provider,
                app=delivery.app,
                reason=delivery.reason,
                attempt=attempts,
                delay=delay,
                error=str(exc),
            )
            retry_at = self._clock() + timedelta(seconds=delay)
            self._hold(delivery, retry_at, "waits for an earlier notification to be retried")
            await self._store.settle(
                replace(delivery, attempts=attempts, next_attempt_at=retry_at, last_error=str(exc)),
                keep=settings.delivery.keep,
            )
            self._count(delivery.provider, "retrying")
            return
        except errors.GitwardError as exc:
            await self._settle(
                replace(delivery, attempts=attempts),
                store_base.DeliveryState.FAILED,
                str(exc),
                settings,
            )
            return
        await self._settle(
            replace(delivery, attempts=attempts), store_base.DeliveryState.SENT, "", settings
        )

    async def _settle(
        self,
        delivery: store_base.DeliveryRecord,
        state: store_base.DeliveryState,
        error: str,
        settings: config.NotificationSettings,
    ) -> None:
        if state is store_base.DeliveryState.FAILED:
            _log.warning(
                "notification failed",
                provider=delivery.provider,
                app=delivery.app,
                reason=delivery.reason,
                error=error,
            )
        self._release(delivery)
        await self._store.settle(
            replace(delivery, state=state, last_error=error), keep=settings.delivery.keep
        )
        self._count(delivery.provider, state.value)

    def _count(self, provider: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.notification(provider, outcome)

    def _client(self, name: str, provider: config.ProviderSettings) -> httpx.AsyncClient:
        client = self._clients.get(name)
        if client is None:
            verify: Any = True
            if provider.ca_file:
                verify = ssl.create_default_context(cafile=provider.ca_file)
            client = httpx.AsyncClient(verify=verify, trust_env=False)
            self._clients[name] = client
        return client
