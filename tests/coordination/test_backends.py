"""What only one backend has: the Lease objects as kubectl shows them, the
PostgreSQL session of an expired member being ended, one identity per live
process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gitward import errors
from gitward.coordination import advisory, leases
from gitward.targets.kubernetes import connecting
from tests.coordination.conftest import TIMINGS, Backend
from tests.fixtures import kget


@pytest.mark.parametrize("backend", ["kubernetes"], indirect=True)
async def test_leases_are_written_like_client_go_and_released_on_leave(
    backend: Backend, lease_server: Any
) -> None:
    a = backend("web-0")
    assert isinstance(a, leases.LeaseCoordinator)
    fence = await a.join()
    lease = kget(lease_server, "-n", a.namespace, "lease", "gitward-web-0")
    spec = lease["spec"]
    assert spec["holderIdentity"] == fence.holder and fence.holder.startswith("web-0_")
    assert spec["leaseDurationSeconds"] == 2  # 1.2 s rounded up: whole seconds on the wire
    assert spec["leaseTransitions"] == 0 and spec["acquireTime"] and spec["renewTime"]
    assert lease["metadata"]["labels"] == {leases.GROUP_LABEL: "gitward"}
    await a.leave()
    released = kget(lease_server, "-n", a.namespace, "lease", "gitward-web-0")["spec"]
    assert not released.get("holderIdentity")


@pytest.mark.parametrize("backend", ["kubernetes"], indirect=True)
async def test_a_lease_held_by_a_live_earlier_incarnation_is_waited_for(
    backend: Backend,
) -> None:
    old, new = backend("web-0"), backend("web-0")
    first = await old.join()
    started = time.monotonic()
    joining = asyncio.create_task(new.join())
    await asyncio.sleep(TIMINGS.lease_duration / 2)
    await old.renew()
    assert not joining.done()
    second = await asyncio.wait_for(joining, TIMINGS.lease_duration * 4)
    assert time.monotonic() - started >= TIMINGS.lease_duration
    assert second.transitions == first.transitions + 1 and second.holder != first.holder
    with pytest.raises(errors.LeaseLost):
        await asyncio.sleep(TIMINGS.renew_deadline)
        await old.renew()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_an_expired_members_session_is_ended_and_its_identity_freed(
    backend: Backend,
) -> None:
    paused, other = backend("alpha"), backend("beta")
    await paused.join()
    await other.join()
    assert isinstance(paused, advisory.PostgresCoordinator)
    conn = paused._conn
    assert conn is not None
    deadline = time.monotonic() + TIMINGS.lease_duration * 4
    while "alpha" in [m.identity for m in await other.members()]:
        assert time.monotonic() < deadline
        await other.renew()
        await asyncio.sleep(TIMINGS.retry_period)
    # The paused member's session was terminated: its lock is free, its
    # renewal fails however soon it resumes.
    with pytest.raises(psycopg.OperationalError):
        await conn.execute(b"SELECT 1")
    with pytest.raises(errors.LeaseLost):
        await paused.renew()
    again = backend("alpha")
    assert (await asyncio.wait_for(again.join(), 5)).transitions == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_live_identity_cannot_be_joined_twice(backend: Backend) -> None:
    first, second = backend("alpha"), backend("alpha")
    await first.join()
    joining = asyncio.create_task(second.join())
    for _ in range(int(TIMINGS.lease_duration * 2 / TIMINGS.retry_period)):
        await first.renew()
        await asyncio.sleep(TIMINGS.retry_period)
        assert not joining.done()
    await first.leave()
    assert (await asyncio.wait_for(joining, 5)).transitions == 1


def test_the_coordinator_refuses_a_sqlite_url() -> None:
    with pytest.raises(errors.ConfigError, match="postgresql://"):
        advisory.PostgresCoordinator("sqlite:///state.db", "alpha")


async def test_a_missing_namespace_is_named(lease_server: Any) -> None:
    conn = connecting.connect(connecting.Settings(kubeconfig=Path(lease_server.kubeconfig)))
    try:
        coordinator = leases.LeaseCoordinator(conn.client, "nowhere", "alpha", timings=TIMINGS)
        with pytest.raises(errors.ConfigError, match="namespace nowhere"):
            await coordinator.join()
    finally:
        await conn.close()
