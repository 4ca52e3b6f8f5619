"""What every route of one API instance shares: the agent, settings, the
authenticator, and the request helpers that look up and authorise an
Application, and parse query parameters into named 400 errors.

Built once by ``gitward.api.app.create``; the route modules
(``applications``, ``actions``, ``operations``, ``events``, ``streaming``,
``metrics``) receive it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from starlette.requests import Request

from gitward.api import auth, problems
from gitward.config import settings as config_settings
from gitward.engine import loop, states

T = TypeVar("T")
_log = structlog.get_logger(__name__)


@dataclass
class Context:
    agent: loop.Agent
    settings: config_settings.Settings
    authenticator: auth.Authenticator
    # Work started by requests that must finish even if the client goes away
    # (a sync half-applied because a CLI was interrupted helps nobody).
    _detached: set[asyncio.Task[Any]] = field(default_factory=set)

    async def principal(self, request: Request) -> auth.Principal:
        return await self.authenticator.identify(request.headers)

    def project_of(self, app: str) -> str | None:
        """The Project of a declared Application; None for agent-wide or
        removed ones (only callers with every Project see those)."""
        state = self.agent.apps.get(app)
        return state.app.metadata.project if state is not None else None

    def visible(self, principal: auth.Principal, app: str) -> bool:
        project = self.project_of(app)
        return principal.all_projects if project is None else principal.can_read(project)

    def application(
        self, principal: auth.Principal, name: str, *, action: str = ""
    ) -> states.AppState:
        """The named Application if the caller may read it (and do ``action``).

        An Application of a Project the caller may not read is answered
        exactly as an unknown name (404, same message): a 403 would tell which
        names exist elsewhere, and in which Project. A caller who may read it
        but not act on it gets 403.
        """
        state = self.agent.apps.get(name)
        if state is None or not principal.can_read(state.app.metadata.project):
            raise not_found_application(name)
        if action:
            principal.require_admin(state.app.metadata.project, f"{action} Application {name!r}")
        return state

    def require_visible(self, principal: auth.Principal, app: str) -> None:
        """404 (as for an unknown name) unless the caller may read ``app``."""
        if not self.visible(principal, app):
            raise not_found_application(app)

    async def detached(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` to completion even if the request is cancelled."""
        task = asyncio.ensure_future(work)
        self._detached.add(task)
        task.add_done_callback(self._finished)
        return await asyncio.shield(task)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._detached.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Nobody awaits a task whose request went away: say what happened.
            _log.warning("detached API work failed", error=str(task.exception()))


MAX_ID = 2**63 - 1
"""The largest id the store can hold (a signed 64-bit integer)."""


def not_found_application(name: str) -> problems.NotFound:
    """The one answer for an unknown Application and for one the caller may not read."""
    return problems.NotFound(f"Application {name!r} not found")


def int_param(
    request: Request, name: str, *, default: int | None, low: int = 0, high: int | None = None
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise problems.BadRequest(f"query parameter {name}={raw!r} is not an integer") from None
    # Past MAX_ID the store's integer column overflows (a 500 before this check).
    high = MAX_ID if high is None else min(high, MAX_ID)
    if value < low or value > high:
        allowed = f"between {low} and {high}"
        raise problems.BadRequest(f"query parameter {name}={value} must be {allowed}")
    return value


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body; an empty body is ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise problems.BadRequest(f"{request.url.path}: the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise problems.BadRequest(f"{request.url.path}: the body must be a JSON object")
    return data
