"""Rolling sync in the running agent: the gate workers ask before applying a new revision.

For every ApplicationSet with ``strategy.rollingSync``, :class:`Gate` gathers
where its generated Applications stand and asks ``engine.rollouts`` what may
move. Each member's *desired* revision is resolved afresh from the local
mirror for every decision (no network: the poll or webhook already fetched),
so a production Application reconciled before staging has seen a new commit
still finds staging pending, never "done at the old revision".

Workers call :meth:`Gate.holds` before an automated sync of a new revision.
The gate subscribes to status changes: when a member turns Synced and Healthy
(or fails, or a person promotes), it re-assesses the set and queues the
members that may now move, so the next step starts without waiting for a poll.
A paused or promoted rollout is kept in the store (``RolloutControl``) and
survives restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import structlog

from gitward import errors
from gitward.config import appsets
from gitward.engine import context, rollouts, states
from gitward.model import status
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)
WAITING_REASON = "RolloutWaiting"


@dataclass(frozen=True, slots=True)
class Assessment:
    name: str
    appset: appsets.ApplicationSet
    rollout: rollouts.Rollout
    control: store_base.RolloutControl

    def as_dict(self) -> dict[str, object]:
        steps = self.appset.spec.strategy.rolling_sync
        selectors = [_selector(step) for step in steps.steps] if steps else []
        return {
            "name": self.name,
            "phase": self.rollout.phase.value,
            "currentStep": self.rollout.current_step,
            "paused": self.control.paused,
            "promotedThrough": self.control.promoted_through,
            "broken": list(self.rollout.broken),
            "steps": [
                {
                    "index": step.index,
                    "selector": selectors[step.index] if step.index < len(selectors) else "",
                    "open": step.open,
                    "apps": list(step.apps),
                    "done": list(step.done),
                    "waiting": list(step.waiting),
                    "broken": list(step.broken),
                }
                for step in self.rollout.steps
                if step.apps or step.index < len(selectors)
            ],
        }


class Gate:
    """Rollout decisions for the workers, the API and the CLI (see module doc)."""

    def __init__(self, ctx: context.Context) -> None:
        self._ctx = ctx
        self._controls: dict[str, store_base.RolloutControl] = {}
        self._phases: dict[str, rollouts.Phase] = {}
        self._pending: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()

    async def start(self) -> None:
        for control in await self._ctx.store.list_rollout_controls():
            self._controls[control.name] = control
        self._ctx.subscribe(self._changed)
        self._task = asyncio.create_task(self._run(), name="rollouts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def set_of(self, app: str) -> str:
        """The ApplicationSet with a rollout strategy that generated ``app``, or ''."""
        catalog = self._ctx.catalog
        if catalog is None:
            return ""
        declared = catalog.apps.get(app)
        if declared is None or not declared.owner:
            return ""
        owner = catalog.appsets.get(declared.owner)
        if owner is None or owner.appset.spec.strategy.rolling_sync is None:
            return ""
        return str(declared.owner)

    async def holds(self, state: states.AppState) -> str:
        """Why ``state`` may not apply its new revision now ('' when it may)."""
        name = self.set_of(state.name)
        if not name:
            return ""
        found = await self.assess(name)
        if found is None or found.rollout.allows(state.name):
            return ""
        if found.control.paused:
            return f"rollout of ApplicationSet {name!r} is paused"
        for step in found.rollout.steps:
            if state.name in step.apps:
                blocking = [
                    s.index + 1 for s in found.rollout.steps if s.index < step.index and s.apps
                ]
                if not step.open and blocking:
                    return (
                        f"ApplicationSet {name!r}: waiting for step "
                        f"{max(blocking)} to be Synced and Healthy"
                    )
                return f"ApplicationSet {name!r}: step {step.index + 1} is at its maxUpdate"
        return f"ApplicationSet {name!r}: not in any step"

    async def assess(self, name: str) -> Assessment | None:
        """Where the rollout of set ``name`` stands; None when it has no strategy."""
        catalog = self._ctx.catalog
        declared = catalog.appsets.get(name) if catalog is not None else None
        if declared is None:
            raise errors.ConfigError(f"ApplicationSet {name!r} is not declared")
        strategy = declared.appset.spec.strategy.rolling_sync
        steps = strategy.steps if strategy is not None else ()
        members = await self._members(name)
        control = self._controls.get(name) or store_base.RolloutControl(name)
        rollout = rollouts.assess(
            steps, members, paused=control.paused, promoted_through=control.promoted_through
        )
        if rollout.phase is rollouts.Phase.COMPLETED and control.promoted_through >= 0:
            control = store_base.RolloutControl(name, paused=control.paused)
            await self._save(control)
        return Assessment(name, declared.appset, rollout, control)

    async def pause(self, name: str, paused: bool) -> Assessment | None:
        found = await self.assess(name)
        assert found is not None
        control = store_base.RolloutControl(
            name, paused=paused, promoted_through=found.control.promoted_through
        )
        await self._save(control)
        await self._ctx.event(
            "",
            "Normal",
            "RolloutPaused" if paused else "RolloutResumed",
            f"ApplicationSet {name!r}: rollout {'paused' if paused else 'resumed'}",
        )
        self._wake(name)
        return await self.assess(name)

    async def promote(self, name: str) -> Assessment | None:
        found = await self.assess(name)
        assert found is not None
        through = max(found.control.promoted_through, found.rollout.current_step + 1)
        await self._save(
            store_base.RolloutControl(name, paused=found.control.paused, promoted_through=through)
        )
        await self._ctx.event(
            "", "Normal", "RolloutPromoted", f"ApplicationSet {name!r}: step {through + 1} opened"
        )
        self._wake(name)
        return await self.assess(name)

    async def _save(self, control: store_base.RolloutControl) -> None:
        self._controls[control.name] = control
        await self._ctx.store.save_rollout_control(control)

    async def _members(self, name: str) -> list[rollouts.Member]:
        ctx = self._ctx
        catalog = ctx.catalog
        assert catalog is not None
        members = []
        resolved: dict[tuple[str, str], str] = {}  # members usually share one repo and ref
        for app_name, declared in catalog.apps.items():
            if declared.owner != name:
                continue
            state = ctx.apps.get(app_name)
            if state is None:
                continue
            members.append(
                rollouts.Member(
                    name=app_name,
                    labels=dict(declared.app.metadata.labels),
                    desired_revision=await self._desired(state, resolved),
                    synced_revision=state.synced_revision,
                    sync=state.sync,
                    health=member_health(state),
                    failed=bool(state.failures) and state.failed_revision == state.revision,
                )
            )
        return members

    async def _desired(self, state: states.AppState, resolved: dict[tuple[str, str], str]) -> str:
        if state.pinned_revision:
            return state.pinned_revision
        source = state.app.spec.source
        key = (source.repo_url, source.ref)
        if key not in resolved:
            try:
                revision = await self._ctx.runtime.sources.resolve(
                    self._ctx.runtime.repo(source.repo_url), source.ref
                )
            except errors.GitwardError:
                return state.revision
            resolved[key] = str(revision.sha)
        return resolved[key]

    def _changed(self, app: str) -> None:
        name = self.set_of(app)
        if name:
            self._wake(name)

    def _wake(self, name: str) -> None:
        self._pending.add(name)
        self._wakeup.set()

    async def _run(self) -> None:
        """Re-assess sets whose members changed; queue who may move; say when a
        rollout fails or completes."""
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            names, self._pending = self._pending, set()
            for name in sorted(names):
                try:
                    await self._advance(name)
                except errors.GitwardError as exc:
                    _log.warning("rollout assessment failed", appset=name, error=str(exc))

    async def _advance(self, name: str) -> None:
        found = await self.assess(name)
        if found is None:
            return
        rollout = found.rollout
        for app in sorted(rollout.allowed):
            state = self._ctx.apps.get(app)
            if state is not None and _held(state):
                self._ctx.queue.add(app, f"rollout of {name}: step open")
        before = self._phases.get(name)
        self._phases[name] = rollout.phase
        if before is not None and before != rollout.phase:
            if rollout.phase is rollouts.Phase.FAILED:
                # On each failed Application, so alerts routed by Application see it.
                for broken in rollout.broken:
                    await self._ctx.event(
                        broken,
                        "Warning",
                        "RolloutFailed",
                        f"ApplicationSet {name!r}: rollout stopped at step "
                        f"{rollout.current_step + 1}: {', '.join(rollout.broken)} failed",
                    )
            elif rollout.phase is rollouts.Phase.COMPLETED:
                await self._ctx.event(
                    "", "Normal", "RolloutCompleted", f"ApplicationSet {name!r}: every step done"
                )


def member_health(state: states.AppState) -> status.HealthStatus:
    # A sync that just ended leaves the previous revision's health in place
    # until its objects are assessed again: never judge a step by it (a failing
    # staging looked Healthy for that moment and opened production).
    if state.health_revision != state.synced_revision:
        return status.HealthStatus.UNKNOWN
    return state.health.status


def _held(state: states.AppState) -> bool:
    # Only what the gate itself held back: an Application waiting for a retry
    # keeps its backoff (queueing it here would bypass it).
    reconciled = state.conditions.get(states.RECONCILED)
    return reconciled is not None and reconciled.reason == WAITING_REASON


def _selector(step: appsets.RolloutStep) -> str:
    parts = [f"{key}={value}" for key, value in sorted(step.match_labels.items())]
    parts += [
        f"{req.key} {req.operator} {','.join(req.values)}".strip() for req in step.match_expressions
    ]
    return ", ".join(parts)
