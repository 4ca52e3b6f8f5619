"""``GET /api/v1/replicas``: the replicas sharing the work, as this one sees them.

Members with their leases (fence, renewed, expires), how many Applications
each owns, this replica's identity, and the recent handoffs
(``engine.replicas.describe``). A single replica answers ``enabled: false``.
Any caller that may use the API may read it: replica names, addresses and
fencing tokens hold no secret.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gitward.api import context, problems
from gitward.engine import replicas


def routes(ctx: context.Context) -> list[BaseRoute]:
    async def show(request: Request) -> Response:
        await ctx.principal(request)
        return JSONResponse(replicas.describe(ctx.agent.replicas, len(ctx.agent.apps)))

    return [Route("/api/v1/replicas", problems.guarded(show), methods=["GET"])]
