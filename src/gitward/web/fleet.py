"""The fleet page (``/fleet``): every target with its labels and whether it answers,
and every ApplicationSet with where its rollout stands, step by step.

Pause, resume and promote are forms (CSRF-checked, admins of the set's Project
only) that call the same ``engine.gating`` functions as the API and the CLI.
Targets hold no secret (names, labels, server URLs, errors); sets are shown to
the sessions that may read their Project. Mounted by :class:`gitward.web.pages.Ui`.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gitward import errors
from gitward.web import sessions

if TYPE_CHECKING:
    from gitward.web import pages

_log = structlog.get_logger(__name__)
_ACTIONS = ("pause", "resume", "promote")


class Fleet:
    def __init__(self, ui: pages.Ui) -> None:
        self.ui = ui

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/fleet", self.fleet_page, name="ui-fleet"),
            Route("/fleet/appsets/{name}/{action}", self.steer, methods=["POST"]),
        ]

    def _readable_sets(self, session: sessions.Session) -> list[str]:
        catalog = self.ui.agent.catalog
        if catalog is None:
            return []
        return [
            name
            for name in sorted(catalog.appsets)
            if session.principal.can_read(catalog.appsets[name].appset.metadata.project)
        ]

    async def fleet_page(self, request: Request) -> Response:
        session = await self.ui._session(request)
        if isinstance(session, Response):
            return session
        agent = self.ui.agent
        rollouts = []
        for name in self._readable_sets(session):
            found = await agent.gate.assess(name)
            if found is not None:
                project = found.appset.metadata.project
                rollouts.append((found.as_dict(), session.principal.can_admin(project)))
        return self.ui.page(
            request,
            session,
            "fleet.html",
            targets=[row.as_dict() for row in agent.reachability.rows()],
            rollouts=rollouts,
        )

    async def steer(self, request: Request) -> Response:
        session = await self.ui._session(request)
        if isinstance(session, Response):
            return session
        name, action = request.path_params["name"], request.path_params["action"]
        form = await self.ui._form(request)
        if action not in _ACTIONS or name not in self._readable_sets(session):
            return self.ui.error(request, session, 404, "Not found", f"no {action} for {name!r}")
        if not self.ui.sessions.csrf_ok(request, session, str(form.get(sessions.CSRF_FIELD) or "")):
            return self.ui.error(
                request,
                session,
                403,
                "Forbidden",
                "this form has expired or was not sent by this page: reload and try again",
            )
        catalog = self.ui.agent.catalog
        assert catalog is not None
        project = catalog.appsets[name].appset.metadata.project
        if not session.principal.can_admin(project):
            return self.ui.error(
                request,
                session,
                403,
                "Forbidden",
                f"{session.principal.describe()} may not {action} ApplicationSet {name!r}",
            )
        _log.info("ui rollout action", appset=name, action=action, token=session.principal.name)
        gate = self.ui.agent.gate
        try:
            if action == "promote":
                await gate.promote(name)
            else:
                await gate.pause(name, action == "pause")
        except errors.GitwardError as exc:
            return self.ui.error(request, session, 409, "Not done", str(exc))
        anchor = urllib.parse.quote(f"set-{name}")
        return RedirectResponse(f"/fleet#{anchor}", status_code=303)
