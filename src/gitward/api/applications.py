"""Read routes of Applications: list (with filters), get, and the current Plan.

``GET /api/v1/applications`` answers the agent's live view (what it knows
now, not a store snapshot), filtered to the Projects the caller may read.
``GET /api/v1/applications/{name}/diff`` plans again against the target, the
same Plan ``gitward diff``, drift detection and dry-run read; Secret values
are masked by ``engine.reports``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gitward.api import context, problems, views
from gitward.engine import projecting, reconciling, reports
from gitward.model import status

E = TypeVar("E", bound=StrEnum)


def routes(ctx: context.Context) -> list[BaseRoute]:
    async def list_applications(request: Request) -> Response:
        principal = await ctx.principal(request)
        params = request.query_params
        project = params.get("project") or None
        sync = _enum(status.SyncStatus, "sync", params.get("sync"))
        health = _enum(status.HealthStatus, "health", params.get("health"))
        labels = _labels(params.getlist("label"))
        items = []
        for name in sorted(ctx.agent.apps):
            state = ctx.agent.apps[name]
            app_project = state.app.metadata.project
            if not principal.can_read(app_project):
                continue
            if project is not None and app_project != project:
                continue
            if sync is not None and state.sync is not sync:
                continue
            if health is not None and state.health.status is not health:
                continue
            if any(state.app.metadata.labels.get(k) != v for k, v in labels.items()):
                continue
            items.append(views.application(state))
        return JSONResponse({"items": items})

    async def get_application(request: Request) -> Response:
        principal = await ctx.principal(request)
        state = ctx.application(principal, request.path_params["name"])
        return JSONResponse(views.application(state))

    async def diff(request: Request) -> Response:
        principal = await ctx.principal(request)
        state = ctx.application(principal, request.path_params["name"])
        revision = request.query_params.get("revision") or state.pinned_revision
        agent = ctx.agent
        app = state.app
        project = projecting.in_catalog(agent.catalog, app)
        desired = await reconciling.desired_state(
            agent.runtime,
            app,
            revision=revision,
            max_age=agent.options.poll_interval,
            project=project,
        )
        plan = await reconciling.plan(agent.runtime, app, desired, project=project)
        return JSONResponse(
            {
                "app": state.name,
                "revision": reports.revision_dict(desired.revision),
                "plan": reports.plan_dict(plan),
                "text": reports.plan_text(plan),
            }
        )

    return [
        Route("/api/v1/applications", problems.guarded(list_applications), methods=["GET"]),
        Route("/api/v1/applications/{name}", problems.guarded(get_application), methods=["GET"]),
        Route("/api/v1/applications/{name}/diff", problems.guarded(diff), methods=["GET"]),
    ]


def _enum(kind: type[E], name: str, raw: str | None) -> E | None:
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        known = ", ".join(v.value for v in kind)
        raise problems.BadRequest(f"query parameter {name}={raw!r}: one of {known}") from None


def _labels(raw: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise problems.BadRequest(f"query parameter label={item!r} must be key=value")
        labels[key] = value
    return labels
