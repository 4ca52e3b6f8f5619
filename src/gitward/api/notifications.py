"""``GET /api/v1/notifications/deliveries``: the delivery log of notifications.

Query: ``app``, ``provider``, ``state`` (pending, sent, failed, dropped),
``before`` (an id, to page back), ``limit``. Newest first. A pending delivery
with attempts is shown as ``retrying``. Callers limited to some Projects see
their Applications' deliveries only. Nothing secret is in a delivery: the
provider's URL and credentials are never part of it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gitward.api import auth, context, problems
from gitward.store import base as store_base


def view(record: store_base.DeliveryRecord) -> dict[str, Any]:
    state = record.state.value
    if record.state is store_base.DeliveryState.PENDING and record.attempts:
        state = "retrying"
    event = record.payload.get("event")
    message = event.get("message", "") if isinstance(event, dict) else ""
    return {
        "id": record.id,
        "provider": record.provider,
        "alert": record.alert,
        "app": record.app,
        "reason": record.reason,
        "message": message,
        "status": record.payload.get("status"),
        "state": state,
        "attempts": record.attempts,
        "createdAt": record.created_at.isoformat(),
        "updatedAt": record.updated_at.isoformat() if record.updated_at else None,
        "nextAttemptAt": record.next_attempt_at.isoformat()
        if record.state is store_base.DeliveryState.PENDING and record.next_attempt_at
        else None,
        "error": record.last_error,
        "eventId": record.event_id,
    }


async def deliveries(
    ctx: context.Context, principal: auth.Principal, params: Any
) -> list[dict[str, Any]]:
    """The delivery log for query parameters ``params`` (the API and the UI)."""
    store: Any = ctx.agent.store
    app = params.get("app") or None
    if app is not None:
        ctx.require_visible(principal, app)
    state_text = params.get("state") or None
    try:
        state = store_base.DeliveryState(state_text) if state_text else None
    except ValueError:
        raise problems.BadRequest(
            f"state {state_text!r} is not one of pending, sent, failed, dropped"
        ) from None
    limit = int(params.get("limit") or 100)
    before = params.get("before")
    if not 1 <= limit <= store_base.MAX_LIST_LIMIT:
        raise problems.BadRequest(f"limit {limit} is outside 1..{store_base.MAX_LIST_LIMIT}")
    if not hasattr(store, "list_deliveries"):
        return []  # a store without an outbox (the memory fake) has sent nothing
    records = await store.list_deliveries(
        app=app,
        provider=params.get("provider") or None,
        state=state,
        limit=limit,
        before_id=int(before) if before else None,
    )
    return [view(r) for r in records if ctx.visible(principal, r.app)]


def routes(ctx: context.Context) -> list[BaseRoute]:
    async def log(request: Request) -> Response:
        principal = await ctx.principal(request)
        context.int_param(request, "limit", default=100, low=1, high=store_base.MAX_LIST_LIMIT)
        context.int_param(request, "before", default=None, low=1)
        return JSONResponse({"items": await deliveries(ctx, principal, request.query_params)})

    return [Route("/api/v1/notifications/deliveries", problems.guarded(log), methods=["GET"])]
