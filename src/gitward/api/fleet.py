"""Routes of the fleet: targets' connection health and ApplicationSet rollouts.

``GET /api/v1/targets`` lists every target with its labels and whether it
answers (``engine.reachability``); any caller that may use the API may read it
(names, labels, server URLs and errors hold no secret). ``/api/v1/appsets``
shows each ApplicationSet and its rollout (``engine.gating``); reading one needs
read access to its Project, and ``pause``/``resume``/``promote`` need admin.
An unknown set and a set of a Project the caller may not read answer alike (404).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gitward.api import auth, context, problems
from gitward.config import appsets


def routes(ctx: context.Context) -> list[BaseRoute]:
    async def list_targets(request: Request) -> Response:
        await ctx.principal(request)
        rows = ctx.agent.reachability.rows()
        return JSONResponse({"items": [row.as_dict() for row in rows]})

    async def list_appsets(request: Request) -> Response:
        principal = await ctx.principal(request)
        catalog = ctx.agent.catalog
        items = []
        for name in sorted(catalog.appsets if catalog is not None else ()):
            declared = _visible(ctx, principal, name)
            if declared is None:
                continue
            found = await ctx.agent.gate.assess(name)
            if found is not None:
                items.append(found.as_dict())
        return JSONResponse({"items": items})

    async def get_appset(request: Request) -> Response:
        principal = await ctx.principal(request)
        name = _require(ctx, principal, request.path_params["name"], "")
        found = await ctx.agent.gate.assess(name)
        assert found is not None
        return JSONResponse(found.as_dict())

    def steer(verb: str) -> problems.Handler:
        async def handler(request: Request) -> Response:
            principal = await ctx.principal(request)
            name = _require(ctx, principal, request.path_params["name"], verb)
            gate = ctx.agent.gate
            if verb == "promote":
                found = await gate.promote(name)
            else:
                found = await gate.pause(name, verb == "pause")
            assert found is not None
            return JSONResponse(found.as_dict())

        return handler

    base = "/api/v1/appsets/{name}"
    return [
        Route("/api/v1/targets", problems.guarded(list_targets), methods=["GET"]),
        Route("/api/v1/appsets", problems.guarded(list_appsets), methods=["GET"]),
        Route(base, problems.guarded(get_appset), methods=["GET"]),
        *(
            Route(f"{base}/{verb}", problems.guarded(steer(verb)), methods=["POST"])
            for verb in ("pause", "resume", "promote")
        ),
    ]


def _visible(
    ctx: context.Context, principal: auth.Principal, name: str
) -> appsets.ApplicationSet | None:
    catalog = ctx.agent.catalog
    declared = catalog.appsets.get(name) if catalog is not None else None
    if declared is None or not principal.can_read(declared.appset.metadata.project):
        return None
    return declared.appset


def _require(ctx: context.Context, principal: auth.Principal, name: str, action: str) -> str:
    appset = _visible(ctx, principal, name)
    if appset is None:
        raise problems.NotFound(f"ApplicationSet {name!r} is not declared")
    if action:
        principal.require_admin(appset.metadata.project, f"{action} ApplicationSet {name!r}")
    return name
