"""The reconcile sequence for one Application: source → render → plan → apply → health.

The stages know nothing of each other; this module composes them. The
one-shot CLI (``gitward render|diff|sync``) and the agent call the same
functions: :func:`desired_state`, :func:`plan` and :func:`sync`.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gitward import errors
from gitward.config import applications
from gitward.diff import base as diff_base
from gitward.diff import planning
from gitward.engine import (
    metrics,
    policies,
    projecting,
    runtimes,
    sourcing,
    substituting,
    syncing,
)
from gitward.model import operations, plans, resources
from gitward.render import base as render_base
from gitward.render import rendering
from gitward.targets import base as targets


class Governed(enum.Enum):
    """``project=LOOK_UP``: the caller did not decide which Project governs the
    Application, so :func:`gitward.engine.projecting.governing` does (reading the
    root's Projects; without a root only ``default`` passes). Callers holding a
    catalog (agent, API) pass the Project they looked up."""

    LOOK_UP = "look up"


LOOK_UP = Governed.LOOK_UP
ProjectChoice = applications.Project | None | Governed


async def _decided(
    runtime: runtimes.Runtime, app: applications.Application, project: ProjectChoice
) -> applications.Project | None:
    if isinstance(project, Governed):
        return await projecting.governing(runtime, app)
    return project


@dataclass(frozen=True, slots=True)
class Desired:
    """What Git declares for an Application at one revision."""

    revision: operations.Revision
    rendered: resources.Rendered
    # Set when the fetch failed and the last fetched commit was used: the
    # redacted reason, for a SourceFailed condition while still reconciling.
    stale_source: str = ""


@dataclass(frozen=True, slots=True)
class SyncReport:
    """A finished sync: the operation record, the plan it carried out, health."""

    operation: operations.Operation
    plan: plans.Plan
    outcome: syncing.SyncOutcome
    # The error that stopped the sync before anything was applied (source,
    # render or plan stage), kept so edges can tell "fix the input" from
    # "retry later".
    error: errors.GitwardError | None = None


async def desired_state(
    runtime: runtimes.Runtime,
    app: applications.Application,
    *,
    revision: str = "",
    max_age: float = 0.0,
    project: ProjectChoice = LOOK_UP,
) -> Desired:
    """Fetch the Application's repository, resolve its ref (or ``revision``), render.

    ``max_age``: reuse a fetch of the repository at most that many seconds old
    (the agent's pollers keep mirrors fresh; workers need not fetch again).
    The Application's own repository and destination are checked against its
    Project before anything is fetched.
    """
    project = await _decided(runtime, app, project)
    policies.check_application(app, project)
    resolved = await sourcing.resolve(
        runtime, app, revision=revision, max_age=max_age, project=project
    )
    decryption = (
        runtime.decryption(app.spec.decryption.key_ref, app.name)
        if app.spec.decryption is not None
        else None
    )
    variables = await substituting.variables(runtime, app)
    requests = [
        render_base.RenderRequest(
            tree=unit.tree,
            path=unit.path,
            app=app.name,
            namespace=app.spec.destination.namespace,
            options=unit.render.options(),
            limits=render_base.Limits(
                timeout_seconds=unit.render.timeout,
                max_memory_bytes=runtime.settings.render_memory_limit,
            ),
            decryption=decryption,
            variables=variables,
        )
        for unit in resolved.units
    ]
    with runtime.metrics.stage(metrics.Stage.RENDER):
        renders = [
            await asyncio.to_thread(
                rendering.render, request, unit.render.kind, kept=runtime.kept_renders
            )
            for request, unit in zip(requests, resolved.units, strict=True)
        ]
    rendered = renders[0] if len(renders) == 1 else rendering.combine(app.name, renders)
    # Before any target fills in namespaces, so `gitward render` reports it too.
    planning.check_duplicates(rendered.manifests)
    return Desired(revision=resolved.revision, rendered=rendered, stale_source=resolved.stale)


def signature_key_ref(app: applications.Application, project: applications.Project | None) -> str:
    """The signing keys the Application's commits must match ('' = no check).
    A Project's requirement cannot be lifted by its Applications."""
    if project is not None and project.spec.signature_key_ref:
        return project.spec.signature_key_ref
    return app.spec.source.verify.key_ref if app.spec.source.verify else ""


def plan_options(
    app: applications.Application, *, prune: bool | None = None
) -> diff_base.PlanOptions:
    policy = app.spec.sync_policy
    return diff_base.PlanOptions(
        prune=policy.prune_enabled if prune is None else prune,
        allow_empty=policy.allow_empty,
        ignore_differences=tuple(
            diff_base.IgnoreRule(
                group=rule.group,
                kind=rule.kind,
                name=rule.name,
                namespace=rule.namespace,
                json_pointers=tuple(rule.json_pointers),
                managed_fields_managers=tuple(rule.managed_fields_managers),
            )
            for rule in app.spec.ignore_differences
        ),
    )


async def plan(
    runtime: runtimes.Runtime,
    app: applications.Application,
    desired: Desired,
    *,
    prune: bool | None = None,
    project: ProjectChoice = LOOK_UP,
) -> plans.Plan:
    """Compare the desired state with the target's live state: the Plan.

    Every prepared manifest is checked against the Application's Project
    (:class:`gitward.errors.PolicyViolation` naming the first one outside it).

    Existing objects are compared through a server-side dry-run apply (with
    force, so the plan shows what gitward would make of each object even where
    another manager owns a field; the real apply reports such conflicts).
    """
    decided = await _decided(runtime, app, project)
    with runtime.metrics.stage(metrics.Stage.PLAN):
        the_plan, _ = await _plan(runtime, app, desired, prune=prune, project=decided)
    return the_plan


async def _plan(
    runtime: runtimes.Runtime,
    app: applications.Application,
    desired: Desired,
    *,
    prune: bool | None,
    project: applications.Project | None,
) -> tuple[plans.Plan, Mapping[resources.ResourceKey, Mapping[str, Any] | None]]:
    """The Plan, and the live objects it was made from."""
    target = runtime.target(app.spec.destination.target)
    prepared = await prepare(runtime, app, desired, project=project)
    # The inventory (a LIST per kind of the objects labelled as the
    # Application's) holds every object it already tracks: only the rest is
    # read (another LIST per kind, or a GET each), so a re-sync of an
    # unchanged Application lists each kind once. A generated hook
    # (metadata.generateName) has no live object to read.
    inventory = await target.inventory(app.name)
    tracked = {resources.ResourceKey.of(obj): obj for obj in inventory}
    wanted = [m.key for m in prepared if not m.key.generated]
    read = await target.read([key for key in wanted if key not in tracked])
    live = {key: tracked[key] if key in tracked else read.get(key) for key in dict.fromkeys(wanted)}
    options = plan_options(app, prune=prune)
    predicted, unchanged = await _dry_run_existing(
        target, prepared, live, options, runtime.concurrency
    )
    built = planning.build(
        app.name,
        desired.revision.sha,
        prepared,
        live,
        inventory,
        options,
        predicted=predicted,
        unchanged=unchanged,
    )
    return built, live


async def prepare(
    runtime: runtimes.Runtime,
    app: applications.Application,
    desired: Desired,
    *,
    project: applications.Project | None,
) -> list[resources.Manifest]:
    """The render made ready for the Application's target (kinds it serves,
    scopes, namespaces, tracking) and checked against the Project: what
    ``plan`` compares, and what ``gitward render`` checks when it can reach the
    target. Raises ApplyError (unknown kind), PlanError (an object declared
    twice) or PolicyViolation, each naming the object and its file."""
    target = runtime.target(app.spec.destination.target)
    policies.check_application(app, project)
    prepared = await target.prepare(
        desired.rendered.manifests, app=app.name, namespace=app.spec.destination.namespace
    )
    planning.check_duplicates(prepared)
    policies.check_manifests(app, project, prepared)
    return prepared


async def _dry_run_existing(
    target: targets.Target,
    manifests: list[resources.Manifest],
    live: Mapping[resources.ResourceKey, Mapping[str, Any] | None],
    options: diff_base.PlanOptions,
    concurrency: int,
) -> tuple[dict[resources.ResourceKey, dict[str, object]], frozenset[resources.ResourceKey]]:
    """Server-side dry runs of the objects that exist, except those known to be
    as gitward last applied them (``planning.known_unchanged``): a no-op
    re-plan then reads each kind once and asks nothing per object. Returns
    the dry-run results and the keys known unchanged."""
    limit = asyncio.Semaphore(concurrency)

    async def one(manifest: resources.Manifest) -> tuple[resources.ResourceKey, dict[str, object]]:
        async with limit:
            return manifest.key, dict(await target.dry_run(manifest, force=True))

    unknown: list[resources.Manifest] = []
    unchanged: set[resources.ResourceKey] = set()
    for manifest in manifests:
        current = live.get(manifest.key)
        if current is None:
            continue
        if planning.known_unchanged(manifest, current, options):
            unchanged.add(manifest.key)
        else:
            unknown.append(manifest)
    return dict(await asyncio.gather(*(one(m) for m in unknown))), frozenset(unchanged)


async def sync(
    runtime: runtimes.Runtime,
    app: applications.Application,
    *,
    trigger: str,
    revision: str = "",
    prune: bool | None = None,
    dry_run: bool = False,
    wait: bool = False,
    health_timeout: float | None = None,
    project: ProjectChoice = LOOK_UP,
    report_health: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyncReport:
    """One sync attempt. Failures of a stage are recorded in the operation with
    their reason (SourceFailed, RenderFailed, ...) rather than raised, so
    callers always get a record; nothing is pruned after any failure."""
    started = clock()
    revision_info = operations.Revision(sha="", ref=revision or app.spec.source.wanted)
    try:
        project = await _decided(runtime, app, project)
        desired = await desired_state(runtime, app, revision=revision, project=project)
        revision_info = desired.revision
        with runtime.metrics.stage(metrics.Stage.PLAN):
            the_plan, live = await _plan(runtime, app, desired, prune=prune, project=project)
    except errors.GitwardError as exc:
        return failed_report(
            app, revision_info, exc, trigger=trigger, started=started, dry_run=dry_run, clock=clock
        )
    return await apply_plan(
        runtime,
        app,
        desired.revision,
        the_plan,
        trigger=trigger,
        started=started,
        prune=prune,
        dry_run=dry_run,
        wait=wait,
        health_timeout=health_timeout,
        report_health=report_health,
        live=live,
        clock=clock,
    )


def failed_report(
    app: applications.Application,
    revision: operations.Revision,
    exc: errors.GitwardError,
    *,
    trigger: str,
    started: datetime,
    dry_run: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyncReport:
    """The record of a sync that failed before applying anything."""
    operation = operations.Operation(
        app=app.name,
        revision=revision,
        trigger=trigger,
        started_at=started,
        finished_at=clock(),
        phase=operations.OperationPhase.FAILED,
        dry_run=dry_run,
        message=str(exc),
        reason=exc.reason,
    )
    empty = plans.Plan(app=app.name, revision=revision.sha, changes=())
    outcome = syncing.SyncOutcome(failed=True, message=str(exc), reason=exc.reason)
    return SyncReport(operation, empty, outcome, error=exc)


async def apply_plan(
    runtime: runtimes.Runtime,
    app: applications.Application,
    revision: operations.Revision,
    the_plan: plans.Plan,
    *,
    trigger: str,
    started: datetime | None = None,
    prune: bool | None = None,
    dry_run: bool = False,
    wait: bool = False,
    health_timeout: float | None = None,
    on_write: Callable[[resources.ResourceKey, Mapping[str, Any]], None] | None = None,
    report_health: bool = False,
    live: Mapping[resources.ResourceKey, Mapping[str, Any] | None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyncReport:
    """Carry out a Plan already computed (the agent plans once, then decides).
    ``report_health``: assess every object's health once at the end (one-shot
    syncs print it) when the sync did not wait for it; from ``live`` (the
    objects the plan was made from) for those the sync did not write."""
    started = started or clock()
    policy = app.spec.sync_policy
    options = syncing.SyncOptions(
        prune=policy.prune_enabled if prune is None else prune,
        dry_run=dry_run,
        force=policy.force,
        take_over_from=tuple(policy.take_over_from),
        wait=wait,
        health_timeout=health_timeout if health_timeout is not None else policy.health_timeout,
        concurrency=runtime.concurrency,
        on_write=on_write,
        create_namespace=policy.create_namespace,
        destination_namespace=app.spec.destination.namespace,
        app=app.name,
        assess_after=report_health,
        live={key: obj for key, obj in (live or {}).items() if obj is not None},
    )
    target = runtime.target(app.spec.destination.target)
    with runtime.metrics.stage(metrics.Stage.APPLY):
        outcome = await syncing.execute(the_plan, target, options, clock=time.monotonic)
    failed = sum(1 for r in outcome.results if r.code is operations.ResultCode.FAILED)
    done = sum(
        1
        for r in outcome.results
        if r.code
        in (
            operations.ResultCode.CREATED,
            operations.ResultCode.CONFIGURED,
            operations.ResultCode.PRUNED,
        )
    )
    runtime.metrics.apply_requests(ok=done, failed=failed)
    operation = operations.Operation(
        app=app.name,
        revision=revision,
        trigger=trigger,
        started_at=started,
        finished_at=clock(),
        phase=operations.OperationPhase.FAILED
        if outcome.failed
        else operations.OperationPhase.SUCCEEDED,
        dry_run=dry_run,
        results=tuple(outcome.results),
        message=outcome.message or _summary(the_plan, outcome),
        reason=outcome.reason,
    )
    return SyncReport(operation, the_plan, outcome)


def _summary(the_plan: plans.Plan, outcome: syncing.SyncOutcome) -> str:
    counts: dict[str, int] = {}
    for result in outcome.results:
        counts[result.code.value] = counts.get(result.code.value, 0) + 1
    parts = [f"{n} {code.lower()}" for code, n in sorted(counts.items())]
    return f"revision {the_plan.revision[:12]}: " + (", ".join(parts) or "nothing to do")
