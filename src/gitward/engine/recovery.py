"""Operations a crash or a kill left Running, for the Applications this
process owns.

An Operation is recorded Running before anything is applied
(``engine.attempts``), so one still Running when its owner starts was cut
short: it is marked Failed (reason ``Interrupted``). ``engine.loop`` calls
:func:`recover` at start-up; ``engine.workers`` calls :func:`take_over` for an
Application this process comes to own while running (replicas), before
reconciling it.
Applications owned by another replica are never touched: their operation
may be running there right now; nor is an operation recorded under the fence
of a replica still alive (it finishes or supersedes it itself).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from gitward.engine import context, persisting

_log = structlog.get_logger(__name__)


async def recover(ctx: context.Context, apps: Iterable[str] | None = None) -> list[int]:
    """Fail the interrupted operations of ``apps`` (None: every Application
    this process owns) and return their ids."""
    owner = ctx.ownership
    if apps is None and owner.owns_everything:
        ids = await ctx.store.recover_interrupted(ctx.clock())
    else:
        named = apps if apps is not None else ctx.restored
        scope = sorted({app for app in named if owner.owns(app)})
        if not scope:
            return []
        # Never another live replica's sync: its fence is still live.
        ids = await ctx.store.recover_interrupted(
            ctx.clock(), apps=scope, live_fences=owner.live_fences()
        )
    if ids:
        _log.warning("operations interrupted by a restart marked failed", ids=ids)
    return ids


async def take_over(ctx: context.Context, app: str) -> None:
    """``app`` just became this replica's: fail its interrupted operations and
    start from the status its previous owner saved (pin, suspension, what was
    synced), not from what this replica last saw of it."""
    await recover(ctx, [app])
    saved = await ctx.store.get_status(app)
    state = ctx.apps.get(app)
    if saved is not None and state is not None:
        persisting.restore(state, saved)
