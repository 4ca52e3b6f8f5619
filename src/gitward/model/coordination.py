"""Values of replica coordination: members, fencing tokens and lease timings.

Produced by the coordinators (``gitward.coordination``) and the in-memory fake
(``gitward.testing.coordinators``); read by the engine's ownership module, the
API, the CLI and the UI. Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Timings:
    """How leases are held, with client-go's leader-election defaults.

    ``lease_duration``: how long the others wait, after the last renewal they
    observed, before a member counts as gone. ``renew_deadline``: how long a
    member keeps writing after its last successful renewal; it must be shorter
    than the lease so a member stops before anyone takes its work over.
    ``retry_period``: time between two renewals (and membership reads).
    """

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "lease timings need 0 < retryPeriod < renewDeadline < leaseDuration "
                f"(got {self.retry_period:g}s, {self.renew_deadline:g}s, "
                f"{self.lease_duration:g}s)"
            )


@dataclass(frozen=True, slots=True)
class Fence:
    """A fencing token: who holds the lease, and which acquisition of it.

    ``transitions`` grows each time the lease is acquired anew (client-go's
    ``leaseTransitions``; the PostgreSQL coordinator counts its own), so a
    replica that lost its lease and joined again holds a different token.
    """

    holder: str
    transitions: int

    def __str__(self) -> str:
        return f"{self.holder}#{self.transitions}"

    @classmethod
    def parse(cls, text: str) -> Fence | None:
        holder, sep, count = text.rpartition("#")
        if not sep or not holder or not count.isdigit():
            return None
        return cls(holder, int(count))


@dataclass(frozen=True, slots=True)
class Member:
    """A live replica as the coordinator sees it."""

    identity: str
    fence: Fence
    acquired_at: datetime
    renewed_at: datetime
    # Where the replica serves its API ('' when it did not say).
    address: str = ""
    lease: str = ""  # the lease's name (Kubernetes) or the members row (PostgreSQL)
