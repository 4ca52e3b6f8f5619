"""A public in-memory fake of replica coordination: :class:`Board` and :class:`MemoryCoordinator`.

Several :class:`MemoryCoordinator` sharing one :class:`Board` behave like
replicas sharing Kubernetes Leases, on a clock the test controls: a member
is live while its last renewal is younger than the lease, a member writes only
while its own last renewal is younger than the renew deadline, ``pause`` stops
a member's renewals (SIGSTOP), ``crash`` drops it without releasing (SIGKILL),
and ``leave`` releases at once (SIGTERM). It implements the
``gitward.coordination.base.Coordinator`` Protocol and may import only
``gitward.model`` and ``gitward.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gitward import errors
from gitward.model import coordination


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class _Lease:
    holder: str
    transitions: int
    acquired: float
    renewed: float
    address: str


class Board:
    """The shared leases (what the API server or the database holds)."""

    def __init__(
        self,
        timings: coordination.Timings | None = None,
        clock: Callable[[], float] | None = None,
        epoch: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    ) -> None:
        self.timings = timings or coordination.Timings()
        self.clock = clock or Clock()
        self.epoch = epoch
        self.leases: dict[str, _Lease] = {}
        self.unavailable = False
        self._incarnations = 0

    def _wall(self, seconds: float) -> datetime:
        return self.epoch + timedelta(seconds=seconds)

    def live(self, identity: str) -> bool:
        lease = self.leases.get(identity)
        return (
            lease is not None
            and bool(lease.holder)
            and self.clock() - lease.renewed < self.timings.lease_duration
        )

    def coordinator(self, identity: str, address: str = "") -> MemoryCoordinator:
        self._incarnations += 1
        return MemoryCoordinator(self, identity, f"{identity}_{self._incarnations}", address)


class MemoryCoordinator:
    """One replica on a :class:`Board`."""

    def __init__(self, board: Board, identity: str, holder: str, address: str) -> None:
        self.board = board
        self._identity = identity
        self.holder = holder
        self.address = address
        self._fence: coordination.Fence | None = None
        self._renewed = 0.0
        self.paused = False

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def timings(self) -> coordination.Timings:
        return self.board.timings

    @property
    def description(self) -> str:
        return "in-memory leases"

    def _check_available(self, what: str) -> None:
        if self.board.unavailable or self.paused:
            raise errors.CoordinationUnavailable(f"in-memory leases: {what}: unavailable")

    async def join(self) -> coordination.Fence:
        self._check_available("join")
        board = self.board
        now = board.clock()
        lease = board.leases.get(self._identity)
        if (
            lease is not None
            and lease.holder not in ("", self.holder)
            and board.live(self._identity)
        ):
            raise errors.CoordinationUnavailable(
                f"in-memory leases: {self._identity} is held by {lease.holder}"
            )
        transitions = 0 if lease is None else lease.transitions + 1
        board.leases[self._identity] = _Lease(self.holder, transitions, now, now, self.address)
        self._fence = coordination.Fence(self.holder, transitions)
        self._renewed = now
        return self._fence

    async def renew(self) -> coordination.Fence:
        fence = self._fence
        now = self.board.clock()
        if fence is None or now - self._renewed >= self.timings.renew_deadline:
            self._fence = None
            raise errors.LeaseLost(f"replica {self._identity}: lease not renewed in time")
        self._check_available("renew")
        lease = self.board.leases.get(self._identity)
        if lease is None or lease.holder != self.holder or lease.transitions != fence.transitions:
            self._fence = None
            raise errors.LeaseLost(f"replica {self._identity}: lease taken over")
        lease.renewed = now
        self._renewed = now
        return fence

    async def members(self) -> list[coordination.Member]:
        self._check_available("members")
        board = self.board
        live = []
        for identity, lease in sorted(board.leases.items()):
            if not board.live(identity):
                continue
            if lease.holder == self.holder and self._remaining() <= 0:
                continue
            live.append(
                coordination.Member(
                    identity=identity,
                    fence=coordination.Fence(lease.holder, lease.transitions),
                    acquired_at=board._wall(lease.acquired),
                    renewed_at=board._wall(lease.renewed),
                    address=lease.address,
                    lease=f"memory/{identity}",
                )
            )
        return live

    def _remaining(self) -> float:
        if self._fence is None:
            return 0.0
        return self._renewed + self.timings.renew_deadline - self.board.clock()

    def fence(self) -> coordination.Fence:
        if self._fence is None or self._remaining() <= 0:
            raise errors.LeaseLost(f"replica {self._identity} holds no valid lease")
        return self._fence

    async def leave(self) -> None:
        lease = self.board.leases.get(self._identity)
        if lease is not None and lease.holder == self.holder:
            lease.holder = ""
        self._fence = None

    def crash(self) -> None:
        """SIGKILL: the lease stays until it expires."""
        self._fence = None
