"""Security headers on every answer of the agent's HTTP server.

Wraps the whole Starlette application (``api.app.create``), so the
framework's own answers (404 for an unknown path, 405 for a wrong method,
500 for a bug) carry them as well as the API's JSON, the live stream and the
UI's pages. A header a route set itself wins (the UI's pages send their own
Content-Security-Policy; the stream its ``Cache-Control: no-cache``).

Issue 11 (6e): error pages lacked them, and API JSON had neither ``nosniff``
nor ``Cache-Control: no-store`` (answers hold status a shared cache must not
keep).
"""

from __future__ import annotations

import json

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULTS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _add_defaults(message: Message) -> None:
    headers = MutableHeaders(scope=message)
    for name, value in DEFAULTS.items():
        if name not in headers:
            headers.append(name, value)


class SecurityHeaders:
    """ASGI middleware (pure, so streamed answers stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                _add_defaults(message)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            # A bug in a route: answer here, with the headers, before the
            # framework's bare 500 page would; then let it log the error.
            if not started:
                body = json.dumps(
                    {
                        "error": {
                            "status": 500,
                            "reason": "InternalError",
                            "message": "internal error; see the agent's log",
                        }
                    }
                ).encode()
                start: Message = {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
                await sending(start)
                await send({"type": "http.response.body", "body": body})
            raise
