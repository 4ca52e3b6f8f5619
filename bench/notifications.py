"""Benchmark: the notification outbox and the delivery figures, on SQLite.

Figures:

* event -> signed webhook POST latency through the outbox (a real receiver on
  loopback; the notifier woken as the agent wakes it), p50 and p95 of N events;
* outbox throughput: notifications delivered per second when N events arrive
  at once (one provider, rate limit raised out of the way);
* the cost an event pays on the recording side: ``add_event`` alone vs
  ``add_event`` while the notifier drains a backlog (the reconcile's view);
* the delivery figures: ``gitward.engine.delivery`` over A Applications x O
  operations each (store reads + computation), cold.

Run: ``.venv/bin/python bench/notifications.py [--events 300] [--apps 50] [--ops 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitward.config import notifications as config
from gitward.engine.delivery import gathering
from gitward.engine.notifications import running
from gitward.model import operations, plans, resources
from gitward.store import base, storing
from gitward.testing import receivers

KEY = resources.ResourceKey("apps", "Deployment", "web", "web")


def _settings(url: str, rate: int) -> config.NotificationSettings:
    return config.NotificationSettings.model_validate(
        {
            "providers": {
                "hook": {
                    "type": "webhook",
                    "url": url,
                    "secretEnv": "BENCH_SECRET",
                    "rateLimit": rate,
                }
            },
            "alerts": [{"provider": "hook"}],
            "delivery": {"dedupWindow": 0},
        }
    )


async def _event(store: storing.SqlStore, n: int) -> None:
    await store.add_event(
        base.EventRecord(
            app="web",
            time=datetime.now(UTC),
            type=base.EventType.NORMAL,
            reason="SyncSucceeded",
            message=f"n{n}",
            revision="a" * 40,
        )
    )


async def _notifier(store: storing.SqlStore, settings: config.NotificationSettings) -> Any:
    service = running.Notifier(
        store,
        lambda: settings,
        alerts=settings.named_alerts,
        describe=lambda name: {"name": name},
        clock=lambda: datetime.now(UTC),
    )
    task = asyncio.create_task(service.run())
    await service.ready.wait()
    return service, task


async def latency(tmp: Path, count: int) -> list[float]:
    with receivers.Receiver() as receiver:
        async with storing.SqlStore(f"sqlite:///{tmp / 'latency.db'}") as store:
            service, task = await _notifier(store, _settings(receiver.url, 100_000))
            lags = []
            for n in range(count):
                started = time.monotonic()
                await _event(store, n)
                service.wake()
                request = (await asyncio.to_thread(receiver.wait_for, n + 1))[-1]
                lags.append(request.at - started)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return lags


async def throughput(tmp: Path, count: int) -> tuple[float, float, float]:
    with receivers.Receiver() as receiver:
        async with storing.SqlStore(f"sqlite:///{tmp / 'burst.db'}") as store:
            alone = []
            for n in range(50):
                started = time.perf_counter()
                await _event(store, n)
                alone.append(time.perf_counter() - started)
            service, task = await _notifier(store, _settings(receiver.url, 100_000))
            started = time.perf_counter()
            during = []
            for n in range(count):
                t = time.perf_counter()
                await _event(store, n)
                during.append(time.perf_counter() - t)
                service.wake()
            await asyncio.to_thread(receiver.wait_for, count, 120)
            elapsed = time.perf_counter() - started
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return count / elapsed, statistics.median(alone) * 1000, statistics.median(during) * 1000


async def figures(tmp: Path, apps: int, ops: int) -> float:
    url = f"sqlite:///{tmp / 'history.db'}"
    now = datetime.now(UTC)
    async with storing.SqlStore(url) as store:
        for a in range(apps):
            name = f"app-{a}"
            await store.save_status(base.AppRecord(name=name))
            for o in range(ops):
                at = now - timedelta(hours=ops - o)
                revision = operations.Revision(
                    sha=f"{o:040x}", committed_at=at - timedelta(minutes=30)
                )
                op_id = await store.start_operation(
                    operations.Operation(app=name, revision=revision, trigger="t", started_at=at)
                )
                await store.finish_operation(
                    op_id,
                    operations.Operation(
                        app=name,
                        revision=revision,
                        trigger="t",
                        started_at=at,
                        finished_at=at + timedelta(minutes=1),
                        phase=operations.OperationPhase.SUCCEEDED,
                        results=(
                            operations.ResourceResult(
                                KEY, plans.Action.UPDATE, operations.ResultCode.CONFIGURED
                            ),
                        ),
                    ),
                )
                await store.add_event(
                    base.EventRecord(
                        app=name,
                        time=at + timedelta(minutes=2),
                        type=base.EventType.NORMAL,
                        reason="Deployed",
                        message="",
                        revision=revision.sha,
                    )
                )
    async with storing.SqlStore(url) as store:
        started = time.perf_counter()
        infos = await gathering.infos(store)
        await gathering.report(
            store,
            infos,
            scope=gathering.Scope(),
            since=now - timedelta(days=30),
            until=now,
            failure_window=timedelta(hours=1),
        )
        return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--ops", type=int, default=100)
    args = parser.parse_args()
    os.environ["BENCH_SECRET"] = "bench-secret"
    with tempfile.TemporaryDirectory(prefix="gitward-bench-") as tmp_text:
        tmp = Path(tmp_text)
        lags = sorted(await latency(tmp, min(args.events, 100)))
        print(
            f"event -> signed POST: p50 {statistics.median(lags) * 1000:.1f} ms, "
            f"p95 {lags[int(len(lags) * 0.95) - 1] * 1000:.1f} ms ({len(lags)} events)"
        )
        rate, alone, during = await throughput(tmp, args.events)
        print(f"outbox throughput: {rate:.0f} notifications/s ({args.events} at once)")
        print(f"add_event median: {alone:.2f} ms alone, {during:.2f} ms while the outbox drains")
        seconds = await figures(tmp, args.apps, args.ops)
        print(
            f"delivery figures over {args.apps} apps x {args.ops} operations: "
            f"{seconds * 1000:.0f} ms"
        )
    print(f"load: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    asyncio.run(main())
