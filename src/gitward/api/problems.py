"""Error answers of the REST API: one JSON shape, one HTTP status per error class.

Routes raise :mod:`gitward.errors` classes (or the few defined here) and
:func:`guarded` turns them into ``{"error": {"status", "reason", "message"}}``
bodies; the CLI maps the status to its exit code. Messages are the errors'
own, which name the object and never hold a secret (see ``errors``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gitward import errors
from gitward.api import auth
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


class NotFound(errors.InputError):
    """The Application or operation named in the path does not exist (HTTP 404)."""

    reason = "NotFound"


class BadRequest(errors.InputError):
    """A query parameter or request body is malformed (HTTP 400)."""

    reason = "BadRequest"


def status_of(exc: errors.GitwardError) -> int:
    """The HTTP status an error answers with."""
    if isinstance(exc, auth.Unauthorized):
        return 401
    if isinstance(exc, auth.Forbidden):
        return 403
    if isinstance(exc, NotFound | store_base.RecordNotFound):
        return 404
    if isinstance(exc, BadRequest | store_base.InvalidQuery):
        return 400
    if isinstance(exc, store_base.RecordConflict):
        return 409
    if isinstance(exc, errors.InputError):
        # The request is well-formed but what Git declares cannot be carried
        # out (render failed, policy violation): fix the input, do not retry.
        return 422
    if isinstance(exc, errors.RetryableError):
        return 503
    return 500


def body(status: int, reason: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "reason": reason, "message": message}}


def answer(exc: errors.GitwardError) -> JSONResponse:
    status = status_of(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="gitward"'} if status == 401 else None
    return JSONResponse(body(status, exc.reason, str(exc)), status_code=status, headers=headers)


def guarded(handler: Handler) -> Handler:
    """Wrap a route so gitward errors become JSON answers (never a traceback)."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except errors.GitwardError as exc:
            if status_of(exc) >= 500:
                _log.warning(
                    "API request failed", path=request.url.path, reason=exc.reason, error=str(exc)
                )
            return answer(exc)

    return run
