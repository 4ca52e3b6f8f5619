"""Operations history routes: an Application's past syncs, and one operation.

``GET /api/v1/applications/{name}/operations`` pages newest first
(``limit``, ``before`` = an operation id); ``GET /api/v1/operations/{id}``
reads one. Operations are stored without field values, so nothing here can
hold secret data.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gitward.api import context, problems, views
from gitward.store import base as store_base


def routes(ctx: context.Context) -> list[BaseRoute]:
    async def history(request: Request) -> Response:
        principal = await ctx.principal(request)
        state = ctx.application(principal, request.path_params["name"])
        limit = context.int_param(
            request, "limit", default=100, low=1, high=store_base.MAX_LIST_LIMIT
        )
        before = context.int_param(request, "before", default=None, low=1)
        assert limit is not None
        records = await ctx.agent.store.list_operations(state.name, limit=limit, before_id=before)
        return JSONResponse({"items": [views.operation(r) for r in records]})

    async def one(request: Request) -> Response:
        principal = await ctx.principal(request)
        raw = request.path_params["id"]
        # Ids past the store's 64-bit column cannot exist; unknown and not
        # readable are answered alike (see Context.application).
        record = await ctx.agent.store.get_operation(raw) if 0 < raw <= context.MAX_ID else None
        if record is None or not ctx.visible(principal, record.operation.app):
            raise problems.NotFound(f"operation {raw} not found")
        return JSONResponse(views.operation(record))

    return [
        Route("/api/v1/applications/{name}/operations", problems.guarded(history), methods=["GET"]),
        Route("/api/v1/operations/{id:int}", problems.guarded(one), methods=["GET"]),
    ]
