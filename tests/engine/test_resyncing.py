"""The resync trigger queues an Application its interval after its last full
reconcile, and does not look through every Application each tick."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from gitward.engine import queueing
from gitward.engine.triggers import resyncing


class CountingApps(dict[str, Any]):
    looks = 0

    def items(self) -> Any:
        self.looks += 1
        return super().items()


def state(interval: float) -> Any:
    return SimpleNamespace(
        app=SimpleNamespace(spec=SimpleNamespace(sync_policy=SimpleNamespace(interval=interval)))
    )


async def test_resync_is_queued_when_due_and_the_apps_are_looked_at_only_then() -> None:
    queue = queueing.WorkQueue()
    apps = CountingApps(slow=state(3600.0), quick=state(0.4))
    now = time.monotonic()
    ctx: Any = SimpleNamespace(
        options=SimpleNamespace(tick=0.01),
        apps=apps,
        last_full={"slow": now, "quick": now},
        queue=queue,
    )
    task = asyncio.create_task(resyncing.run(ctx))
    try:
        item = await asyncio.wait_for(queue.get(), 2)
        assert item is not None and (item.app, item.reasons) == ("quick", ["resync interval"])
        assert time.monotonic() - now >= 0.4
        # About 40 ticks went by: the trigger looked once at start and once when due.
        assert apps.looks <= 3
        # Reconciled again: due again an interval later, the hour-long one never.
        queue.done("quick")
        ctx.last_full["quick"] = time.monotonic()
        item = await asyncio.wait_for(queue.get(), 2)
        assert item is not None and item.app == "quick"
        assert len(queue) == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
