"""The Starlette application the agent serves: probes, webhooks, the REST API,
the live stream and metrics (and the web UI's routes, through ``extra_routes``).

``gitward serve`` calls :func:`create` once and runs it on uvicorn inside the
agent's asyncio process. Route modules are thin: they authorise, call the
agent or the store, and answer JSON views (``views``).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from gitward.api import (
    actions,
    applications,
    auth,
    context,
    delivery,
    events,
    fleet,
    forwarding,
    headers,
    metrics,
    notifications,
    openapi,
    operations,
    replicas,
    streaming,
)
from gitward.config import settings as config_settings
from gitward.engine import loop, webhooks


def create(
    agent: loop.Agent,
    settings: config_settings.Settings,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    stream_heartbeat: float = streaming.HEARTBEAT_SECONDS,
    stream_queue_size: int = streaming.QUEUE_SIZE,
) -> Starlette:
    """The agent's HTTP application.

    ``extra_routes`` are mounted after the API's own (the web UI); they must
    not reuse ``/api/``, ``/metrics`` or the probe paths. ``stream_heartbeat``
    and ``stream_queue_size`` tune the live stream (tests shorten them).
    """
    ctx = context.Context(
        agent=agent,
        settings=settings,
        authenticator=auth.Authenticator(agent.store, settings.auth),
    )
    hub = streaming.Hub(ctx, heartbeat=stream_heartbeat, queue_size=stream_queue_size)

    async def healthz(request: Request) -> Response:
        # Failing while the agent cannot make progress (the store refuses writes).
        if problem := agent.problem:
            return PlainTextResponse(f"unhealthy: {problem}\n", status_code=503)
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        if agent.ready.is_set():
            return PlainTextResponse("ready\n")
        why = agent.problem or agent.load_error or "applications not loaded yet"
        return PlainTextResponse(f"not ready: {why}\n", status_code=503)

    async def webhook(request: Request) -> Response:
        try:
            received = await webhooks.receive(agent, settings, request.headers, request.receive)
        except webhooks.Rejected as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        # Replicas: every other replica queues the Applications it owns.
        forwarding.fan_out(agent, request.headers, received.body)
        return JSONResponse({"event": received.event, "queued": list(received.queued)})

    own: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/api/v1/webhooks", webhook, methods=["POST"]),
        *openapi.routes(),
        *applications.routes(ctx),
        *actions.routes(ctx),
        *operations.routes(ctx),
        *events.routes(ctx),
        *fleet.routes(ctx),
        *streaming.routes(ctx, hub),
        *metrics.routes(ctx),
        *delivery.routes(ctx),
        *notifications.routes(ctx),
        *replicas.routes(ctx),
    ]
    server = Starlette(
        routes=[*own, *extra_routes], middleware=[Middleware(headers.SecurityHeaders)]
    )
    server.state.api = ctx
    server.state.hub = hub
    return server
