"""What a person asks of the running agent (API, CLI, UI): refresh, suspend,
pin and release, sync now. ``engine.loop.Agent`` exposes these; rollbacks
(``engine.rollbacks``) pin through them."""

from __future__ import annotations

from gitward import errors
from gitward.engine import attempts, context, fencing, reconciling, states


def _owned(ctx: context.Context, name: str) -> states.AppState:
    """``name``'s state, when this replica may act on it. With replicas the
    API forwards actions to the owner (``api.forwarding``); one that arrives
    here anyway (the shard moved meanwhile) is refused, never half-done."""
    state = ctx.known(name)
    if not ctx.ownership.owns(name):
        raise errors.FenceLost(
            f"Application {name} is reconciled by another replica now: ask it (or retry)"
        )
    return state


def refresh(ctx: context.Context, name: str, reason: str) -> None:
    ctx.known(name)
    ctx.queue.add(name, reason)


async def suspend(ctx: context.Context, name: str, suspended: bool) -> None:
    state = _owned(ctx, name)
    state.suspended = suspended
    await ctx.save(state)
    ctx.queue.add(name, "resumed" if not suspended else "suspended")


async def pin(ctx: context.Context, name: str, revision: str) -> None:
    """Hold an Application at ``revision`` (rollback --to): it is synced to it
    now, and automated sync pauses until :func:`unpin`."""
    state = _owned(ctx, name)
    state.pinned_revision = revision
    state.set_condition(
        states.PINNED,
        True,
        "Pinned",
        f"pinned to {revision[:12]}: automated sync paused until released",
        ctx.clock(),
    )
    await ctx.save(state)
    await sync_now(ctx, name, revision=revision, trigger=f"rollback to {revision[:12]}")


async def unpin(ctx: context.Context, name: str) -> None:
    state = _owned(ctx, name)
    state.pinned_revision = ""
    state.conditions.pop(states.PINNED, None)
    await ctx.save(state)
    await ctx.event(name, "Normal", "Unpinned", "pin released: automated sync resumes")
    ctx.queue.add(name, "pin released")


async def sync_now(
    ctx: context.Context,
    name: str,
    *,
    prune: bool | None = None,
    dry_run: bool = False,
    revision: str = "",
    trigger: str = "manual",
) -> reconciling.SyncReport:
    """A sync a person asked for; runs now, in the caller's task."""
    state = ctx.known(name) if dry_run else _owned(ctx, name)
    with fencing.writing_for(name):
        report = await attempts.sync_recorded(
            ctx,
            state,
            trigger=trigger,
            revision=revision or state.pinned_revision,
            prune=prune,
            dry_run=dry_run,
        )
    ctx.queue.add(name, "after manual sync")
    return report
