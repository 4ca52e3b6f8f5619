"""The work queue: one pending reconcile per Application, whatever triggered it.

Triggers (a new commit, a webhook, a watch event, the resync timer, a person)
all call :meth:`WorkQueue.add`; workers call :meth:`WorkQueue.get` and
:meth:`WorkQueue.done`. Like client-go's workqueue:

* an Application waiting in the queue is there once: later triggers only add
  their reason to it (de-duplication);
* an Application being reconciled is never handed to a second worker; a
  trigger arriving meanwhile marks it dirty and it is queued again when the
  worker is done, so no change is lost;
* :meth:`add` with ``delay`` schedules a retry (backoff) without holding a
  worker; an earlier trigger wins over a later scheduled one.

Fairness: the queue is FIFO by due time, so one Application failing in a loop
(each retry re-queued with a growing delay) cannot starve the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# A reason that only says "an object's status moved" (watches): the worker
# refreshes health and does not re-plan when every reason is one of these.
HEALTH_REASON = "status changed"


@dataclass(slots=True)
class Item:
    """What a worker receives: the Application and every reason it was queued."""

    app: str
    reasons: list[str] = field(default_factory=list)


class WorkQueue:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, str]] = []  # (due, sequence, app)
        self._due: dict[str, float] = {}  # queued apps and their due time
        self._reasons: dict[str, list[str]] = {}
        self._processing: set[str] = set()
        self._dirty: dict[str, float] = {}  # re-add after done, with its due time
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._due)

    @property
    def processing(self) -> frozenset[str]:
        return frozenset(self._processing)

    def add(self, app: str, reason: str, *, delay: float = 0.0) -> None:
        """Queue ``app`` (now, or after ``delay`` seconds) for ``reason``."""
        if self._closed:
            return
        due = self._clock() + max(0.0, delay)
        reasons = self._reasons.setdefault(app, [])
        if reason not in reasons:
            reasons.append(reason)
        if app in self._processing:
            self._dirty[app] = min(due, self._dirty.get(app, due))
            return
        current = self._due.get(app)
        if current is not None and current <= due:
            return
        self._due[app] = due
        heapq.heappush(self._heap, (due, next(self._seq), app))
        self._notify()

    def forget(self, app: str) -> None:
        """Drop ``app`` from the queue (it left Git); a running reconcile finishes."""
        self._due.pop(app, None)
        self._dirty.pop(app, None)
        self._reasons.pop(app, None)

    async def get(self) -> Item | None:
        """The next due Application, waiting as long as needed; None once closed."""
        while True:
            if self._closed:
                return None
            self._drop_stale()
            wait: float | None = None
            if self._heap:
                due, _, app = self._heap[0]
                wait = due - self._clock()
                if wait <= 0:
                    heapq.heappop(self._heap)
                    del self._due[app]
                    self._processing.add(app)
                    return Item(app, self._reasons.pop(app, []))
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=wait)

    def done(self, app: str) -> None:
        """The worker finished ``app``; re-queue it if triggered meanwhile."""
        self._processing.discard(app)
        due = self._dirty.pop(app, None)
        if due is not None:
            self._due[app] = due
            heapq.heappush(self._heap, (due, next(self._seq), app))
        self._notify()

    def close(self) -> None:
        self._closed = True
        self._notify()

    def _drop_stale(self) -> None:
        # Heap entries superseded by an earlier add, or forgotten apps.
        while self._heap:
            due, _, app = self._heap[0]
            if self._due.get(app) == due:
                return
            heapq.heappop(self._heap)

    def _notify(self) -> None:
        self._wakeup.set()
