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
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# A reason that only says "an object's status moved" (watches): the worker
# refreshes health and does not re-plan when every reason is one of these.
HEALTH_REASON = "status changed"

# While every group queued is known to have no room, a worker looks through
# the queue again at least this often (a worker being done makes it look at once).
_RELOOK = 1.0


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
        # What the last look through the queue found (see get's ``group``):
        # the groups with no room (None: unknown, look), the groups of the due
        # Applications and of those added since, when the earliest one not yet
        # due is, and each handed-out Application's group.
        self._refused: set[str] | None = None
        self._present: set[str] = set()
        self._later: float | None = None
        self._group_of: Callable[[str], str] | None = None
        self._taken: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, app: object) -> bool:
        """Whether ``app`` is queued or being reconciled."""
        return app in self._due or app in self._processing

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
        if self._refused is not None and self._group_of is not None:
            name = self._group_of(app)
            if name in self._refused:
                return  # its group has no room: a look would find nothing new
            self._present.add(name)
        self._notify()

    def forget(self, app: str) -> None:
        """Drop ``app`` from the queue (it left Git); a running reconcile finishes."""
        self._due.pop(app, None)
        self._dirty.pop(app, None)
        self._reasons.pop(app, None)

    async def get(
        self,
        admit: Callable[[str], bool] | None = None,
        group: Callable[[str], str] | None = None,
    ) -> Item | None:
        """The next due Application, waiting as long as needed; None once closed.

        ``admit(app)`` False leaves ``app`` queued where it is (its target has
        no worker to spare): the next due one that is admitted is handed out
        instead, and the queue is looked at again when a worker is done.
        ``group(app)`` names what ``admit`` decides by (the target): one answer
        per group serves a whole look through the queue, so 1,000 queued
        Applications of one busy target cost one ``admit`` call, not 1,000;
        and no look is taken while every group queued is known to have no room
        (until a worker of one of them is done, or a second passes)."""
        while True:
            if self._closed:
                return None
            self._drop_stale()
            wait: float | None = None
            if self._heap:
                due, _, app = self._heap[0]
                wait = due - self._clock()
                if wait <= 0 and (admit is None or admit(app)):
                    heapq.heappop(self._heap)
                    return self._hand_out(app, group)
                if wait <= 0 and admit is not None:
                    if self._nothing_new(app, group):
                        wait = None if self._later is None else self._later - self._clock()
                    else:
                        chosen, wait = self._first_admitted(admit, group)
                        if chosen is not None:
                            return self._hand_out(chosen, group)
            if self._refused is not None:
                wait = _RELOOK if wait is None else min(wait, _RELOOK)
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=wait)
            except TimeoutError:
                self._refused = None  # look again: time may have changed answers

    def _nothing_new(self, head: str, group: Callable[[str], str] | None) -> bool:
        """Whether a look would find nothing: ``head`` was just refused, and
        every group queued is known to have no room."""
        if group is None or self._refused is None:
            return False
        self._refused.add(group(head))
        return self._present <= self._refused

    def _hand_out(self, app: str, group: Callable[[str], str] | None = None) -> Item:
        del self._due[app]  # a heap entry left behind is dropped as stale
        self._processing.add(app)
        if group is not None:
            self._taken[app] = group(app)
        return Item(app, self._reasons.pop(app, []))

    def _first_admitted(
        self, admit: Callable[[str], bool], group: Callable[[str], str] | None
    ) -> tuple[str | None, float | None]:
        """The earliest due Application ``admit`` accepts; else None and how long
        until the earliest one not yet due (None: until something changes).
        With ``group``, what the look found is kept (see ``_refused``)."""
        now = self._clock()
        best: tuple[float, int, str] | None = None
        later: float | None = None
        answers: dict[str, bool] = {}  # group -> admitted, for this look only
        for entry in self._heap:
            due, _, app = entry
            if self._due.get(app) != due:
                continue  # stale
            if due > now:
                later = due if later is None else min(later, due)
            elif best is None or entry < best:
                if group is None:
                    admitted = admit(app)
                else:
                    name = group(app)
                    if name not in answers:
                        answers[name] = admit(app)
                    admitted = answers[name]
                if admitted:
                    best = entry
        if best is not None:
            return best[2], None
        if group is not None:
            self._refused = {name for name, admitted in answers.items() if not admitted}
            self._present = set(answers)
            self._later = later
            self._group_of = group
        return None, None if later is None else later - now

    def done(self, app: str) -> None:
        """The worker finished ``app``; re-queue it if triggered meanwhile."""
        self._processing.discard(app)
        name = self._taken.pop(app, None)
        if self._refused is not None:  # its group has room again
            if name is None:
                self._refused = None
            else:
                self._refused.discard(name)
        due = self._dirty.pop(app, None)
        if due is not None:
            self._due[app] = due
            heapq.heappush(self._heap, (due, next(self._seq), app))
        self._notify()

    def close(self) -> None:
        self._closed = True
        self._refused = None
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
