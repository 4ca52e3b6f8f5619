"""One sync attempt of the agent, recorded as an Operation.

``engine.workers`` (automated sync, self-heal) and ``engine.requests`` (a
person's sync) call :func:`sync_recorded`. The Operation exists (Running)
before anything is applied, so a crash leaves a trace ``engine.recovery``
marks failed; the outcome sets the Application's ``Reconciled`` condition and
an event, and a failure schedules a retry with the Application's backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from gitward import errors
from gitward.engine import context, decisions, reconciling, states, transitions
from gitward.model import operations, plans, resources, status

OnWrite = Callable[[resources.ResourceKey, Mapping[str, Any]], None]


async def sync_recorded(
    ctx: context.Context,
    state: states.AppState,
    *,
    trigger: str,
    plan: plans.Plan | None = None,
    desired: reconciling.Desired | None = None,
    revision: str = "",
    prune: bool | None = None,
    dry_run: bool = False,
    on_write: OnWrite | None = None,
) -> reconciling.SyncReport:
    """Sync ``state``'s Application: carry out ``plan`` (already made for
    ``desired``), or plan afresh at ``revision`` (a person's sync)."""
    now = ctx.clock()
    app = state.app
    running = operations.Operation(
        app=state.name,
        revision=desired.revision
        if desired
        else operations.Revision(sha=revision or state.revision),
        trigger=trigger,
        started_at=now,
        dry_run=dry_run,
        # Replicas: the lease this sync writes under ('' for a single replica).
        fence=ctx.ownership.fence(state.name),
    )
    op_id = await ctx.store.start_operation(running)
    state.last_operation = op_id
    if not dry_run:
        # Commit status "pending"; notifications read it from the event log.
        await ctx.event(
            state.name,
            "Normal",
            transitions.SYNC_STARTED,
            f"syncing {running.revision.sha[:12]} ({trigger})",
            running.revision.sha,
        )
    try:
        if plan is None or desired is None or prune is not None:
            report = await reconciling.sync(
                ctx.runtime,
                app,
                trigger=trigger,
                revision=revision,
                prune=prune,
                dry_run=dry_run,
                project=ctx.project(app),
            )
        else:
            report = await reconciling.apply_plan(
                ctx.runtime,
                app,
                desired.revision,
                plan,
                trigger=trigger,
                started=now,
                on_write=on_write,
            )
    except asyncio.CancelledError:
        cancelled = operations.Operation(
            app=state.name,
            revision=running.revision,
            trigger=trigger,
            started_at=now,
            finished_at=ctx.clock(),
            phase=operations.OperationPhase.FAILED,
            message="superseded by a newer revision",
            reason="Superseded",
            fence=running.fence,
        )
        # Recorded by whoever stopped it (another replica's recovery) or not: the
        # cancellation goes on either way.
        with contextlib.suppress(errors.GitwardError):
            await asyncio.shield(ctx.store.finish_operation(op_id, cancelled))
        raise
    if running.fence:
        report = dataclasses.replace(
            report, operation=dataclasses.replace(report.operation, fence=running.fence)
        )
    await ctx.store.finish_operation(op_id, report.operation)
    if dry_run:
        return report
    ctx.metrics.synced(state.name, report.operation.phase is operations.OperationPhase.SUCCEEDED)
    await _record_outcome(ctx, state, report.operation)
    return report


async def _record_outcome(
    ctx: context.Context, state: states.AppState, op: operations.Operation
) -> None:
    now = ctx.clock()
    if op.phase is operations.OperationPhase.SUCCEEDED:
        state.failures, state.failed_revision = 0, ""
        state.synced_revision = op.revision.sha
        state.synced_this_run = op.revision.sha
        state.sync = status.SyncStatus.SYNCED
        state.set_condition(states.RECONCILED, True, "Succeeded", op.message, now)
        await ctx.event(
            state.name, "Normal", transitions.SYNC_SUCCEEDED, op.message, op.revision.sha
        )
        return
    state.failures += 1
    state.failed_revision = op.revision.sha
    state.set_condition(states.RECONCILED, False, op.reason or "SyncFailed", op.message, now)
    # One reason for every failed sync, so alerts and commit statuses can select
    # it; the stage that failed leads the message (and stays in the condition).
    reason = op.reason or transitions.SYNC_FAILED
    message = op.message if reason == transitions.SYNC_FAILED else f"{reason}: {op.message}"
    await ctx.event(state.name, "Warning", transitions.SYNC_FAILED, message, op.revision.sha)
    schedule_retry(ctx, state)


def may_retry(state: states.AppState) -> bool:
    """Whether an automated sync may run now: retries left for this revision."""
    if state.failures == 0 or state.failed_revision != state.revision:
        return True
    return state.failures <= state.app.spec.sync_policy.retry.limit


def schedule_retry(ctx: context.Context, state: states.AppState) -> None:
    retry = state.app.spec.sync_policy.retry
    delay = decisions.retry_delay(retry, state.failures)
    if delay is not None:
        ctx.queue.add(state.name, f"retry {state.failures}/{retry.limit}", delay=delay)
