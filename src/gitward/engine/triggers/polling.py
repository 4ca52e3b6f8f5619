"""The polling trigger: one poller per repository URL.

Each poller fetches its repository every poll interval (jittered) and queues
the Applications whose ref moved. A Helm repository's poller refreshes its
``index.yaml`` (a conditional request) and an OCI chart's lists its tags
instead, then queues the Applications for which a newer version is now
allowed. An Application with several sources has a poller per source.
Each poller says at once when its repository becomes unreachable or comes
back (``SourceAvailable``); Applications keep running on the last fetched
commit (or index) meanwhile. A poll of the root's repository that fetched
anything wakes the root trigger (``triggers.roots``), which reads the root
from the same fetch. A poller stops when no Application uses its
repository any more.
"""

from __future__ import annotations

import asyncio

from gitward import errors
from gitward.config import applications
from gitward.engine import context, sourcing, states, untouched
from gitward.engine.triggers import revisions
from gitward.source import webhooks
from gitward.store import base as store_base


class Pollers:
    def __init__(self, ctx: context.Context) -> None:
        self._ctx = ctx
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Application name -> (its spec, the Git URLs it reads): a poll asks
        # every Application whether it reads the polled URL.
        self._urls: dict[str, tuple[applications.Application, frozenset[str]]] = {}

    def ensure(self, url: str) -> None:
        """Poll the Git repository ``url`` from now on (once per URL)."""
        if url not in self._tasks:
            self._tasks[url] = asyncio.create_task(self._poll(url), name=f"poll {url}")

    def polls(self, url: str) -> bool:
        """Whether a poller fetches the Git repository ``url`` (spelt any way)."""
        wanted = webhooks.normalise_url(url)
        return any(
            webhooks.normalise_url(polled) == wanted and not task.done()
            for polled, task in self._tasks.items()
        )

    def ensure_app(self, app: applications.Application) -> None:
        """Poll every repository (Git or chart) the Application reads."""
        for url in sourcing.git_urls(app):
            self.ensure(url)
        for url in sourcing.chart_urls(app):
            if url not in self._tasks:
                self._tasks[url] = asyncio.create_task(
                    self._poll_charts(url), name=f"poll charts {url}"
                )

    def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()

    async def _poll(self, url: str) -> None:
        ctx = self._ctx
        while True:
            await asyncio.sleep(context.jittered(ctx.options))
            users = [s for s in ctx.apps.values() if url in self._git_urls(s)]
            if not users:
                self._tasks.pop(url, None)
                return
            fetched = await revisions.fetch(ctx, url)
            if fetched is not None and fetched.received_objects and revisions.is_root(ctx, url):
                ctx.root_wakeup.set()  # it reuses this fetch
            resolved: dict[tuple[str, str], str] = {}
            problem = "" if fetched is not None and not fetched.stale else "fetch failed"
            if fetched is not None and fetched.stale:
                problem = fetched.error
            moved = untouched.Pass(ctx, url)
            for state in users:
                if problem or not _source_available(state):
                    await self._note_source(state, problem)
                if revisions.known_unmoved(state, resolved):
                    continue
                if await revisions.ref_moved(ctx, state, resolved) and not await moved.advanced(
                    state, resolved
                ):
                    ctx.queue.add(state.name, "new commit (poll)")
            await moved.finish()

    def _git_urls(self, state: states.AppState) -> frozenset[str]:
        known = self._urls.get(state.name)
        if known is None or known[0] is not state.app:
            known = (state.app, frozenset(sourcing.git_urls(state.app)))
            self._urls[state.name] = known
            if len(self._urls) > 2 * len(self._ctx.apps) + 16:  # forget deleted ones
                self._urls = {n: v for n, v in self._urls.items() if n in self._ctx.apps}
        return known[1]

    async def _poll_charts(self, url: str) -> None:
        ctx = self._ctx
        while True:
            await asyncio.sleep(context.jittered(ctx.options))
            users = [s for s in ctx.apps.values() if url in sourcing.chart_urls(s.app)]
            if not users:
                self._tasks.pop(url, None)
                return
            try:
                problem = await sourcing.refresh_chart_repository(ctx.runtime, url)
            except errors.GitwardError as exc:
                problem = exc.message
            for state in users:
                await self._note_source(state, problem)
                if await revisions.ref_moved(ctx, state):
                    ctx.queue.add(state.name, "new chart version (poll)")

    async def _note_source(self, state: states.AppState, problem: str) -> None:
        """``problem``: why the repository could not be refreshed ('' when it was).
        A store error is the store's (logged, told to ``/healthz``): the poller goes on."""
        try:
            await self._record_source(state, problem)
        except store_base.StoreUnavailable as exc:
            self._ctx.store_health.failed(exc, f"recording the source of {state.name}")

    async def _record_source(self, state: states.AppState, problem: str) -> None:
        ctx = self._ctx
        now = ctx.clock()
        was_ok = _source_available(state)
        if problem:
            message = problem
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


def _source_available(state: states.AppState) -> bool:
    """Whether the Application's SourceAvailable condition is true (or unset)."""
    current = state.conditions.get(states.SOURCE_AVAILABLE)
    return current is None or current.status
