"""Action routes on one Application: refresh, sync, rollback, suspend, resume.

Each needs the ``admin`` role on the Application's Project. A sync runs to
the end of its apply even if the client disconnects (``Context.detached``),
and answers with its operation record and the Plan it carried out (masked);
a failed sync is a result (``phase: Failed``), not an HTTP error. With
replicas, an action on an Application another replica owns is carried out
by that replica (``api.forwarding``).

:func:`sync_selected` syncs only some resources of the Plan (Argo CD's
selective sync); the agent's own ``sync_now`` has no resource filter, so it
lives here, built from the same engine functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gitward import errors
from gitward.api import context, forwarding, problems, views
from gitward.engine import loop, projecting, reconciling, reports
from gitward.model import operations, plans, resources


def routes(ctx: context.Context) -> list[BaseRoute]:
    async def refresh(request: Request) -> Response:
        principal = await ctx.principal(request)
        state = ctx.application(principal, request.path_params["name"], action="refresh")
        if (owner := await forwarding.to_owner(ctx.agent, request, state.name)) is not None:
            return owner
        ctx.agent.refresh(state.name, f"refresh requested by {principal.describe()}")
        return JSONResponse({"app": state.name, "queued": True}, status_code=202)

    async def sync(request: Request) -> Response:
        principal = await ctx.principal(request)
        state = ctx.application(principal, request.path_params["name"], action="sync")
        if (owner := await forwarding.to_owner(ctx.agent, request, state.name)) is not None:
            return owner
        body = await context.json_body(request)
        prune = _optional_bool(body, "prune")
        dry_run = bool(_optional_bool(body, "dryRun"))
        revision = _string(body, "revision")
        selectors = _selectors(body)
        trigger = f"manual sync by {principal.describe()}"
        op_id: int | None
        if selectors:
            report, op_id = await ctx.detached(
                sync_selected(
                    ctx.agent,
                    state.name,
                    selectors,
                    prune=prune,
                    dry_run=dry_run,
                    revision=revision,
                    trigger=trigger,
                )
            )
        else:
            report = await ctx.detached(
                ctx.agent.sync_now(
                    state.name, prune=prune, dry_run=dry_run, revision=revision, trigger=trigger
                )
            )
            op_id = state.last_operation
        return JSONResponse(
            {
                "app": state.name,
                "operationId": op_id,
                "operation": reports.operation_dict(report.operation),
                "plan": reports.plan_dict(report.plan),
            }
        )

    async def rollback(request: Request) -> Response:
        principal = await ctx.principal(request)
        state = ctx.application(principal, request.path_params["name"], action="roll back")
        if (owner := await forwarding.to_owner(ctx.agent, request, state.name)) is not None:
            return owner
        body = await context.json_body(request)
        to = _string(body, "to") or None
        commit = _string(body, "commit") or None
        if to and commit:
            raise problems.BadRequest(
                f"rollback of Application {state.name!r}: give 'to' or 'commit', not both"
            )
        result = await ctx.detached(ctx.agent.rollback(state.name, to=to, commit=commit))
        return JSONResponse(
            {
                "app": state.name,
                "mode": result.mode,
                "revision": result.revision,
                "reverted": list(result.reverted),
                "pushedSha": result.pushed_sha,
            }
        )

    def suspender(suspended: bool, verb: str) -> problems.Handler:
        async def handler(request: Request) -> Response:
            principal = await ctx.principal(request)
            state = ctx.application(principal, request.path_params["name"], action=verb)
            if (owner := await forwarding.to_owner(ctx.agent, request, state.name)) is not None:
                return owner
            await ctx.agent.suspend(state.name, suspended)
            return JSONResponse(views.application(state))

        return handler

    base = "/api/v1/applications/{name}"
    return [
        Route(f"{base}/refresh", problems.guarded(refresh), methods=["POST"]),
        Route(f"{base}/sync", problems.guarded(sync), methods=["POST"]),
        Route(f"{base}/rollback", problems.guarded(rollback), methods=["POST"]),
        Route(f"{base}/suspend", problems.guarded(suspender(True, "suspend")), methods=["POST"]),
        Route(f"{base}/resume", problems.guarded(suspender(False, "resume")), methods=["POST"]),
    ]


# --- selective sync --------------------------------------------------------------------------


def matches(selector: str | dict[str, str], key: resources.ResourceKey) -> bool:
    """Does a resource selector name ``key``?

    Selectors are ``{"group", "kind", "namespace", "name"}`` objects, the key as
    gitward prints it (``Deployment.apps web/frontend``), or kubectl's
    ``kind[.group]/[namespace/]name`` (kind case-insensitive).
    """
    if isinstance(selector, dict):
        return (
            selector.get("group", "") == key.group
            and selector.get("kind", "") == key.kind
            and selector.get("namespace", "") == key.namespace
            and selector.get("name", "") == key.name
        )
    if selector == str(key):
        return True
    parts = selector.split("/")
    if len(parts) == 2:
        kind, namespace, name = parts[0], "", parts[1]
        namespace_ok = True
    elif len(parts) == 3:
        kind, namespace, name = parts
        namespace_ok = namespace == key.namespace
    else:
        return False
    kind_name, _, group = kind.partition(".")
    return (
        namespace_ok
        and name == key.name
        and kind_name.lower() == key.kind.lower()
        and group == key.group
    )


def select(plan: plans.Plan, selectors: Sequence[str | dict[str, str]]) -> plans.Plan:
    """The Plan reduced to the selected resources (hooks never run in a
    selective sync, as in Argo CD); every selector must name a planned object."""
    unmatched = [
        s for s in selectors if not any(matches(s, c.key) for c in plan.changes if not c.hook)
    ]
    if unmatched:
        names = ", ".join(str(s) for s in unmatched)
        raise problems.BadRequest(f"Application {plan.app!r}: no planned resource matches {names}")
    chosen = tuple(
        c for c in plan.changes if not c.hook and any(matches(s, c.key) for s in selectors)
    )
    return plans.Plan(
        app=plan.app,
        revision=plan.revision,
        changes=chosen,
        server_side=plan.server_side,
        warnings=plan.warnings,
    )


async def sync_selected(
    agent: loop.Agent,
    name: str,
    selectors: Sequence[str | dict[str, str]],
    *,
    prune: bool | None = None,
    dry_run: bool = False,
    revision: str = "",
    trigger: str = "manual",
) -> tuple[reconciling.SyncReport, int]:
    """Sync only the selected resources of an Application's current Plan.

    Recorded like any sync (an operation that exists before anything is
    applied, an event); the Application is then queued so its status is
    re-assessed by the agent. Returns the report and the operation id.
    """
    state = agent.apps.get(name)
    if state is None:
        raise problems.NotFound(f"Application {name!r} is not declared")
    app = state.app
    project = projecting.in_catalog(agent.catalog, app)
    started = agent.clock()
    wanted = revision or state.pinned_revision
    trigger = f"{trigger} (selected resources)"
    try:
        desired = await reconciling.desired_state(
            agent.runtime, app, revision=wanted, project=project
        )
        the_plan = select(
            await reconciling.plan(agent.runtime, app, desired, prune=prune, project=project),
            selectors,
        )
    except problems.BadRequest:
        raise
    except errors.GitwardError as exc:
        failed = reconciling.failed_report(
            app,
            operations.Revision(sha=wanted or state.revision),
            exc,
            trigger=trigger,
            started=started,
            dry_run=dry_run,
            clock=agent.clock,
        )
        op_id = await agent.store.start_operation(
            operations.Operation(
                app=name,
                revision=failed.operation.revision,
                trigger=trigger,
                started_at=started,
                dry_run=dry_run,
            )
        )
        await agent.store.finish_operation(op_id, failed.operation)
        await _recorded(agent, name, failed.operation)
        return failed, op_id
    op_id = await agent.store.start_operation(
        operations.Operation(
            app=name,
            revision=desired.revision,
            trigger=trigger,
            started_at=started,
            dry_run=dry_run,
        )
    )
    try:
        report = await reconciling.apply_plan(
            agent.runtime,
            app,
            desired.revision,
            the_plan,
            trigger=trigger,
            started=started,
            prune=prune,
            dry_run=dry_run,
            clock=agent.clock,
        )
    except asyncio.CancelledError:
        interrupted = operations.Operation(
            app=name,
            revision=desired.revision,
            trigger=trigger,
            started_at=started,
            finished_at=agent.clock(),
            phase=operations.OperationPhase.FAILED,
            message="cancelled while applying",
            reason="Cancelled",
        )
        await asyncio.shield(agent.store.finish_operation(op_id, interrupted))
        raise
    await agent.store.finish_operation(op_id, report.operation)
    await _recorded(agent, name, report.operation)
    return report, op_id


async def _recorded(agent: loop.Agent, name: str, op: operations.Operation) -> None:
    if op.dry_run:
        return
    ok = op.phase is operations.OperationPhase.SUCCEEDED
    await agent.record_event(
        name,
        "Normal" if ok else "Warning",
        "SyncSucceeded" if ok else (op.reason or "SyncFailed"),
        op.message,
        op.revision.sha,
    )
    agent.refresh(name, "after a selective sync")


# --- body parsing ----------------------------------------------------------------------------


def _optional_bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise problems.BadRequest(f"field {name!r} must be true, false or null, not {value!r}")


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise problems.BadRequest(f"field {name!r} must be a string")
    return value.strip()


def _selectors(body: dict[str, Any]) -> list[str | dict[str, str]]:
    raw = body.get("resources")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise problems.BadRequest("field 'resources' must be a list of resource selectors")
    selectors: list[str | dict[str, str]] = []
    for item in raw:
        if isinstance(item, str) and item.strip():
            selectors.append(item.strip())
        elif isinstance(item, dict) and all(
            isinstance(item.get(k, ""), str) for k in ("group", "kind", "namespace", "name")
        ):
            if not item.get("kind") or not item.get("name"):
                raise problems.BadRequest(f"resource selector {item!r} needs kind and name")
            selectors.append(
                {k: str(item.get(k, "")) for k in ("group", "kind", "namespace", "name")}
            )
        else:
            raise problems.BadRequest(f"resource selector {item!r} is not valid")
    return selectors
