"""The resync trigger: queue every Application whose last full reconcile is
older than its ``syncPolicy.interval`` (drift the watches could not see).

Looking through every Application each tick cost an idle agent of 1,000
Applications a scan per second for nothing (intervals are minutes). The
trigger looks again when the earliest resync is due, and at least every
:data:`_LOOK_AT_LEAST` seconds: an Application reconciled since the last look
is due no earlier than its interval after that, so only an Application that
appeared since, with an interval shorter than any the look saw, is resynced
up to that bound late."""

from __future__ import annotations

import asyncio
import time

from gitward.engine import context

_LOOK_AT_LEAST = 10.0


async def run(ctx: context.Context) -> None:
    next_look = 0.0
    while True:
        await asyncio.sleep(ctx.options.tick)
        now = time.monotonic()
        if now < next_look:
            continue
        next_look = now + _LOOK_AT_LEAST
        for name, state in ctx.apps.items():
            last = ctx.last_full.get(name)
            interval = state.app.spec.sync_policy.interval
            if last is not None and now - last >= interval:
                ctx.queue.add(name, "resync interval")
            # Due next an interval after its last (or its coming) full reconcile.
            due = now + interval if last is None or now - last >= interval else last + interval
            next_look = min(next_look, due)
