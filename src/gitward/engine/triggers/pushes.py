"""The push trigger: a push webhook fetches the repository now and queues
the Applications whose ref moved (``engine.webhooks`` verifies the delivery
first). A push to the root repository fetches it and wakes the root trigger."""

from __future__ import annotations

from gitward.engine import context, sourcing, states, untouched
from gitward.engine.triggers import revisions
from gitward.source import webhooks


async def push(ctx: context.Context, event: webhooks.PushEvent) -> list[str]:
    """Handle one verified push; returns the names of the Applications queued."""
    pushed = {webhooks.normalise_url(url) for url in event.repo_urls}
    root = ctx.settings.root
    root_pushed = root is not None and webhooks.normalise_url(root.repo_url) in pushed
    if root is not None and root_pushed:
        # Fetched before the root trigger wakes: it reuses a recent fetch.
        await revisions.fetch(ctx, root.repo_url)
        ctx.root_wakeup.set()
    queued = []
    by_url: dict[str, list[states.AppState]] = {}
    for state in ctx.apps.values():
        # Any Git source of the Application: a push to its values repository
        # triggers it as much as one to its manifests.
        for source_url in sourcing.git_urls(state.app):
            if webhooks.normalise_url(source_url) in pushed:
                by_url.setdefault(source_url, []).append(state)
    for url, affected in by_url.items():
        if not (root_pushed and revisions.is_root(ctx, url)):  # fetched above
            await revisions.fetch(ctx, url)
        resolved: dict[tuple[str, str], str] = {}
        moved = untouched.Pass(ctx, url)
        for state in affected:
            if state.name in queued:
                continue
            if await revisions.ref_moved(ctx, state, resolved) and not await moved.advanced(
                state, resolved
            ):
                ctx.queue.add(state.name, f"webhook push {event.after[:12]}")
                queued.append(state.name)
        await moved.finish()
    return queued
