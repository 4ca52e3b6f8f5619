"""Event log routes: what happened, newest last, for people and scripts.

``GET /api/v1/events`` (``app``, ``after``/``before`` = event ids, ``limit``)
and ``GET /api/v1/applications/{name}/events``. Ids only grow, so the last id
a client saw is its cursor (the live stream, ``streaming``, uses the same).
Callers limited to some Projects see only their Applications' events;
agent-wide events (the applications root) need every Project.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gitward.api import auth, context, problems, views
from gitward.store import base as store_base

_DEFAULT_LIMIT = 200


def routes(ctx: context.Context) -> list[BaseRoute]:
    async def read(request: Request, principal: auth.Principal, app: str | None) -> Response:
        limit = context.int_param(
            request, "limit", default=_DEFAULT_LIMIT, low=1, high=store_base.MAX_LIST_LIMIT
        )
        after = context.int_param(request, "after", default=None, low=0)
        before = context.int_param(request, "before", default=None, low=1)
        assert limit is not None
        records = await ctx.agent.store.list_events(
            app=app, after_id=after, before_id=before, limit=limit
        )
        items = [views.event(r) for r in records if ctx.visible(principal, r.app)]
        return JSONResponse({"items": items})

    async def all_events(request: Request) -> Response:
        principal = await ctx.principal(request)
        app = request.query_params.get("app")
        if app:
            # Events outlive their Application, so an undeclared name is not
            # a 404 for callers who may read every Project.
            ctx.require_visible(principal, app)
        return await read(request, principal, app or None)

    async def app_events(request: Request) -> Response:
        principal = await ctx.principal(request)
        state = ctx.application(principal, request.path_params["name"])
        return await read(request, principal, state.name)

    return [
        Route("/api/v1/events", problems.guarded(all_events), methods=["GET"]),
        Route("/api/v1/applications/{name}/events", problems.guarded(app_events), methods=["GET"]),
    ]
