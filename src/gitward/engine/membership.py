"""This replica's place among the others: lease, members, and its shard of Applications.

Built by ``engine.ownership`` when ``replicas.coordinator`` is set, and run as
one task of the agent (:meth:`Membership.run`): join, then every
``retry_period`` renew the lease and read the members, and recompute who owns
which Application (``coordination.hashing``, a pure function of the member
set, so every replica computes the same answer).

What makes a write safe (:meth:`Membership.check`, called before every write):

* the lease is good (renewed within ``renew_deadline``: a paused or
  partitioned replica stops before the others count it gone);
* the member view is fresh (read within ``renew_deadline``);
* the Application is in this replica's shard and *settled*. An Application
  that moves here from a member that is still alive becomes writable only
  ``renew_deadline`` later: by then the previous owner has read the new
  member set too (and stopped), or its own view went stale (and stopped).
  From a member that is gone (released or expired) it moves at once.

``on_change(gained, lost)`` tells the agent what to reconcile now and what
to stop. A lost lease drops the whole shard; the replica joins again with a
new fencing token and settles like a newcomer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from gitward import errors
from gitward.coordination import base, hashing
from gitward.model import coordination

_log = structlog.get_logger(__name__)

HANDOFF_HISTORY = 200


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Handoff:
    """An Application changed owner, as this replica saw it."""

    at: datetime
    app: str
    previous: str  # '' when nobody owned it in the previous view
    owner: str  # '' when nobody owns it now
    reason: str


@dataclass(frozen=True, slots=True)
class MemberView:
    member: coordination.Member
    owned: int
    me: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the API, CLI and UI show."""

    identity: str
    coordinator: str
    fence: str
    view: int
    members: tuple[MemberView, ...]
    handoffs: tuple[Handoff, ...]
    renew_failures: int
    applications: int
    unowned: int
    settling: int


class Membership:
    def __init__(
        self,
        coordinator: base.Coordinator,
        *,
        balance: float = hashing.DEFAULT_BALANCE,
        on_change: Callable[[set[str], set[str]], None] | None = None,
        on_renew_failure: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utc_now,
    ) -> None:
        self.coordinator = coordinator
        self.balance = balance
        self.on_change = on_change or (lambda gained, lost: None)
        self.on_renew_failure = on_renew_failure or (lambda: None)
        self.clock = clock
        self.wall = wall
        self.timings = coordinator.timings
        self.identity = coordinator.identity
        self.ready = asyncio.Event()
        self._apps: set[str] = set()
        self._members: list[coordination.Member] = []
        self._owners: dict[str, str] = {}
        # Application -> monotonic time from which this replica may write it.
        self._mine: dict[str, float] = {}
        self._view_sent = -1e18
        self._view = 0
        self._joined = False
        self._handoffs: collections.deque[Handoff] = collections.deque(maxlen=HANDOFF_HISTORY)
        self.renew_failures = 0

    # --- questions the engine asks ------------------------------------------------------

    def owner(self, app: str) -> str:
        """The member that owns ``app`` in the current view ('' when none)."""
        return self._owners.get(app, "")

    def address(self, member: str) -> str:
        return next((m.address for m in self._members if m.identity == member), "")

    def owns(self, app: str) -> bool:
        """Whether this replica may work on ``app`` now (see the module docstring)."""
        try:
            self.check(app)
        except errors.FenceLost:
            return False
        return True

    def shard(self) -> set[str]:
        return set(self._mine)

    def live_fences(self) -> set[str]:
        """The fences of the members in the current view (this one's included)."""
        return {str(m.fence) for m in self._members}

    def check(self, app: str | None) -> coordination.Fence:
        """The fence to write ``app`` under, or :class:`errors.FenceLost`.

        ``app`` None asks only for a good lease and a fresh view.
        """
        try:
            fence = self.coordinator.fence()
        except errors.LeaseLost as exc:
            raise errors.FenceLost(f"{exc}: write refused") from exc
        now = self.clock()
        if now - self._view_sent >= self.timings.renew_deadline:
            raise errors.FenceLost(
                f"replica {self.identity}: member view older than "
                f"{self.timings.renew_deadline:g}s: write refused"
            )
        if app is None:
            return fence
        since = self._mine.get(app)
        if since is None:
            owner = self._owners.get(app) or "no replica"
            raise errors.FenceLost(
                f"Application {app} belongs to {owner}, not {self.identity}: write refused"
            )
        if now < since:
            raise errors.FenceLost(
                f"Application {app} moves to {self.identity} in {since - now:.1f}s "
                "(its previous owner may still be writing): write refused"
            )
        return fence

    def attribution(self) -> str:
        """What the target's audit trail shows for writes made now."""
        held = self.coordinator.fence() if self._joined else None
        return f"replica {self.identity}; fence {held}; view {self._view}"

    def declare(self, apps: Iterable[str]) -> None:
        """The Applications that exist (from the catalog); reassigns at once."""
        names = set(apps)
        if names != self._apps:
            self._apps = names
            if self._joined:
                self._reassign(self._members, reason="catalog changed")

    # --- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """Hold the lease and follow the members until cancelled; then leave."""
        try:
            while True:
                try:
                    await self.join()
                except errors.CoordinationUnavailable as exc:
                    _log.warning("cannot join the replicas yet", error=str(exc))
                    self._failed()
                    await asyncio.sleep(self.timings.retry_period)
                    continue
                try:
                    while True:
                        await self.refresh()
                        await asyncio.sleep(self.timings.retry_period)
                        await self.renew()
                except errors.LeaseLost as exc:
                    _log.error("lease lost: every write stops; joining again", error=str(exc))
                    self._failed()
                    self._drop_all("lease lost")
        finally:
            await asyncio.shield(self.leave())

    async def join(self) -> coordination.Fence:
        fence = await self.coordinator.join()
        _log.info(
            "joined the replicas",
            replica=self.identity,
            fence=str(fence),
            coordinator=self.coordinator.description,
        )
        self._joined = True
        self._members, self._owners, self._mine = [], {}, {}
        return fence

    async def renew(self) -> None:
        """Renew the lease; a backend that does not answer is counted, not fatal
        (the lease holds until the renew deadline). Raises LeaseLost."""
        try:
            await self.coordinator.renew()
        except errors.CoordinationUnavailable as exc:
            self._failed()
            _log.warning("lease renewal failed; retrying", error=str(exc))

    async def refresh(self) -> None:
        """Read the members and reassign when they changed."""
        sent = self.clock()
        try:
            members = await self.coordinator.members()
        except errors.CoordinationUnavailable as exc:
            _log.warning("cannot read the members", error=str(exc))
            return
        self._view_sent = sent
        if [(m.identity, m.fence) for m in members] != [
            (m.identity, m.fence) for m in self._members
        ]:
            self._view += 1
            self._reassign(members, reason="members changed")
        else:
            self._members = members
        self.ready.set()

    async def leave(self) -> None:
        """Drop the shard and release the lease (SIGTERM: the others take over now)."""
        self._drop_all("leaving")
        with contextlib.suppress(errors.GitwardError):
            await self.coordinator.leave()

    def _failed(self) -> None:
        self.renew_failures += 1
        self.on_renew_failure()

    # --- assignment ------------------------------------------------------------------------

    def _reassign(self, members: list[coordination.Member], *, reason: str) -> None:
        before_members = {m.identity for m in self._members}
        now_members = {m.identity for m in members}
        before = self._owners
        after = hashing.assign(self._apps, now_members, balance=self.balance)
        now = self.clock()
        settle = now + self.timings.renew_deadline
        mine: dict[str, float] = {}
        for app, owner in after.items():
            if owner != self.identity:
                continue
            previous = before.get(app, "")
            if app in self._mine:
                mine[app] = self._mine[app]
            elif previous and previous != self.identity and previous in now_members:
                mine[app] = settle  # its owner is alive: let it see the change first
            elif not before and len(now_members) > 1:
                mine[app] = settle  # just joined: others may still hold it
            else:
                mine[app] = now
        stamp = self.wall()
        for app in sorted(set(before) | set(after)):
            previous, owner = before.get(app, ""), after.get(app, "")
            if previous == owner or (not previous and not before):
                continue
            if previous and previous not in now_members:
                why = f"{previous} left"
            elif owner and owner not in before_members:
                why = f"{owner} joined"
            else:
                why = reason
            self._handoffs.append(Handoff(stamp, app, previous, owner, why))
        gained = set(mine) - set(self._mine)
        lost = set(self._mine) - set(mine)
        self._members, self._owners, self._mine = members, after, mine
        if gained or lost:
            _log.info(
                "shard changed",
                replica=self.identity,
                owned=len(mine),
                gained=len(gained),
                lost=len(lost),
                members=sorted(now_members),
            )
            self.on_change(gained, lost)

    def _drop_all(self, reason: str) -> None:
        self._joined = False
        lost = set(self._mine)
        self._mine, self._owners, self._members = {}, {}, []
        self._view_sent = -1e18
        if lost:
            _log.warning("shard dropped", replica=self.identity, apps=len(lost), reason=reason)
            self.on_change(set(), lost)

    def settle_time(self, app: str) -> float:
        """Seconds until ``app`` becomes writable here (0 when it is; inf when not ours)."""
        since = self._mine.get(app)
        if since is None:
            return float("inf")
        return max(0.0, since - self.clock())

    # --- what people see ----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        counts = collections.Counter(self._owners.values())
        try:
            fence = str(self.coordinator.fence())
        except errors.LeaseLost:
            fence = ""
        now = self.clock()
        return Snapshot(
            identity=self.identity,
            coordinator=self.coordinator.description,
            fence=fence,
            view=self._view,
            members=tuple(
                MemberView(m, counts.get(m.identity, 0), m.identity == self.identity)
                for m in self._members
            ),
            handoffs=tuple(reversed(self._handoffs)),
            renew_failures=self.renew_failures,
            applications=len(self._apps),
            unowned=len(self._apps - set(self._owners)),
            settling=sum(1 for since in self._mine.values() if since > now),
        )
