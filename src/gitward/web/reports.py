"""The delivery page (``/delivery``: the four DORA figures and a chart of each over
time) and the notification log (``/notifications``), for the Applications the
session may read. Computed on request from the history (``engine.delivery``)
and the outbox; nothing on these pages is secret.

Mounted by :class:`gitward.web.pages.Ui` (``routes``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gitward import errors
from gitward.engine.delivery import computing, gathering
from gitward.store import base as store_base
from gitward.web import charts, sessions

if TYPE_CHECKING:
    from gitward.web import pages

_LOG_LIMIT = 200


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "\N{EN DASH}"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class Reports:
    def __init__(self, ui: pages.Ui) -> None:
        self.ui = ui

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/delivery", self.delivery_page, name="ui-delivery"),
            Route("/notifications", self.notifications_page, name="ui-notifications"),
        ]

    def _visible(self, session: sessions.Session, app: str) -> bool:
        state = self.ui.agent.apps.get(app)
        if state is None:
            return session.principal.all_projects
        return session.principal.can_read(state.app.metadata.project)

    async def delivery_page(self, request: Request) -> Response:
        session = await self.ui._session(request)
        if isinstance(session, Response):
            return session
        params = request.query_params
        settings = self.ui.settings.delivery_metrics
        since_text = params.get("since", "")
        try:
            seconds = gathering.parse_window(since_text, settings.window)
        except ValueError as exc:
            return self.ui.error(request, session, 400, "Bad request", str(exc))
        app = params.get("app") or None
        if app is not None and not self._visible(session, app):
            return self.ui.error(request, session, 404, "Not found", f"no Application {app!r}")
        scope = gathering.Scope(app=app, project=params.get("project") or None)
        until = self.ui.agent.clock()
        try:
            report = await gathering.for_agent(
                self.ui.agent,
                scope,
                since=until - timedelta(seconds=seconds),
                until=until,
                visible=lambda name: self._visible(session, name),
            )
        except errors.GitwardError as exc:
            return self.ui.error(request, session, 503, "Unavailable", str(exc))
        stored = await self.ui.agent.store.list_status()
        figures = report.total.as_dict()
        label = "%m-%d" if len(report.buckets) <= 62 else "%Y-%m-%d"
        buckets = report.buckets
        return self.ui.page(
            request,
            session,
            "delivery.html",
            report=report,
            figures=figures,
            scope=scope,
            since_text=since_text or f"{seconds / 86400:g}d",
            duration=_duration,
            projects=sorted({s.app.metadata.project for s in self.ui._readable(session)}),
            apps=sorted(
                {s.name for s in self.ui._readable(session)}
                | {r.name for r in stored if self._visible(session, r.name)}
            ),
            rows=[(name, f.as_dict()) for name, f in report.applications.items()],
            charts=[
                charts.bars(
                    "Deployments per period",
                    [
                        charts.Point(
                            b.start.strftime(label),
                            float(b.figures.deployments),
                            float(b.figures.failed_deployments),
                        )
                        for b in buckets
                    ],
                    what="deployments",
                    part_what="failed",
                ),
                charts.line(
                    "Lead time for changes (p50)",
                    [
                        charts.Point(
                            b.start.strftime(label),
                            computing.percentile(b.figures.lead_times, 0.5),
                        )
                        for b in buckets
                    ],
                ),
                charts.line(
                    "Change failure rate (%)",
                    [
                        charts.Point(
                            b.start.strftime(label),
                            None
                            if b.figures.change_failure_rate is None
                            else b.figures.change_failure_rate * 100,
                        )
                        for b in buckets
                    ],
                    unit="%",
                ),
                charts.line(
                    "Time to restore (p50)",
                    [
                        charts.Point(
                            b.start.strftime(label), computing.percentile(b.figures.restores, 0.5)
                        )
                        for b in buckets
                    ],
                ),
            ],
        )

    async def notifications_page(self, request: Request) -> Response:
        session = await self.ui._session(request)
        if isinstance(session, Response):
            return session
        store: Any = self.ui.agent.store
        records: list[store_base.DeliveryRecord] = []
        if hasattr(store, "list_deliveries"):
            records = await store.list_deliveries(limit=_LOG_LIMIT)
        rows = []
        for record in records:
            if not self._visible(session, record.app):
                continue
            state = record.state.value
            if record.state is store_base.DeliveryState.PENDING and record.attempts:
                state = "retrying"
            rows.append((record, state))
        return self.ui.page(
            request,
            session,
            "notifications.html",
            rows=rows,
            providers=sorted(self.ui.settings.notifications.providers),
        )
