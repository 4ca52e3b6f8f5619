"""The resync trigger: queue every Application whose last full reconcile is
older than its ``syncPolicy.interval`` (drift the watches could not see)."""

from __future__ import annotations

import asyncio
import time

from gitward.engine import context


async def run(ctx: context.Context) -> None:
    while True:
        await asyncio.sleep(ctx.options.tick)
        now = time.monotonic()
        for name, state in ctx.apps.items():
            last = ctx.last_full.get(name)
            if last is not None and now - last >= state.app.spec.sync_policy.interval:
                ctx.queue.add(name, "resync interval")
