"""Fixtures of the coordination tests: one coordinator factory per backend
(the in-memory fake, Kubernetes Leases on the API test server, PostgreSQL on a
real server), all with short lease timings."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube.models import meta_v1
from lightkube.resources import core_v1

from gitward import errors
from gitward.coordination import advisory, base, leases
from gitward.model import coordination
from gitward.targets.kubernetes import connecting
from gitward.testing import coordinators, kubeapi
from tests.store.postgres import PG_BIN, PostgresServer, postgres_server

TIMINGS = coordination.Timings(lease_duration=1.2, renew_deadline=0.8, retry_period=0.1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15 server binaries are absent ({PG_BIN})")
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def lease_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with kubeapi.running() as server:
        server.kubeconfig = server.write_kubeconfig(
            tmp_path_factory.mktemp("leases") / "kubeconfig"
        )
        yield server


class Backend:
    """Makes coordinators of one kind that share one group."""

    def __init__(self, kind: str, make: Callable[[str], base.Coordinator]) -> None:
        self.kind = kind
        self._make = make
        self.made: list[base.Coordinator] = []

    def __call__(self, identity: str) -> base.Coordinator:
        made = self._make(identity)
        self.made.append(made)
        return made

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def now(self) -> float:
        return time.monotonic()


class FakeBackend(Backend):
    def __init__(self) -> None:
        self.clock = coordinators.Clock()
        self.board = coordinators.Board(TIMINGS, self.clock)
        super().__init__("memory", self.board.coordinator)

    async def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def now(self) -> float:
        return self.clock()


@pytest.fixture(params=["memory", "kubernetes", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    closers: list[Any] = []
    made: Backend
    if request.param == "memory":
        made = FakeBackend()
    elif request.param == "kubernetes":
        server = request.getfixturevalue("lease_server")
        namespace = f"ns-{abs(hash(request.node.nodeid)) % 10**8}"
        setup = connecting.connect(connecting.Settings(kubeconfig=Path(server.kubeconfig)))
        await setup.client.create(core_v1.Namespace(metadata=meta_v1.ObjectMeta(name=namespace)))
        await setup.close()

        def make_lease(identity: str) -> base.Coordinator:
            conn = connecting.connect(connecting.Settings(kubeconfig=Path(server.kubeconfig)))
            closers.append(conn)
            return leases.LeaseCoordinator(
                conn.client, namespace, identity, timings=TIMINGS, address=f"http://{identity}"
            )

        made = Backend("kubernetes", make_lease)
    else:
        pg: PostgresServer = request.getfixturevalue("postgres")
        database = f"coord_{abs(hash(request.node.nodeid)) % 10**8}"
        pg.execute(f"CREATE DATABASE {database}")
        url = pg.database_url(database)
        made = Backend(
            "postgresql",
            lambda identity: advisory.PostgresCoordinator(
                url, identity, timings=TIMINGS, address=f"http://{identity}"
            ),
        )
    yield made
    for coordinator in made.made:
        with contextlib.suppress(errors.GitwardError):
            await coordinator.leave()
    for conn in closers:
        await conn.close()
