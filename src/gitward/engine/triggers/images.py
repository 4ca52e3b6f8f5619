"""The image-policy trigger: follow registries (``engine.imaging``); when a
policy pushes a commit, fetch that repository at once and queue the
Applications whose ref moved, rather than waiting for the next poll."""

from __future__ import annotations

import asyncio

from gitward.engine import context, imaging, sourcing
from gitward.engine.triggers import revisions
from gitward.source import committing, webhooks


class ImagePolicies:
    def __init__(self, ctx: context.Context) -> None:
        self._ctx = ctx
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        ctx = self._ctx
        await imaging.watch_images(
            ctx.runtime,
            ctx.settings.image_policies,
            statuses=ctx.image_statuses,
            on_commit=self._committed,
        )

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    def _committed(self, policy: str, pushed: committing.Pushed) -> None:
        spec = next(p for p in self._ctx.settings.image_policies if p.name == policy)
        task = asyncio.create_task(self._refresh(spec.update.repo_url, policy, pushed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, url: str, policy: str, pushed: committing.Pushed) -> None:
        ctx = self._ctx
        await revisions.fetch(ctx, url)
        resolved: dict[tuple[str, str], str] = {}
        wanted = webhooks.normalise_url(url)
        for state in list(ctx.apps.values()):
            if wanted not in {webhooks.normalise_url(u) for u in sourcing.git_urls(state.app)}:
                continue
            if await revisions.ref_moved(ctx, state, resolved):
                ctx.queue.add(state.name, f"new commit {pushed.sha[:12]} by image policy {policy}")
                # What alerts select on (ImageUpdated); the sync that follows
                # records its own events.
                await ctx.event(
                    state.name,
                    "Normal",
                    "ImageUpdated",
                    f"image policy {policy} committed {pushed.sha[:12]} to {pushed.branch}",
                    pushed.sha,
                )
