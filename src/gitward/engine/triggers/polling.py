"""The polling trigger: one poller per repository URL.

Each poller fetches its repository every poll interval (jittered) and queues
the Applications whose ref moved. It says at once when the repository
becomes unreachable or comes back (``SourceAvailable``); Applications keep
running on the last fetched commit meanwhile. A poller stops when no
Application uses its repository any more.
"""

from __future__ import annotations

import asyncio

from gitward.engine import context, states
from gitward.engine.triggers import revisions
from gitward.source import base as source_base


class Pollers:
    def __init__(self, ctx: context.Context) -> None:
        self._ctx = ctx
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def ensure(self, url: str) -> None:
        """Poll ``url`` from now on (once per URL)."""
        if url not in self._tasks:
            self._tasks[url] = asyncio.create_task(self._poll(url), name=f"poll {url}")

    def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()

    async def _poll(self, url: str) -> None:
        ctx = self._ctx
        while True:
            await asyncio.sleep(context.jittered(ctx.options))
            users = [s for s in ctx.apps.values() if s.app.spec.source.repo_url == url]
            if not users:
                self._tasks.pop(url, None)
                return
            fetched = await revisions.fetch(ctx, url)
            resolved: dict[tuple[str, str], str] = {}
            for state in users:
                await self._note_source(state, fetched)
                if await revisions.ref_moved(ctx, state, resolved):
                    ctx.queue.add(state.name, "new commit (poll)")

    async def _note_source(
        self, state: states.AppState, fetched: source_base.FetchResult | None
    ) -> None:
        ctx = self._ctx
        now = ctx.clock()
        current = state.conditions.get(states.SOURCE_AVAILABLE)
        was_ok = current is None or current.status
        if fetched is None or fetched.stale:
            message = fetched.error if fetched is not None else "fetch failed"
            if was_ok:
                state.set_condition(
                    states.SOURCE_AVAILABLE,
                    False,
                    "SourceFailed",
                    f"serving the last fetched commit: {message}",
                    now,
                )
                await ctx.event(state.name, "Warning", "SourceFailed", message)
                await ctx.save(state)
        elif not was_ok:
            state.set_condition(states.SOURCE_AVAILABLE, True, "Fetched", "", now)
            await ctx.event(state.name, "Normal", "SourceRecovered", "repository reachable again")
            await ctx.save(state)
            ctx.queue.add(state.name, "source recovered")
