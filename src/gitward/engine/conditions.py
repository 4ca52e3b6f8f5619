"""How a reconcile's findings become an Application's status: conditions,
health, drift and the events that go with them.

``engine.workers`` calls these while reconciling; each updates the
:class:`~gitward.engine.states.AppState` in place (saving is the caller's).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from gitward import errors
from gitward.engine import (
    attempts,
    context,
    drifts,
    metrics,
    queueing,
    reconciling,
    states,
    transitions,
    waiting,
)
from gitward.health import assessing
from gitward.model import plans, resources, status


async def stage_failed(
    ctx: context.Context, state: states.AppState, exc: errors.GitwardError, now: datetime
) -> None:
    """A stage before the sync failed: one named reason, an event, a retry.

    Status never claims a revision it did not apply: Synced survives only
    when the failed reconcile was about the revision already applied, and
    never when the target could not be read (nothing can be compared then).
    """
    state.set_condition(states.RECONCILED, False, exc.reason, str(exc), now)
    if isinstance(exc, errors.SourceUnavailable):
        state.set_condition(states.SOURCE_AVAILABLE, False, exc.reason, str(exc), now)
    unreachable = isinstance(exc, errors.TargetUnavailable)
    if unreachable:
        await target_unreachable(ctx, state, exc, now)
    if (
        unreachable
        or state.sync is not status.SyncStatus.SYNCED
        or state.revision != state.synced_revision
    ):
        state.sync = status.SyncStatus.UNKNOWN
    state.message = str(exc)
    await ctx.event(state.name, "Warning", exc.reason, str(exc), state.revision)
    state.failures += 1
    state.failed_revision = state.revision
    attempts.schedule_retry(ctx, state)
    await ctx.save(state)


async def target_unreachable(
    ctx: context.Context, state: states.AppState, exc: errors.GitwardError, now: datetime
) -> None:
    """The destination did not answer: a condition, and an event when it changes."""
    current = state.conditions.get(states.TARGET_REACHABLE)
    target = state.app.spec.destination.target
    state.set_condition(states.TARGET_REACHABLE, False, "TargetUnreachable", str(exc), now)
    if current is None or current.status:
        await ctx.event(
            state.name, "Warning", "TargetUnreachable", f"target {target} unreachable: {exc}"
        )


async def target_reached(ctx: context.Context, state: states.AppState, now: datetime) -> None:
    """The destination answered (a plan read it): an unreachable condition clears.
    (The condition appears the first time the target does not answer.)"""
    current = state.conditions.get(states.TARGET_REACHABLE)
    if current is None or current.status:
        return
    target = state.app.spec.destination.target
    state.set_condition(states.TARGET_REACHABLE, True, "Reachable", "", now)
    await ctx.event(state.name, "Normal", "TargetReachable", f"target {target} answers again")


def set_source_condition(
    state: states.AppState, desired: reconciling.Desired, now: datetime
) -> None:
    if desired.stale_source:
        state.set_condition(
            states.SOURCE_AVAILABLE,
            False,
            "SourceFailed",
            f"serving the last fetched commit: {desired.stale_source}",
            now,
        )
    else:
        state.set_condition(states.SOURCE_AVAILABLE, True, "Fetched", "", now)


def dependencies_ready(ctx: context.Context, state: states.AppState, now: datetime) -> bool:
    """Whether every Application ``state`` depends on is Synced and Healthy;
    says which are not in the ``DependenciesReady`` condition."""
    waiting_for = []
    for dep in state.app.spec.depends_on:
        other = ctx.apps.get(dep)
        if other is None:
            waiting_for.append(f"{dep} (not declared)")
        elif not other.ready():
            waiting_for.append(f"{dep} ({other.sync.value}/{other.health.status.value})")
    if waiting_for:
        state.set_condition(
            states.DEPENDENCIES_READY,
            False,
            "WaitingForDependencies",
            "waiting for " + ", ".join(waiting_for),
            now,
        )
        state.message = "waiting for " + ", ".join(waiting_for)
        return False
    if state.app.spec.depends_on:
        state.set_condition(states.DEPENDENCIES_READY, True, "DependenciesReady", "", now)
    if state.message.startswith("waiting for "):
        state.message = ""  # not a stale "waiting for ..." under Synced/Healthy
    return True


async def drift_detected(
    ctx: context.Context, state: states.AppState, plan: plans.Plan, now: datetime
) -> None:
    # Each drifted field names who set it (managedFields), so the event, its
    # notifications and the UI say "by kubectl (Update via scale) at 14:02".
    target = ctx.runtime.target(state.app.spec.destination.target)
    drifted = await drifts.attributed(target, plan)
    if state.drift_since is None or drifted != state.drifted:
        await ctx.event(
            state.name,
            "Warning",
            "DriftDetected",
            "live differs from Git: " + ", ".join(drifted[:20]),
        )
    state.drift_since = state.drift_since or now
    state.drifted = drifted


async def refresh_health(
    ctx: context.Context,
    state: states.AppState,
    *,
    known: Mapping[resources.ResourceKey, Mapping[str, Any]] | None = None,
    changed: Collection[resources.ResourceKey] | None = None,
) -> None:
    """Assess every managed object on the target; set health, the per-resource
    rows and the ``Ready`` condition; record what the change announces
    (``engine.transitions``: Deployed, HealthDegraded, HealthRecovered).
    ``known``: objects as a sync just wrote them, assessed without a read.
    ``changed``: only these objects' status moved (their watch events said
    so); the others keep the health last assessed at the same revision."""
    before = state.health.status
    await _assess_health(ctx, state, known, changed)
    for said in transitions.health(
        before,
        state.health,
        sync=state.sync,
        synced_revision=state.synced_revision,
        synced_this_run=state.synced_this_run,
        announced_revision=state.announced_revision,
    ):
        if said.reason == transitions.DEPLOYED:
            state.announced_revision = said.revision
        await ctx.event(state.name, said.type, said.reason, said.message, said.revision)


async def _assess_health(
    ctx: context.Context,
    state: states.AppState,
    known: Mapping[resources.ResourceKey, Mapping[str, Any]] | None,
    changed: Collection[resources.ResourceKey] | None = None,
) -> None:
    revision = state.synced_revision
    if not state.managed_keys:
        state.health = status.HealthResult(status.HealthStatus.HEALTHY)
        state.health_revision = revision
        state.resource_statuses = []
        return
    target = ctx.runtime.target(state.app.spec.destination.target)
    try:
        with ctx.metrics.stage(metrics.Stage.HEALTH):
            previous = {row.key: row.health for row in state.resource_statuses}
            if (
                changed is not None
                and state.health_revision == revision
                and state.managed_keys <= previous.keys()
            ):
                fresh = await waiting.assess(
                    target, sorted(state.managed_keys & set(changed)), known=known
                )
                health = {key: fresh.get(key, previous[key]) for key in state.managed_keys}
            else:
                health = await waiting.assess(target, sorted(state.managed_keys), known=known)
    except errors.GitwardError as exc:
        state.health = status.HealthResult(status.HealthStatus.UNKNOWN, str(exc))
        state.health_revision = revision
        return
    state.health = _timed(ctx.queue, state, assessing.app_health(health), ctx.clock())
    state.health_revision = revision
    state.resource_statuses = [
        status.ResourceStatus(
            key=key,
            sync=status.SyncStatus.OUT_OF_SYNC
            if key in state.out_of_sync
            else status.SyncStatus.SYNCED,
            health=result,
        )
        for key, result in sorted(health.items())
    ]
    ok = state.ready()
    state.set_condition(
        states.READY,
        ok,
        "Ready"
        if ok
        else (
            state.sync.value
            if state.sync is not status.SyncStatus.SYNCED
            else state.health.status.value
        ),
        state.health.message,
        ctx.clock(),
    )


def _timed(
    queue: queueing.WorkQueue,
    state: states.AppState,
    health: status.HealthResult,
    now: datetime,
) -> status.HealthResult:
    """Progressing for longer than ``syncPolicy.healthTimeout`` is Degraded,
    whether or not a sync is waiting for it (a rollout stuck after drift, a
    restart, a change made by someone else)."""
    if health.status is not status.HealthStatus.PROGRESSING:
        state.progressing_since = None
        return health
    state.progressing_since = state.progressing_since or now
    timeout = state.app.spec.sync_policy.health_timeout
    waited = (now - state.progressing_since).total_seconds()
    if waited < timeout:
        # Look again when the timeout is due, even if nothing changes meanwhile.
        queue.add(state.name, f"{queueing.HEALTH_REASON} (healthTimeout)", delay=timeout - waited)
        return health
    detail = f": {health.message}" if health.message else ""
    return status.HealthResult(
        status.HealthStatus.DEGRADED,
        f"still Progressing after healthTimeout ({timeout:g}s){detail}",
    )
