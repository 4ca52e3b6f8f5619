"""The :class:`Coordinator` Protocol and the local lease clock its implementations share.

A coordinator holds one lease for this replica (``join``), keeps it
(``renew``, every ``retry_period``), lists the live members (``members``),
and answers, before every write, whether the lease is still good
(``fence``). ``leave`` releases the lease at once (SIGTERM), so the others
take the replica's Applications over without waiting for it to expire.

Safety rests on two clocks that never need to agree: a member writes only
while its last successful renewal is younger than ``renew_deadline`` (its own
monotonic clock, measured from when the renewal was *sent*); the others count
it gone only when its lease has not changed for ``lease_duration`` (their own
monotonic clocks, or the database's clock for PostgreSQL). The deadline is
shorter than the lease, so a paused or partitioned member stops writing
before anyone takes its work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from gitward import errors
from gitward.model import coordination


class Coordinator(Protocol):
    """One replica's view of the group; see the module docstring."""

    @property
    def identity(self) -> str: ...

    @property
    def timings(self) -> coordination.Timings: ...

    @property
    def description(self) -> str:
        """Where the leases are (for logs, the API and the CLI); no credential."""
        ...

    async def join(self) -> coordination.Fence:
        """Acquire this replica's lease (waiting while an earlier incarnation
        with the same identity still holds it); returns the new fence."""
        ...

    async def renew(self) -> coordination.Fence:
        """Renew the lease. Raises :class:`errors.LeaseLost` when it is gone or
        held by another incarnation, :class:`errors.CoordinationUnavailable`
        when the backend did not answer (the lease may still be good)."""
        ...

    async def members(self) -> list[coordination.Member]:
        """The live members, this one included while its lease is good."""
        ...

    def fence(self) -> coordination.Fence:
        """The current token if the lease is still good locally; else raises
        :class:`errors.LeaseLost`. Sends no request: called before every write."""
        ...

    async def leave(self) -> None:
        """Release the lease so the others take over at once."""
        ...


class LeaseClock:
    """When this replica last renewed successfully, and whether that still holds.

    Implementations call :meth:`sending` before a renewal request and
    :meth:`renewed` after it succeeded: the deadline counts from the moment
    the request left, never from when the answer came back.
    """

    def __init__(
        self, timings: coordination.Timings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.timings = timings
        self.clock = clock
        self._fence: coordination.Fence | None = None
        self._valid_since_send = 0.0
        self._pending_send = 0.0

    def sending(self) -> float:
        self._pending_send = self.clock()
        return self._pending_send

    def renewed(self, fence: coordination.Fence, sent_at: float | None = None) -> None:
        self._fence = fence
        self._valid_since_send = self._pending_send if sent_at is None else sent_at

    def lost(self) -> None:
        self._fence = None

    @property
    def held(self) -> coordination.Fence | None:
        return self._fence

    def remaining(self) -> float:
        """Seconds the lease stays good without another renewal (<= 0: gone)."""
        if self._fence is None:
            return 0.0
        return self._valid_since_send + self.timings.renew_deadline - self.clock()

    def fence(self, identity: str) -> coordination.Fence:
        fence = self._fence
        if fence is None:
            raise errors.LeaseLost(f"replica {identity} holds no lease")
        if self.remaining() <= 0:
            raise errors.LeaseLost(
                f"replica {identity}: lease {fence} not renewed within the renew deadline "
                f"({self.timings.renew_deadline:g}s)"
            )
        return fence
