"""Benchmark: ``gitward.store.storing.SqlStore`` on SQLite and PostgreSQL.

Figures (each a median of several runs where it is a rate):

* operations recorded per second: ``start_operation`` + ``finish_operation``
  of an operation with 25 per-resource results (two transactions), and bare
  ``start_operation`` inserts per second;
* status saves per second (an Application of 50 resources, 3 conditions);
* latency of ``list_operations(app, limit=100)`` with 25 results each;
* cost of the worker-thread hop: an async ``get_status`` vs. the same query
  called directly on the thread;
* SQLite file size after 200 apps x 100 operations x 25 results (and the
  time to write them).

PostgreSQL runs durably (fsync and synchronous_commit on), started from
Debian's binaries as the tests do. Run:
``.venv/bin/python bench/store.py [--apps 200] [--ops 100] [--no-postgres]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.store import postgres

from gitward.model import operations, plans, resources, status
from gitward.store import base, storing

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
REVISION = operations.Revision(
    sha="a" * 40,
    ref="refs/heads/main",
    author="Ada Lovelace <ada@example.com>",
    message="Bump web to v1.2.3",
    committed_at=T0,
)


def _results(count: int) -> tuple[operations.ResourceResult, ...]:
    found = []
    for i in range(count):
        failed = i % 10 == 0
        found.append(
            operations.ResourceResult(
                key=resources.ResourceKey("apps", "Deployment", "web", f"web-{i}"),
                action=plans.Action.UPDATE if i % 3 else plans.Action.UNCHANGED,
                code=operations.ResultCode.FAILED if failed else operations.ResultCode.CONFIGURED,
                message="field /spec/replicas owned by kubectl-edit" if failed else "",
                reason="ApplyConflict" if failed else "",
                wave=i % 3,
            )
        )
    return tuple(found)


RESULTS = _results(25)
SUMMARY = base.PlanSummary(
    revision="a" * 40, counts={"create": 2, "update": 15, "unchanged": 8, "prune": 0, "skip": 0}
)


def _operation(app: str, i: int) -> operations.Operation:
    return operations.Operation(
        app=app, revision=REVISION, trigger="commit", started_at=T0 + timedelta(seconds=i)
    )


def _finished(op: operations.Operation) -> operations.Operation:
    return replace(
        op,
        phase=operations.OperationPhase.SUCCEEDED,
        finished_at=op.started_at + timedelta(seconds=3),
        results=RESULTS,
        message="25 applied",
    )


def _app(name: str) -> base.AppRecord:
    return base.AppRecord(
        name=name,
        sync=status.SyncStatus.SYNCED,
        desired_revision="a" * 40,
        synced_revision=REVISION,
        health=status.HealthResult(status.HealthStatus.HEALTHY),
        conditions=tuple(
            status.Condition(t, True, "Succeeded", "", T0) for t in ("Synced", "Healthy", "Ready")
        ),
        resources=tuple(
            status.ResourceStatus(
                key=resources.ResourceKey("", "ConfigMap", "web", f"cm-{i}"),
                sync=status.SyncStatus.SYNCED,
                health=status.HealthResult(status.HealthStatus.HEALTHY),
            )
            for i in range(50)
        ),
        updated_at=T0,
        labels={"team": "web"},
        plan=SUMMARY,
    )


async def _rate(label: str, count: int, step: object) -> float:
    rates = []
    for _ in range(3):
        began = time.perf_counter()
        for i in range(count):
            await step(i)  # type: ignore[operator]
        rates.append(count / (time.perf_counter() - began))
    rate = statistics.median(rates)
    print(f"  {label:<52} {rate:>9,.0f}/s")
    return rate


async def measure(url: str, name: str) -> None:
    print(f"{name}:")
    async with storing.SqlStore(url) as store:
        counter = iter(range(10**9))

        async def record(_: int) -> None:
            i = next(counter)
            op = _operation(f"bench-{i % 20}", i)
            op_id = await store.start_operation(op, SUMMARY)
            await store.finish_operation(op_id, _finished(op))

        async def start(_: int) -> None:
            i = next(counter)
            await store.start_operation(_operation(f"start-{i % 20}", i), SUMMARY)

        app = _app("status-bench")

        async def save(i: int) -> None:
            await store.save_status(replace(app, name=f"status-{i % 50}"))

        await _rate("operations recorded (start+finish, 25 results)", 300, record)
        await _rate("operation inserts (start_operation)", 300, start)
        await _rate("status saves (50 resources, 3 conditions)", 300, save)

        for i in range(100):
            op = _operation("history", i)
            await store.finish_operation(await store.start_operation(op, SUMMARY), _finished(op))
        timings = []
        for _ in range(20):
            began = time.perf_counter()
            listed = await store.list_operations("history", limit=100)
            timings.append(time.perf_counter() - began)
        assert len(listed) == 100
        print(
            f"  {'list_operations(limit=100), 25 results each':<52} "
            f"{statistics.median(timings) * 1000:>8.1f} ms (median of 20)"
        )

        hop = []
        for _ in range(200):
            began = time.perf_counter()
            await store.get_status("missing")
            hop.append(time.perf_counter() - began)
        direct = []
        for _ in range(200):
            began = time.perf_counter()
            store._get_status_sync("missing")
            direct.append(time.perf_counter() - began)
        print(
            f"  {'get_status: async via worker thread / direct':<52} "
            f"{statistics.median(hop) * 1e6:>6.0f} us / {statistics.median(direct) * 1e6:.0f} us"
        )


async def sqlite_size(directory: Path, apps: int, ops: int) -> None:
    path = directory / "size.db"
    began = time.perf_counter()
    async with storing.SqlStore(f"sqlite:///{path}") as store:
        for a in range(apps):
            name = f"app-{a:03d}"
            await store.save_status(_app(name))
            for i in range(ops):
                op = _operation(name, i)
                await store.finish_operation(
                    await store.start_operation(op, SUMMARY), _finished(op)
                )
    elapsed = time.perf_counter() - began
    size = sum(p.stat().st_size for p in directory.glob("size.db*"))
    print(
        f"SQLite file after {apps} apps x {ops} operations x 25 results: "
        f"{size / 1e6:.1f} MB ({size / (apps * ops):,.0f} bytes per operation), "
        f"written in {elapsed:.1f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--ops", type=int, default=100)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gitward-bench-") as tmp:
        directory = Path(tmp)
        await measure(f"sqlite:///{directory / 'bench.db'}", "SQLite (WAL, synchronous=NORMAL)")
        if not args.no_postgres and (postgres.PG_BIN / "initdb").exists():
            with postgres.postgres_server(durable=True) as server:
                await measure(server.url, "PostgreSQL 15 (fsync on, synchronous_commit on)")
        await sqlite_size(directory, args.apps, args.ops)


if __name__ == "__main__":
    asyncio.run(main())
