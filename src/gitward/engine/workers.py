"""Workers: take an Application from the queue, reconcile it, record the outcome.

``engine.loop`` starts ``workers`` copies of :meth:`Workers.run`. A reconcile
plans once and decides: apply (a new revision with automated sync, or drift
with selfHeal), report (OutOfSync, drift), or do nothing. Each failure sets
one named reason in the ``Reconciled`` condition and schedules a retry with
the Application's backoff; a new revision resets the retries and cancels a
sync still running for an older one (``Context.supersede``).

Only Applications this process owns are reconciled (``engine.ownership``);
one it comes to own while running first has its interrupted operations
recovered (``engine.recovery``).

Targets never hold each other up: one target has at most ``workers - 1``
reconciles in flight (so another target always finds a worker), and one
known to be unreachable (``engine.reachability``) at most one, which probes
it; the others wait in the queue, and the monitor queues them again when the
target answers. A generated Application in a rollout (``engine.gating``)
applies a new revision only when the gate lets it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import structlog

from gitward import errors
from gitward.engine import (
    attempts,
    conditions,
    context,
    fencing,
    gating,
    metrics,
    policies,
    queueing,
    reachability,
    reconciling,
    recovery,
    states,
    untouched,
)
from gitward.model import operations, plans, resources, status
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)

_DEPENDENCY_RECHECK = 5.0
# Reasons that only say "the repository has a new commit".
_COMMIT_REASONS = ("new commit", "webhook push")
_CRASH_RETRY = 10.0
# How long an Application waits for its target's share of workers to free up.
_TARGET_BUSY_RETRY = 0.5
_TARGET_DOWN_RETRY = 5.0


class Workers:
    def __init__(
        self,
        ctx: context.Context,
        *,
        on_write: attempts.OnWrite,
        on_planned: Callable[[states.AppState], None],
        watched: Callable[
            [Collection[resources.ResourceKey]], Mapping[resources.ResourceKey, Mapping[str, Any]]
        ]
        | None = None,
        gate: gating.Gate | None = None,
        monitor: reachability.Monitor | None = None,
    ) -> None:
        """``on_write(key, live)`` sees every object the sync writes, and
        ``on_planned(state)`` every Application whose managed objects are
        (re)computed (the watches follow them). ``watched(keys)`` hands over
        the objects as the watch events that queued a health refresh carried
        them (assessed without a read). ``gate`` holds rollouts back;
        ``monitor`` learns what reconciles find out about their targets."""
        self._ctx = ctx
        self._on_write = on_write
        self._on_planned = on_planned
        self._watched = watched
        self._gate = gate
        self._monitor = monitor
        self._in_flight: dict[str, int] = {}  # target -> reconciles running

    async def run(self) -> None:
        """One worker: take, reconcile, mark done; until the queue closes."""
        ctx = self._ctx
        while True:
            item = await ctx.queue.get(self._has_room, self._target_of)
            if item is None:
                return
            try:
                state = ctx.apps.get(item.app)
                if (
                    state is not None
                    and await self._owned(item.app)
                    and self._admitted(state, item.reasons)
                ):
                    await self._reconcile_target(state, item.reasons)
            except store_base.StoreUnavailable as exc:
                # Not this Application's fault: again when the store may answer.
                delay = ctx.store_health.failed(exc, f"reconciling {item.app}")
                ctx.queue.add(item.app, "retry: store unavailable", delay=delay)
            except Exception:  # a bug in one reconcile must not stop the worker
                _log.exception("reconcile crashed", app=item.app)
                ctx.queue.add(item.app, "retry after an internal error", delay=_CRASH_RETRY)
            finally:
                ctx.running.pop(item.app, None)
                ctx.queue.done(item.app)
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # Cancelled while the reconcile it awaited ended with an error of
                # its own: that error replaced the CancelledError; stop anyway.
                raise asyncio.CancelledError

    async def _owned(self, app: str) -> bool:
        ctx = self._ctx
        if not ctx.ownership.owns(app):
            ctx.owned.discard(app)
            return False
        if app not in ctx.owned:
            if not ctx.ownership.owns_everything:
                await recovery.take_over(ctx, app)
                if not ctx.ownership.owns(app):  # moved on while it was recovered
                    return False
            ctx.owned.add(app)
        return True

    def _target_of(self, app: str) -> str:
        """What :meth:`_has_room` decides by: the Application's target."""
        state = self._ctx.apps.get(app)
        return "" if state is None else state.app.spec.destination.target

    def _has_room(self, app: str) -> bool:
        """Whether ``app`` may be taken from the queue now: its target, when
        reachable, has fewer reconciles running than its share. A busy target's
        Applications stay queued in their order (each taken and put back half a
        second later, a cold start of 1,000 ran 7 reconciles per half second);
        an unreachable target's are taken, and wait in :meth:`_admitted`."""
        state = self._ctx.apps.get(app)
        if state is None:
            return True
        target = state.app.spec.destination.target
        row = self._monitor.get(target) if self._monitor is not None else None
        if row is not None and row.reachable is False:
            return True
        return self._in_flight.get(target, 0) < max(1, self._ctx.options.workers - 1)

    def _admitted(self, state: states.AppState, reasons: list[str]) -> bool:
        """Whether ``state``'s target has a worker to spare; if not, it waits
        in the queue with every reason it came with."""
        target = state.app.spec.destination.target
        row = self._monitor.get(target) if self._monitor is not None else None
        down = row is not None and row.reachable is False
        limit = 1 if down else max(1, self._ctx.options.workers - 1)
        if self._in_flight.get(target, 0) < limit:
            return True
        delay = _TARGET_DOWN_RETRY if down else _TARGET_BUSY_RETRY
        why = "unreachable" if down else "busy"
        for reason in reasons or [f"target {target} {why}"]:
            self._ctx.queue.add(state.name, reason, delay=delay)
        return False

    async def _reconcile_target(self, state: states.AppState, reasons: list[str]) -> None:
        target = state.app.spec.destination.target
        self._in_flight[target] = self._in_flight.get(target, 0) + 1
        try:
            await self._reconcile_task(state, reasons)
        finally:
            self._in_flight[target] -= 1
        if self._monitor is not None:
            reconciled = state.conditions.get(states.RECONCILED)
            if reconciled is not None and reconciled.reason == "TargetUnavailable":
                self._monitor.failed(target, reconciled.message)
            elif reconciled is not None and reconciled.status and state.synced_revision:
                self._monitor.succeeded(target)

    async def _reconcile_task(self, state: states.AppState, reasons: list[str]) -> None:
        # Its own task, so a newer revision can cancel it (Context.supersede)
        # without cancelling the worker.
        ctx = self._ctx
        # Every write the reconcile makes is fenced for this Application (replicas).
        with fencing.writing_for(state.name):
            task = asyncio.create_task(self.reconcile(state, reasons))
        ctx.running[state.name] = (task, "")
        try:
            await task
            reconciled = state.conditions.get(states.RECONCILED)
            ctx.metrics.reconciled(state.name, reconciled is None or reconciled.status)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                task.cancel()
                raise
            ctx.queue.add(state.name, "superseded by a newer revision")

    async def reconcile(self, state: states.AppState, reasons: list[str]) -> None:
        """Plan once; apply, report or do nothing; record status and events."""
        ctx = self._ctx
        now = ctx.clock()
        app = state.app
        state.reconciled_at = now
        if state.is_suspended:
            state.message = "suspended: not reconciled until resumed"
            await ctx.save(state)
            return
        if reasons and all(r.startswith(queueing.HEALTH_REASON) for r in reasons):
            changed = _status_moved(state, reasons)
            seen = self._watched(changed) if changed and self._watched is not None else None
            await conditions.refresh_health(ctx, state, changed=changed, known=seen)
            await ctx.save(state)
            return
        # Only a full reconcile resets the resync clock (health refreshes do not).
        ctx.last_full[state.name] = time.monotonic()
        if not conditions.dependencies_ready(ctx, state, now):
            await ctx.save(state)
            ctx.queue.add(state.name, "waiting for dependencies", delay=_DEPENDENCY_RECHECK)
            return
        desired = await self._desired(state)
        if desired is None:
            return
        state.previous_revision, state.revision = state.revision, desired.revision.sha
        conditions.set_source_condition(state, desired, now)
        if desired.revision.sha != state.failed_revision:
            state.failures = 0
        running = ctx.running.get(state.name)
        if running is not None:
            ctx.running[state.name] = (running[0], desired.revision.sha)
        rendered_from = untouched.basis(
            ctx, app, desired.revision.sha, desired.rendered.input_paths
        )
        if _unchanged_inputs(state, desired, reasons):
            # A commit elsewhere in the repository: the render's inputs are
            # byte-for-byte those already applied, so the desired state is
            # too. Live drift is seen by the watches and the resync interval.
            state.synced_revision = desired.revision.sha
            state.basis = rendered_from
            await ctx.save(state)
            return
        try:
            plan = await reconciling.plan(ctx.runtime, app, desired, project=ctx.project(app))
        except errors.GitwardError as exc:
            await conditions.stage_failed(ctx, state, exc, now)
            return
        await conditions.target_reached(ctx, state, now)
        state.message = ""  # a failure's or a wait's message is over once a plan is made
        state.input_digest = desired.rendered.input_digest
        state.basis = rendered_from
        state.managed_keys = frozenset(
            c.key for c in plan.changes if c.desired is not None and not c.hook
        )
        state.out_of_sync = frozenset(c.key for c in plan.changes if c.is_change and not c.hook)
        self._on_planned(state)
        new_revision = desired.revision.sha != state.synced_revision
        written: Mapping[resources.ResourceKey, Mapping[str, Any]] = {}
        if plan.in_sync:
            if state.drift_since is not None:
                await ctx.event(
                    state.name, "Normal", "DriftResolved", "live state equals Git again"
                )
            state.drift_since, state.drifted = None, ()
            state.sync = status.SyncStatus.SYNCED
            if new_revision and not plan.by_action(plans.Action.PRUNE):
                state.synced_revision = desired.revision.sha
            state.set_condition(states.RECONCILED, True, "Succeeded", "", now)
        else:
            state.sync = status.SyncStatus.OUT_OF_SYNC
            drift = not new_revision
            if drift:
                await conditions.drift_detected(ctx, state, plan, now)
            policy = app.spec.sync_policy
            self_heal = bool(policy.automated and policy.automated.self_heal)
            held = ""
            if new_revision and self._gate is not None:
                held = await self._gate.holds(state)
            if held and state.automated:
                state.set_condition(states.RECONCILED, True, gating.WAITING_REASON, held, now)
                state.message = held
            elif state.automated and (new_revision or self_heal) and attempts.may_retry(state):
                report = await attempts.sync_recorded(
                    ctx,
                    state,
                    trigger=_trigger(reasons, drift),
                    plan=plan,
                    desired=desired,
                    on_write=self._on_write,
                )
                if report.operation.phase is operations.OperationPhase.SUCCEEDED:
                    if drift:
                        ctx.metrics.drift(state.name, metrics.DriftKind.CORRECTED)
                        await ctx.event(
                            state.name,
                            "Normal",
                            "DriftCorrected",
                            "live state set back to Git: " + ", ".join(state.drifted),
                        )
                    state.drift_since, state.drifted = None, ()
                    state.out_of_sync = frozenset()
                written = _still_as_written(plan, report.outcome.written)
            else:
                state.set_condition(
                    states.RECONCILED,
                    True,
                    "OutOfSync",
                    "automated sync is off" if not state.automated else "waiting for retry",
                    now,
                )
        await conditions.refresh_health(ctx, state, known=written)
        await ctx.save(state)

    async def _desired(self, state: states.AppState) -> reconciling.Desired | None:
        """The desired state at the Application's ref (or pin); None when a
        stage failed (recorded). An unverified commit is never applied: the
        last verified one stays applied (and self-healed) meanwhile."""
        ctx = self._ctx
        app = state.app
        now = ctx.clock()
        try:
            project = ctx.project(app)
            policies.check_application(app, project)
            desired = await reconciling.desired_state(
                ctx.runtime,
                app,
                revision=state.pinned_revision,
                max_age=ctx.options.poll_interval,
                project=project,
            )
        except errors.SignatureError as exc:
            state.set_condition(states.SOURCE_VERIFIED, False, exc.reason, str(exc), now)
            if not state.synced_revision:
                await conditions.stage_failed(ctx, state, exc, now)
                return None
            await ctx.event(state.name, "Warning", exc.reason, str(exc))
            try:
                return await reconciling.desired_state(
                    ctx.runtime,
                    app,
                    revision=state.synced_revision,
                    project=project,
                    max_age=ctx.options.poll_interval,
                )
            except errors.GitwardError as again:
                await conditions.stage_failed(ctx, state, again, now)
                return None
        except errors.GitwardError as exc:
            await conditions.stage_failed(ctx, state, exc, now)
            return None
        if reconciling.signature_key_ref(app, project):
            state.set_condition(
                states.SOURCE_VERIFIED,
                True,
                "Verified",
                f"commit {desired.revision.sha[:12]} signature verified",
                now,
            )
        return desired


def _unchanged_inputs(
    state: states.AppState, desired: reconciling.Desired, reasons: list[str]
) -> bool:
    return (
        bool(reasons)
        and all(r.startswith(_COMMIT_REASONS) for r in reasons)
        and state.sync is status.SyncStatus.SYNCED
        and state.synced_revision == state.previous_revision
        and bool(state.input_digest)
        and desired.rendered.input_digest == state.input_digest
    )


def _status_moved(
    state: states.AppState, reasons: list[str]
) -> frozenset[resources.ResourceKey] | None:
    """The objects whose watch events queued a health refresh (each reason names
    one); None when only the healthTimeout timer queued it: all are read.

    The timer's reason rides along with any later one (an Application still
    Progressing has one armed); it asks for nothing the named objects' refresh
    does not do: every other object keeps the health last assessed at this
    revision (a change to it would have sent an event), and the refresh re-arms
    the timer while the Application is still Progressing."""
    named = {f"{queueing.HEALTH_REASON} {key}": key for key in state.managed_keys}
    keys = [named.get(reason) for reason in reasons]
    if any(key is None for key in keys) and not any(keys):
        return None
    return frozenset(key for key in keys if key is not None)


def _trigger(reasons: list[str], drift: bool) -> str:
    if drift:
        return "self-heal: " + (reasons[0] if reasons else "drift")
    return "auto-sync: " + (reasons[0] if reasons else "new revision")


def _still_as_written(
    plan: plans.Plan, written: Mapping[resources.ResourceKey, Mapping[str, Any]]
) -> Mapping[resources.ResourceKey, Mapping[str, Any]]:
    """The objects as the sync's applies returned them, for the health read that
    follows the sync: as current as a read would be when the sync was one step
    (one wave, no hook). A later wave is applied after waiting for the earlier
    ones to turn healthy, and hooks run after the applies: then every object
    is read again."""
    waves = {change.wave for change in plan.changes}
    if len(waves) > 1 or any(change.hook for change in plan.changes):
        return {}
    return written
