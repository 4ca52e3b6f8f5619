"""The store as the running agent sees it: failures named, retried with backoff,
and told to ``/healthz``.

The store (SQLite file or PostgreSQL database) keeps status and history; Git
holds what must be applied. When it cannot be written (a read-only
directory, a full disk, a database that is down) the agent does not stop and
does not blame Git: every store error is logged as ``store unavailable``
with the store's URL (password hidden, as :class:`~gitward.store.base.StoreUnavailable`
words it), the step that failed is tried again after a delay that doubles
from one second up to :data:`MAX_DELAY`, and :attr:`StoreHealth.problem` is
the one-line reason ``/healthz`` answers 503 with. The first call that works
again clears it, and the agent carries on without a restart.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from gitward.store import base as store_base

_log = structlog.get_logger(__name__)
_T = TypeVar("_T")

FIRST_DELAY = 1.0
MAX_DELAY = 30.0


class StoreHealth:
    """The last store error (``problem``, empty when the store works) and the
    backoff that follows from the failures in a row."""

    def __init__(self) -> None:
        self.problem = ""
        self.failures = 0
        self._last: BaseException | None = None

    def failed(self, exc: store_base.StoreUnavailable, what: str = "") -> float:
        """Record ``exc`` (``what`` failed); the delay before the failed step
        is tried again. The same exception seen twice (re-raised through layers) counts once."""
        if exc is not self._last:
            self._last = exc
            self.failures += 1
            self.problem = " ".join(str(exc).split())
            _log.warning(
                "store unavailable",
                error=self.problem,
                what=what or None,
                retry_in=round(self.delay(), 1),
            )
        return self.delay()

    def succeeded(self) -> None:
        if self.problem:
            _log.info("store available again", after_failures=self.failures)
        self.problem, self.failures, self._last = "", 0, None

    def delay(self) -> float:
        """One second doubled per failure in a row, at most :data:`MAX_DELAY`,
        spread by +/-10% so replicas do not retry in step."""
        base = min(MAX_DELAY, FIRST_DELAY * float(2 ** max(0, min(self.failures - 1, 16))))
        return base * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not a secret


async def until_done(health: StoreHealth, what: str, step: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``step`` until no store error stops it, backing off in between;
    any other error goes to the caller."""
    while True:
        try:
            result = await step()
        except store_base.StoreUnavailable as exc:
            await asyncio.sleep(health.failed(exc, what))
            continue
        health.succeeded()
        return result
