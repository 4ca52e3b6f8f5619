"""The replicas page (``/replicas``): the replicas sharing the work as the one
serving the page sees them: members with their leases, how many Applications
each owns, and the recent handoffs (``engine.replicas.describe``, the same
view as ``GET /api/v1/replicas``). Nothing on it is secret.

Mounted by :class:`gitward.web.pages.Ui` (``routes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gitward.engine import replicas

if TYPE_CHECKING:
    from gitward.web import pages


class Replicas:
    def __init__(self, ui: pages.Ui) -> None:
        self.ui = ui

    def routes(self) -> list[BaseRoute]:
        return [Route("/replicas", self.replicas_page, name="ui-replicas")]

    async def replicas_page(self, request: Request) -> Response:
        session = await self.ui._session(request)
        if isinstance(session, Response):
            return session
        agent = self.ui.agent
        return self.ui.page(
            request,
            session,
            "replicas.html",
            view=replicas.describe(agent.replicas, len(agent.apps)),
        )
