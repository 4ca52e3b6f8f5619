"""The Starlette application the agent serves: health, readiness, webhooks."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gitward.config import settings as config_settings
from gitward.engine import agent as agents
from gitward.engine import webhooks


def create(agent: agents.Agent, settings: config_settings.Settings) -> Starlette:
    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        if agent.ready.is_set():
            return PlainTextResponse("ready\n")
        return PlainTextResponse("starting: applications not loaded yet\n", status_code=503)

    async def webhook(request: Request) -> Response:
        try:
            received = await webhooks.receive(agent, settings, request.headers, request.receive)
        except webhooks.Rejected as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse({"event": received.event, "queued": list(received.queued)})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/api/v1/webhooks", webhook, methods=["POST"]),
        ]
    )
