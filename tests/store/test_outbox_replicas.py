"""Two replicas sharing one store (SQLite file, PostgreSQL) each run a notifier:
every event is queued once and every notification sent once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitward.config import notifications as config
from gitward.engine.notifications import running
from gitward.store import base, storing
from gitward.testing import receivers
from tests.store.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    server.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    yield server.url


async def test_each_notification_is_sent_once_by_two_replicas(sql_url: str) -> None:
    with receivers.Receiver() as receiver:
        settings = config.NotificationSettings.model_validate(
            {
                "providers": {"hook": {"type": "webhook", "url": receiver.url, "rateLimit": 1000}},
                "alerts": [{"provider": "hook"}],
            }
        )
        async with (
            storing.SqlStore(sql_url) as first,
            storing.SqlStore(sql_url) as second,
        ):
            services = [
                running.Notifier(
                    store,
                    lambda: settings,
                    alerts=settings.named_alerts,
                    describe=lambda name: {"name": name},
                    clock=lambda: datetime.now(UTC),
                )
                for store in (first, second)
            ]
            tasks = [asyncio.create_task(s.run()) for s in services]
            try:
                for service in services:
                    await service.ready.wait()
                for n in range(20):
                    await (first if n % 2 else second).add_event(
                        base.EventRecord(
                            app="web",
                            time=datetime.now(UTC),
                            type=base.EventType.NORMAL,
                            reason="SyncSucceeded",
                            message=f"n{n}",
                        )
                    )
                    for service in services:
                        service.wake()
                await asyncio.to_thread(receiver.wait_for, 20, 20)
                await asyncio.sleep(1.2)  # a second look by both finds nothing more
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            stored = await first.list_deliveries()
    messages = sorted(r.json()["event"]["message"] for r in receiver.requests)
    assert messages == sorted(f"n{n}" for n in range(20))
    assert len({r.header("X-Gitward-Delivery") for r in receiver.requests}) == 20
    assert len(stored) == 20 and all(d.state is base.DeliveryState.SENT for d in stored)
