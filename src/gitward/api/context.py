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
from gitward.engine import agent as agents
from gitward.engine import states

T = TypeVar("T")
_log = structlog.get_logger(__name__)


@dataclass
class Context:
    agent: agents.Agent
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

        A caller limited to some Projects gets 403 for an unknown name as for
        an Application of another Project: answering 404 would tell it which
        names exist elsewhere.
        """
        state = self.agent.apps.get(name)
        if state is None:
            if principal.all_projects:
                raise problems.NotFound(f"Application {name!r} is not declared")
            raise auth.Forbidden(f"{principal.describe()} may not read Application {name!r}")
        project = state.app.metadata.project
        principal.require_read(project, f"Application {name!r}")
        if action:
            principal.require_admin(project, f"{action} Application {name!r}")
        return state

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
    if value < low or (high is not None and value > high):
        allowed = f"between {low} and {high}" if high is not None else f"at least {low}"
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
