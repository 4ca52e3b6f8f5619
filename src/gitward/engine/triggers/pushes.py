"""The push trigger: a push webhook fetches the repository now and queues
the Applications whose ref moved (``engine.webhooks`` verifies the delivery
first). A push to the root repository wakes the root trigger."""

from __future__ import annotations

from gitward.engine import context, states
from gitward.engine.triggers import revisions
from gitward.source import webhooks


async def push(ctx: context.Context, event: webhooks.PushEvent) -> list[str]:
    """Handle one verified push; returns the names of the Applications queued."""
    pushed = {webhooks.normalise_url(url) for url in event.repo_urls}
    root = ctx.settings.root
    if root is not None and webhooks.normalise_url(root.repo_url) in pushed:
        ctx.root_wakeup.set()
    queued = []
    by_url: dict[str, list[states.AppState]] = {}
    for state in ctx.apps.values():
        url = webhooks.normalise_url(state.app.spec.source.repo_url)
        if url in pushed:
            by_url.setdefault(state.app.spec.source.repo_url, []).append(state)
    for url, affected in by_url.items():
        await revisions.fetch(ctx, url)
        resolved: dict[tuple[str, str], str] = {}
        for state in affected:
            if await revisions.ref_moved(ctx, state, resolved):
                ctx.queue.add(state.name, f"webhook push {event.after[:12]}")
                queued.append(state.name)
    return queued
