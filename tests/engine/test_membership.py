"""Shards over replicas on the in-memory coordinator with a controlled clock:
at no instant may two replicas both be allowed to write one Application,
whatever joins, leaves, pauses or crashes; after things settle every
Application is writable by exactly one live replica."""

from __future__ import annotations

import pytest

from gitward import errors
from gitward.engine import membership
from gitward.model import coordination
from gitward.testing import coordinators

TIMINGS = coordination.Timings(lease_duration=15, renew_deadline=10, retry_period=2)
APPS = [f"app-{i:02d}" for i in range(60)]


class Group:
    def __init__(self) -> None:
        self.clock = coordinators.Clock()
        self.board = coordinators.Board(TIMINGS, self.clock)
        self.replicas: dict[str, membership.Membership] = {}
        self.changes: dict[str, list[tuple[set[str], set[str]]]] = {}
        self.paused: set[str] = set()

    async def start(self, name: str) -> membership.Membership:
        changes = self.changes.setdefault(name, [])
        replica = membership.Membership(
            self.board.coordinator(name),
            on_change=lambda gained, lost: changes.append((gained, lost)),
            clock=self.clock,
        )
        replica.declare(APPS)
        await replica.join()
        await replica.refresh()
        self.replicas[name] = replica
        self.check_exclusive()
        return replica

    def writers(self, app: str) -> list[str]:
        return [n for n, r in self.replicas.items() if r.owns(app)]

    def check_exclusive(self) -> None:
        for app in APPS:
            assert len(self.writers(app)) <= 1, (app, self.writers(app), self.clock())

    async def tick(self, seconds: float = TIMINGS.retry_period) -> None:
        """Time passes; every running replica renews and reads the members."""
        self.clock.advance(seconds)
        self.check_exclusive()
        for name, replica in list(self.replicas.items()):
            if name in self.paused:
                continue
            try:
                await replica.renew()
            except errors.LeaseLost:
                replica._drop_all("lease lost")
                await replica.join()
            await replica.refresh()
            self.check_exclusive()

    async def settle(self) -> None:
        for _ in range(int(TIMINGS.lease_duration / TIMINGS.retry_period) + 2):
            await self.tick()

    def every_app_owned_once(self, live: set[str]) -> None:
        for app in APPS:
            assert self.writers(app) and self.writers(app)[0] in live, app


async def test_alone_a_replica_owns_everything_at_once() -> None:
    group = Group()
    only = await group.start("a")
    assert all(only.owns(app) for app in APPS)
    assert only.snapshot().members[0].owned == 60


async def test_joining_one_by_one_never_gives_an_application_two_writers() -> None:
    group = Group()
    await group.start("a")
    await group.tick()
    await group.start("b")
    await group.tick()
    await group.start("c")
    await group.settle()
    group.every_app_owned_once({"a", "b", "c"})
    sizes = {m.member.identity: m.owned for m in group.replicas["a"].snapshot().members}
    assert sum(sizes.values()) == 60 and max(sizes.values()) <= 25
    handoffs = group.replicas["a"].snapshot().handoffs
    assert handoffs and {h.reason for h in handoffs} <= {"b joined", "c joined", "members changed"}


async def test_a_newcomer_waits_for_the_previous_owner_to_see_it() -> None:
    group = Group()
    a = await group.start("a")
    b = await group.start("b")
    moving = [app for app in APPS if b.owner(app) == "b"]
    assert moving
    # a has not read the members since b joined: a still writes them, b may not.
    assert all(a.owns(app) and not b.owns(app) for app in moving)
    assert 0 < b.settle_time(moving[0]) <= TIMINGS.renew_deadline
    await group.settle()
    assert all(b.owns(app) and not a.owns(app) for app in moving)


async def test_sigterm_hands_the_shard_over_at_the_next_read() -> None:
    group = Group()
    for name in "abc":
        await group.start(name)
    await group.settle()
    leaving = group.replicas.pop("c")
    its_apps = leaving.shard()
    await leaving.leave()
    assert not any(leaving.owns(app) for app in its_apps)
    await group.tick()
    group.every_app_owned_once({"a", "b"})


async def test_a_paused_replica_stops_writing_before_the_others_take_over() -> None:
    group = Group()
    for name in "abc":
        await group.start(name)
    await group.settle()
    paused = group.replicas["c"]
    its_apps = paused.shard()
    group.paused.add("c")
    waited = 0.0
    while any(paused.owns(app) for app in its_apps):
        await group.tick()
        waited += TIMINGS.retry_period
    assert waited <= TIMINGS.renew_deadline
    taken = 0.0
    while not all(group.writers(app) for app in its_apps):
        await group.tick()
        taken += TIMINGS.retry_period
        assert taken <= TIMINGS.lease_duration + 2 * TIMINGS.retry_period
    # SIGCONT: its old lease is gone; it joins again with a new fence and
    # settles like a newcomer, never resuming where it stopped.
    old_fence = group.board.leases["c"].transitions
    group.paused.discard("c")
    await group.tick()
    assert group.board.leases["c"].transitions == old_fence + 1
    await group.settle()
    group.every_app_owned_once({"a", "b", "c"})
    lost = [lost for _, lost in group.changes["c"] if lost]
    assert lost and lost[0] == its_apps


async def test_three_to_one_to_three_leaves_nothing_unowned() -> None:
    group = Group()
    for name in "abc":
        await group.start(name)
    await group.settle()
    for name in "bc":
        await group.replicas.pop(name).leave()
    await group.tick()
    group.every_app_owned_once({"a"})
    assert group.replicas["a"].snapshot().unowned == 0
    for name in "bc":
        await group.start(name)
    await group.settle()
    group.every_app_owned_once({"a", "b", "c"})


async def test_writes_refused_with_the_reason() -> None:
    group = Group()
    a = await group.start("a")
    b = await group.start("b")
    mine = next(app for app in APPS if a.owner(app) == "a")
    with pytest.raises(errors.FenceLost, match="belongs to a, not b"):
        b.check(mine)
    group.clock.advance(TIMINGS.renew_deadline)
    with pytest.raises(errors.FenceLost, match="no valid lease"):
        a.check(mine)
