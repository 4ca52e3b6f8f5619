"""``GET /api/v1/delivery``: the delivery (DORA) figures of the caller's Applications.

Query: ``app``, ``project``, ``target``, ``since`` (``30d``, ``12h``; default
``deliveryMetrics.window``). The answer is the document of ``gitward report
delivery -o json`` (``engine.delivery.computing.report_dict``), computed from
the history on every request, never stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gitward.api import auth, context, problems
from gitward.engine.delivery import computing, gathering


async def figures(ctx: context.Context, principal: auth.Principal, params: Any) -> dict[str, Any]:
    """The report document for query parameters ``params`` (the API and the UI)."""
    try:
        seconds = gathering.parse_window(
            params.get("since", ""), ctx.agent.settings.delivery_metrics.window
        )
    except ValueError as exc:
        raise problems.BadRequest(str(exc)) from None
    scope = gathering.Scope(
        app=params.get("app") or None,
        project=params.get("project") or None,
        target=params.get("target") or None,
    )
    if scope.app is not None:
        ctx.application(principal, scope.app)
    until = datetime.now(UTC)
    report = await gathering.for_agent(
        ctx.agent,
        scope,
        since=until - timedelta(seconds=seconds),
        until=until,
        visible=lambda name: ctx.visible(principal, name),
    )
    return computing.report_dict(report, scope.as_dict())


def routes(ctx: context.Context) -> list[BaseRoute]:
    async def delivery(request: Request) -> Response:
        principal = await ctx.principal(request)
        return JSONResponse(await figures(ctx, principal, request.query_params))

    return [Route("/api/v1/delivery", problems.guarded(delivery), methods=["GET"])]
