"""The Coordinator contract, run against the in-memory fake, Kubernetes Leases
(on the API test server) and PostgreSQL (a real server): membership, release on
leave, expiry of a silent member, the renew deadline, and re-joining with a
new fencing token."""

from __future__ import annotations

import pytest

from gitward import errors
from tests.coordination.conftest import TIMINGS, Backend


async def identities(coordinator: object) -> list[str]:
    return [m.identity for m in await coordinator.members()]  # type: ignore[attr-defined]


async def test_members_see_each_other_with_their_fences_and_addresses(backend: Backend) -> None:
    a, b = backend("alpha"), backend("beta")
    fence_a = await a.join()
    fence_b = await b.join()
    assert fence_a != fence_b
    assert a.fence() == fence_a
    members = await b.members()
    assert [m.identity for m in members] == ["alpha", "beta"]
    assert {m.identity: m.fence for m in members} == {"alpha": fence_a, "beta": fence_b}
    if backend.kind != "memory":
        assert {m.address for m in members} == {"http://alpha", "http://beta"}


async def test_leaving_releases_at_once(backend: Backend) -> None:
    a, b = backend("alpha"), backend("beta")
    await a.join()
    await b.join()
    await a.leave()
    assert await identities(b) == ["beta"]
    with pytest.raises(errors.LeaseLost):
        a.fence()


async def test_a_silent_member_stops_writing_before_the_others_count_it_gone(
    backend: Backend,
) -> None:
    a, b = backend("alpha"), backend("beta")
    await a.join()
    await b.join()
    # alpha stops renewing (SIGSTOP); beta keeps going.
    start = backend.now()
    step = TIMINGS.retry_period
    a_stopped_at = b_saw_gone_at = None
    while backend.now() - start < TIMINGS.lease_duration * 4 and b_saw_gone_at is None:
        await backend.wait(step)
        elapsed = backend.now() - start
        await b.renew()
        if a_stopped_at is None:
            try:
                a.fence()
            except errors.LeaseLost:
                a_stopped_at = elapsed
        if "alpha" not in await identities(b):
            b_saw_gone_at = elapsed
    assert a_stopped_at is not None and b_saw_gone_at is not None
    assert a_stopped_at < b_saw_gone_at
    assert b_saw_gone_at >= TIMINGS.lease_duration - step
    # Resumed: the old lease is not renewed silently; it joins as a new member.
    with pytest.raises(errors.LeaseLost):
        await a.renew()
    again = await a.join()
    assert again.transitions > 0
    assert "alpha" in await identities(b)


async def test_renewing_keeps_the_lease_past_its_duration(backend: Backend) -> None:
    a, b = backend("alpha"), backend("beta")
    fence = await a.join()
    await b.join()
    for _ in range(int(TIMINGS.lease_duration * 2 / TIMINGS.retry_period)):
        await backend.wait(TIMINGS.retry_period)
        assert await a.renew() == fence
        await b.renew()
    assert await identities(b) == ["alpha", "beta"]
    assert a.fence() == fence


async def test_a_restarted_incarnation_gets_a_new_fence(backend: Backend) -> None:
    first = backend("alpha")
    old = await first.join()
    await first.leave()
    second = backend("alpha")
    new = await second.join()
    assert new.transitions == old.transitions + 1
    with pytest.raises(errors.LeaseLost):
        await first.renew()
