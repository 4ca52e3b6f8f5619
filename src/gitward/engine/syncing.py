"""Carrying out a Plan on a Target: hooks, waves, apply, prune, health.

``engine.reconciling`` builds the Plan; this module executes it and returns the
per-resource results. The order follows the Plan (phase, wave, kind) with
three rules that keep a sync safe:

* a wave is applied completely, then, when a later wave exists, gitward waits
  for its resources to be healthy (Argo CD's wave semantics);
* the first wave with a failed resource ends the sync: later waves, pruning
  and PostSync hooks do not run (SyncFail hooks do);
* prune runs only after every apply succeeded, and only when allowed.

What each object asks through its annotations (gitward's, Argo CD's, Helm's,
Flux's; read by ``model.directives``) is honoured here: hooks with only
``generateName`` are created (POST) once per run and named by the server;
``BeforeHookCreation`` removes the previous run first (for a generated hook,
every earlier run the Application's tracking id finds), ``HookSucceeded`` /
``HookFailed`` remove the run after it finished; ``Replace=true`` replaces the
whole object; Flux's ``ssa: Merge`` is server-side apply as always (fields
other managers added are never removed); ``CreateNamespace=true`` (on an
object, or ``syncPolicy.createNamespace``) creates missing namespaces first.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitward import errors
from gitward.engine import waiting
from gitward.model import directives, operations, plans, resources, status
from gitward.targets import base as targets

# Kinds applied before anything else in the same wave: the rest of the wave
# needs them to exist (namespaced objects need their Namespace, custom
# objects need their CRD served).
_FIRST_TIER = frozenset({("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")})


@dataclass(frozen=True, slots=True)
class SyncOptions:
    prune: bool = False
    dry_run: bool = False
    force: bool = False
    # Field managers (globs) whose conflicting fields are taken over with a
    # forced apply: the ones people use to change objects by hand.
    take_over_from: tuple[str, ...] = ()
    # Wait for health between waves and before PostSync hooks; after the last
    # wave, wait only when ``wait`` is set.
    wait: bool = False
    health_timeout: float = 300.0
    concurrency: int = 8
    # Create the destination namespace (and those objects name) when missing
    # (``syncPolicy.createNamespace``; Argo CD's CreateNamespace=true).
    create_namespace: bool = False
    destination_namespace: str = ""
    # The Application: generated hooks' earlier runs are found by its tracking id.
    app: str = ""
    # After a sync that did not wait, read the health of every object once, so
    # a one-shot sync can say what is still Progressing (an Ingress without a
    # controller) instead of staying silent about it.
    assess_after: bool = False
    # The objects as the plan read them: ``assess_after`` assesses those the
    # sync did not write from these instead of reading them again.
    live: Mapping[resources.ResourceKey, Mapping[str, Any]] = field(default_factory=dict)
    # Called with each object as the target returned it after an apply, as it
    # happens (the agent recognises the watch events of its own writes).
    on_write: Callable[[resources.ResourceKey, Mapping[str, Any]], None] | None = None


@dataclass(slots=True)
class SyncOutcome:
    """Results of one sync, in the order things happened."""

    results: list[operations.ResourceResult] = field(default_factory=list)
    health: dict[resources.ResourceKey, status.HealthResult] = field(default_factory=dict)
    failed: bool = False
    message: str = ""
    reason: str = ""
    # The objects as the target returned them after each apply: the agent
    # recognises the watch events its own writes cause.
    written: dict[resources.ResourceKey, Mapping[str, Any]] = field(default_factory=dict)

    def fail(self, message: str, reason: str) -> None:
        if not self.failed:
            self.failed, self.message, self.reason = True, message, reason


async def execute(
    plan: plans.Plan,
    target: targets.Target,
    options: SyncOptions,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> SyncOutcome:
    """Carry out ``plan`` on ``target``; never raises for a resource failure
    (it is recorded in the outcome); raises only for cancellation."""
    outcome = SyncOutcome()
    run = _Run(plan, target, options, outcome, clock)
    if not options.dry_run:
        await run.create_namespaces()
    if not outcome.failed:
        await run.phase(plans.Phase.PRE_SYNC)
    if not outcome.failed:
        await run.sync_phase()
    if not outcome.failed:
        await run.prune()
    if not outcome.failed and not options.dry_run:
        has_post = any(c.phase is plans.Phase.POST_SYNC for c in plan.changes)
        if options.wait or has_post:
            await run.wait_all()
    if not outcome.failed:
        await run.phase(plans.Phase.POST_SYNC)
    if outcome.failed and not options.dry_run:
        await run.phase(plans.Phase.SYNC_FAIL, ignore_failure=True)
    if options.assess_after and not options.dry_run:
        await run.assess_rest()
    return outcome


class _Run:
    def __init__(
        self,
        plan: plans.Plan,
        target: targets.Target,
        options: SyncOptions,
        outcome: SyncOutcome,
        clock: Callable[[], float],
    ) -> None:
        self.plan, self.target, self.options, self.outcome = plan, target, options, outcome
        self.clock = clock
        self.applied: list[resources.ResourceKey] = []
        self.limit = asyncio.Semaphore(options.concurrency)

    # --- Sync phase: waves of ordinary resources (and Sync hooks) -------------

    async def sync_phase(self) -> None:
        # Rows without a declared object (prune-disabled leftovers) are not
        # part of any wave: recording them must not wait on a wave's health.
        leftovers = [
            c
            for c in self.plan.changes
            if c.phase is plans.Phase.SYNC
            and c.action is not plans.Action.PRUNE
            and c.desired is None
        ]
        for change in leftovers:
            self._record(change, operations.ResultCode.SKIPPED, change.reason)
        changes = [
            c
            for c in self.plan.changes
            if c.phase is plans.Phase.SYNC
            and c.action is not plans.Action.PRUNE
            and c.desired is not None
        ]
        waves = [list(group) for _, group in itertools.groupby(changes, key=lambda c: c.wave)]
        for index, wave in enumerate(waves):
            await self._apply_wave(wave)
            if self.outcome.failed:
                return
            is_last = index == len(waves) - 1
            if not is_last and not self.options.dry_run:
                keys = [
                    c.key
                    for c in wave
                    if c.desired is not None and not c.hook and c.action is not plans.Action.SKIP
                ]
                await self._wait(keys, f"wave {wave[0].wave}")
                if self.outcome.failed:
                    return

    async def _apply_wave(self, wave: Sequence[plans.Change]) -> None:
        first = [c for c in wave if (c.key.group, c.key.kind) in _FIRST_TIER]
        rest = [c for c in wave if (c.key.group, c.key.kind) not in _FIRST_TIER]
        for tier in (first, rest):
            start = len(self.outcome.results)
            await asyncio.gather(*(self._apply(c) for c in tier))
            self._in_plan_order(start, tier)
            if any(r.code is operations.ResultCode.FAILED for r in self.outcome.results):
                self.outcome.fail(
                    self._failure_summary(), self._first_failure_reason() or "ApplyFailed"
                )
                return

    def _in_plan_order(self, start: int, tier: Sequence[plans.Change]) -> None:
        """Put the results a concurrent tier recorded from ``start`` on back in
        the Plan's order: they finish in any order, the report reads as planned."""
        rank = {c.key: index for index, c in enumerate(tier)}
        done = self.outcome.results[start:]
        done.sort(key=lambda r: rank.get(r.key, len(rank)))
        self.outcome.results[start:] = done

    async def _apply(self, change: plans.Change) -> None:
        if change.action is plans.Action.SKIP:
            self._record(change, operations.ResultCode.SKIPPED, change.reason)
            return
        if change.action is plans.Action.UNCHANGED or change.desired is None:
            self._record(change, operations.ResultCode.UNCHANGED, "")
            return
        if change.hook:
            await self._run_hook(change)
            return
        async with self.limit:
            try:
                if self.options.dry_run:
                    await self.target.dry_run(change.desired, force=self.options.force)
                    code = (
                        operations.ResultCode.CREATED
                        if change.action is plans.Action.CREATE
                        else operations.ResultCode.CONFIGURED
                    )
                    self._record(change, code, "dry run")
                    return
                mode = directives.options(change.desired.annotations).mode
                taken_from: tuple[str, ...] = ()
                if mode is directives.ApplyMode.REPLACE:
                    result = await self.target.replace(change.desired)
                else:
                    result, taken_from = await self._apply_taking_over(
                        change.desired, seen_version=change.live_resource_version
                    )
            except errors.GitwardError as exc:
                self._record(change, operations.ResultCode.FAILED, str(exc), exc.reason)
                return
        self.applied.append(change.key)
        self.outcome.written[change.key] = result.live
        if self.options.on_write is not None:
            self.options.on_write(change.key, result.live)
        code = {
            targets.ApplyOutcome.CREATED: operations.ResultCode.CREATED,
            targets.ApplyOutcome.CONFIGURED: operations.ResultCode.CONFIGURED,
            targets.ApplyOutcome.UNCHANGED: operations.ResultCode.UNCHANGED,
        }[result.outcome]
        took = f"took over fields from {', '.join(taken_from)}" if taken_from else ""
        self._record(change, code, "; ".join(n for n in (took, result.message) if n))

    async def _apply_taking_over(
        self, manifest: resources.Manifest, *, seen_version: str
    ) -> tuple[targets.ApplyResult, tuple[str, ...]]:
        """Apply; on a conflict with managers people use by hand, apply again
        with force (that is drift correction) and say whose fields were taken.
        ``seen_version``: the resourceVersion the Plan saw ("" for absent)."""
        try:
            result = await self.target.apply(
                manifest, force=self.options.force, seen_version=seen_version
            )
            return result, ()
        except errors.ApplyConflict as exc:
            managers = tuple(sorted(set(exc.managers)))
            if not managers or not all(self._may_take_over(m) for m in managers):
                raise
        return await self.target.apply(manifest, force=True, seen_version=seen_version), managers

    def _may_take_over(self, manager: str) -> bool:
        return any(fnmatch.fnmatchcase(manager, pattern) for pattern in self.options.take_over_from)

    # --- hooks ------------------------------------------------------------------

    async def phase(self, phase: plans.Phase, *, ignore_failure: bool = False) -> None:
        hooks = [c for c in self.plan.changes if c.phase is phase and c.hook]
        for wave_changes in (list(g) for _, g in itertools.groupby(hooks, key=lambda c: c.wave)):
            for change in wave_changes:
                await self._run_hook(change)
            if self.outcome.failed and not ignore_failure:
                return

    async def _run_hook(self, change: plans.Change) -> None:
        manifest = change.desired
        if manifest is None:
            return
        if self.options.dry_run:
            self._record(change, operations.ResultCode.SKIPPED, "hook not run in a dry run")
            return
        policies = directives.delete_policies(manifest.annotations)
        key = change.key
        try:
            if directives.BEFORE_HOOK_CREATION in policies:
                await self._remove_earlier_runs(change.key)
            if change.key.generated:
                key = (await self.target.create(manifest)).key
            else:
                await self.target.apply(manifest, force=True)
            health = await self._wait_hook(key)
        except errors.GitwardError as exc:
            self._record(change, operations.ResultCode.FAILED, str(exc), exc.reason, key=key)
            self.outcome.fail(f"{change.phase.value} hook {key} failed: {exc}", exc.reason)
            return
        succeeded = health.status is status.HealthStatus.HEALTHY
        deleted = ""
        if (succeeded and directives.HOOK_SUCCEEDED in policies) or (
            not succeeded and directives.HOOK_FAILED in policies
        ):
            await self.target.delete(key)
            deleted = ", deleted (HookSucceeded)" if succeeded else ", deleted (HookFailed)"
        if succeeded:
            self._record(change, operations.ResultCode.CREATED, f"hook succeeded{deleted}", key=key)
        else:
            message = f"hook failed: {health.message or health.status.value}{deleted}"
            self._record(change, operations.ResultCode.FAILED, message, "HookFailed", key=key)
            self.outcome.fail(f"{change.phase.value} hook {key} {message}", "HookFailed")

    async def _remove_earlier_runs(self, key: resources.ResourceKey) -> None:
        """BeforeHookCreation: the object of the previous run goes first; for a
        generated hook, every earlier run this Application's tracking id finds."""
        if not key.generated:
            await self._delete_and_wait_gone(key)
            return
        for obj in await self.target.hook_runs(self.options.app, key):
            await self._delete_and_wait_gone(resources.ResourceKey.of(obj))

    async def _delete_and_wait_gone(self, key: resources.ResourceKey) -> None:
        if not await self.target.delete(key):
            return
        deadline = self.clock() + self.options.health_timeout
        while (await self.target.read([key])).get(key) is not None:
            if self.clock() >= deadline:
                raise errors.HealthTimeout(f"previous run of hook {key} is still being deleted")
            await asyncio.sleep(0.2)

    # --- namespaces ----------------------------------------------------------------

    async def create_namespaces(self) -> None:
        """CreateNamespace: the namespaces the plan writes into that do not exist
        yet are created (not tracked, so never pruned, as in Argo CD)."""
        declared = {
            c.key.name for c in self.plan.changes if (c.key.group, c.key.kind) == ("", "Namespace")
        }
        wanted: set[str] = set()
        if self.options.create_namespace and self.options.destination_namespace:
            wanted.add(self.options.destination_namespace)
        for change in self.plan.changes:
            if change.desired is None or not change.key.namespace:
                continue
            opts = directives.options(change.desired.annotations)
            if self.options.create_namespace or opts.create_namespace:
                wanted.add(change.key.namespace)
        wanted -= declared
        if not wanted:
            return
        keys = [resources.ResourceKey("", "Namespace", "", name) for name in sorted(wanted)]
        live = await self.target.read(keys)
        for key in keys:
            if live.get(key) is not None:
                continue
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": key.name}}
            manifest = resources.Manifest.from_body(body, source="CreateNamespace")
            try:
                await self.target.create(manifest)
            except errors.GitwardError as exc:
                self.outcome.fail(f"creating namespace {key.name} failed: {exc}", exc.reason)
                return
            self.outcome.results.append(
                operations.ResourceResult(
                    key=key,
                    action=plans.Action.CREATE,
                    code=operations.ResultCode.CREATED,
                    message="CreateNamespace",
                    phase=plans.Phase.PRE_SYNC,
                )
            )

    async def _wait_hook(self, key: resources.ResourceKey) -> status.HealthResult:
        """Wait until the hook finished: Healthy (succeeded) or Degraded (failed)."""
        deadline = self.clock() + self.options.health_timeout
        while True:
            result = (await waiting.assess(self.target, [key]))[key]
            if result.status in (status.HealthStatus.HEALTHY, status.HealthStatus.DEGRADED):
                return result
            if self.clock() >= deadline:
                raise errors.HealthTimeout(
                    f"hook {key} did not finish within {self.options.health_timeout:g}s"
                )
            await asyncio.sleep(0.2)

    # --- prune and health -----------------------------------------------------------

    async def prune(self) -> None:
        prunes = self.plan.by_action(plans.Action.PRUNE)
        for change in prunes:
            if not self.options.prune:
                self._record(change, operations.ResultCode.SKIPPED, "prune not enabled")
                continue
            if self.options.dry_run:
                self._record(change, operations.ResultCode.PRUNED, "dry run")
                continue
            try:
                gone = await self.target.delete(change.key, uid=change.live_uid)
            except errors.GitwardError as exc:
                self._record(change, operations.ResultCode.FAILED, str(exc), "PruneFailed")
                self.outcome.fail(f"prune of {change.key} failed: {exc}", "PruneFailed")
                continue
            self._record(change, operations.ResultCode.PRUNED, "" if gone else "already deleted")

    async def wait_all(self) -> None:
        keys = [
            c.key
            for c in self.plan.changes
            if c.desired is not None and not c.hook and c.action is not plans.Action.SKIP
        ]
        await self._wait(keys, "sync")

    async def assess_rest(self) -> None:
        keys = [
            c.key
            for c in self.plan.changes
            if c.desired is not None
            and not c.hook
            and c.action is not plans.Action.SKIP
            and c.key not in self.outcome.health
        ]
        # What the applies returned, and the plan's reads of what they left
        # alone, are as current as a read would be, unless hooks ran after them.
        hooks = any(c.hook for c in self.plan.changes)
        known = {} if hooks else {**self.options.live, **self.outcome.written}
        if keys:
            self.outcome.health.update(await waiting.assess(self.target, keys, known=known))

    async def _wait(self, keys: Sequence[resources.ResourceKey], what: str) -> None:
        if not keys:
            return
        try:
            health = await waiting.until_healthy(
                self.target, keys, within=self.options.health_timeout, clock=self.clock
            )
        except errors.HealthTimeout as exc:
            self.outcome.fail(f"{what}: {exc}", exc.reason)
            self.outcome.health.update(await waiting.assess(self.target, keys))
            return
        self.outcome.health.update(health)

    # --- bookkeeping --------------------------------------------------------------

    def _record(
        self,
        change: plans.Change,
        code: operations.ResultCode,
        message: str,
        reason: str = "",
        *,
        key: resources.ResourceKey | None = None,
    ) -> None:
        self.outcome.results.append(
            operations.ResourceResult(
                key=key or change.key,
                action=change.action,
                code=code,
                message=message,
                reason=reason,
                phase=change.phase,
                wave=change.wave,
            )
        )

    def _failure_summary(self) -> str:
        failed = [r for r in self.outcome.results if r.code is operations.ResultCode.FAILED]
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"{first.key}: {first.message}{more}"

    def _first_failure_reason(self) -> str:
        for result in self.outcome.results:
            if result.code is operations.ResultCode.FAILED and result.reason:
                return result.reason
        return ""
