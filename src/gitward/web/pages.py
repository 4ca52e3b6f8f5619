"""The web UI's views: server-rendered pages and the fragments live updates swap in.

``gitward.web.routes`` builds one :class:`Ui` per server and returns its
routes; the API factory mounts them at ``/``. Pages read the agent's working
memory (``Agent.apps``) and the store (history, events); actions are carried
out by ``web.acting`` with the same agent methods as the REST API and CLI.
Diffs come from the current Plan (``web.planviews``) through the masked views
of ``engine.reports``; the list's filters are ``web.filters``, the templates
``web.templating``.

Pages work without JavaScript (plain links, forms and a confirmation page per
action); with it, htmx posts actions in place, opens confirmations in a
``<dialog>``, and ``/ui/stream`` (server-sent events) keeps every section
current without a reload.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gitward import errors
from gitward.api import auth
from gitward.config import settings as config_settings
from gitward.engine import loop, states
from gitward.web import (
    acting,
    fleet,
    planviews,
    replicas,
    reports,
    sessions,
    streaming,
    templating,
    trees,
)
from gitward.web import filters as app_filters

_log = structlog.get_logger(__name__)

STATIC_PATH = templating.STATIC_PATH
STREAM_PATH = "/ui/stream"
HISTORY_LIMIT = 25
EVENTS_LIMIT = 100
# How long an action's request waits for the agent before answering "started":
# long enough to report an error the agent raises at once (unknown commit).

# Everything the pages load comes from this server; nothing may be framed.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

# SSE event → the fragment of the application page it replaces.
_APP_FRAGMENTS = (
    ("status", "_app_status.html"),
    ("actions", "_actions.html"),
    ("resources", "_resources.html"),
    ("history", "_history.html"),
    ("events", "_events.html"),
)

ACTIONS = ("sync", "refresh", "suspend", "resume", "release", "rollback")


class Ui:
    """The views of one server over one agent."""

    def __init__(self, agent: loop.Agent, settings: config_settings.Settings) -> None:
        self.agent = agent
        self.settings = settings
        self.sessions = sessions.Sessions(agent.store, settings)
        self.hub = streaming.Hub()
        agent.subscribe(self.hub.notify)
        self.templates = templating.environment()
        self.acting = acting.Acting(agent, history_limit=HISTORY_LIMIT)
        self.plans = planviews.Plans(agent)

    @property
    def can_rollback(self) -> bool:
        return hasattr(self.agent, "rollback")

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.list_page, name="ui-apps"),
            Route("/login", self.login_page, methods=["GET"], name="ui-login"),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"], name="ui-logout"),
            Route("/apps/{name}", self.app_page, name="ui-app"),
            Route("/apps/{name}/diff", self.diff_page, name="ui-diff"),
            Route("/apps/{name}/confirm/{action}", self.confirm_page, name="ui-confirm"),
            Route("/apps/{name}/{action}", self.act, methods=["POST"], name="ui-act"),
            Route(STREAM_PATH, self.stream, name="ui-stream"),
            *reports.Reports(self).routes(),
            *fleet.Fleet(self).routes(),
            *replicas.Replicas(self).routes(),
            Mount(
                STATIC_PATH,
                app=StaticFiles(packages=[("gitward.web", "static")]),
                name="ui-static",
            ),
        ]

    # --- rendering ------------------------------------------------------------------------

    def render(self, template: str, **context: Any) -> str:
        return self.templates.get_template(template).render(**context)

    def page(
        self,
        request: Request,
        session: sessions.Session | None,
        template: str,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        html = self.render(
            template,
            request=request,
            session=session,
            can_rollback=self.can_rollback,
            **context,
        )
        return _secured(HTMLResponse(html, status_code=status_code))

    def error(
        self,
        request: Request,
        session: sessions.Session | None,
        code: int,
        title: str,
        message: str,
    ) -> Response:
        if _is_htmx(request):
            html = self.render("_notice.html", kind="error", message=message)
            return _secured(HTMLResponse(html, status_code=code))
        return self.page(
            request, session, "error.html", status_code=code, title=title, message=message
        )

    # --- sessions -------------------------------------------------------------------------

    async def _session(self, request: Request) -> sessions.Session | Response:
        """The caller's session, or the answer to send instead: a redirect to
        the login page (401 for htmx and the stream), 503 when the store that
        holds the tokens cannot be read."""
        try:
            session = await self.sessions.identify(request)
        except errors.RetryableError as exc:
            return self.error(request, None, 503, "Unavailable", f"cannot check the login: {exc}")
        if session is not None:
            return session
        if _is_htmx(request) or request.url.path == STREAM_PATH:
            return _secured(Response("log in first", status_code=401))
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(_path("/login", next=target), status_code=303)
        if request.cookies.get(sessions.COOKIE):
            sessions.Sessions.log_out(response, request)  # revoked: drop it
        return _secured(response)

    async def _form(self, request: Request) -> dict[str, str]:
        """The posted fields; none for a post no UI form makes (too large, too
        many fields), which then fails the CSRF check like any forged post."""
        try:
            return await sessions.read_form(request)
        except (sessions.FormTooLarge, ValueError):
            return {}

    async def login_page(self, request: Request) -> Response:
        next_path = sessions.local_path(request.query_params.get("next", "/"))
        return self.page(request, None, "login.html", next=next_path, message="")

    async def login(self, request: Request) -> Response:
        form = await self._form(request)
        next_path = sessions.local_path(str(form.get("next") or "/"))
        if not sessions.same_origin(request):
            return self.error(request, None, 403, "Forbidden", "cross-site login refused")
        token = str(form.get("token") or "")
        try:
            principal = await self.sessions.check_token(token)
        except auth.Unauthorized:
            return self.page(
                request,
                None,
                "login.html",
                status_code=401,
                next=next_path,
                message="That token is not valid (unknown or revoked).",
            )
        except errors.RetryableError as exc:
            return self.error(request, None, 503, "Unavailable", f"cannot check the token: {exc}")
        _log.info("ui login", token=principal.name)
        response = RedirectResponse(next_path, status_code=303)
        sessions.Sessions.log_in(response, request, token)
        return _secured(response)

    async def logout(self, request: Request) -> Response:
        session = await self.sessions.identify(request)
        form = await self._form(request)
        if session is not None and not self.sessions.csrf_ok(
            request, session, str(form.get(sessions.CSRF_FIELD) or "")
        ):
            return self.error(request, session, 403, "Forbidden", "the form has expired: reload")
        response = RedirectResponse("/login", status_code=303)
        sessions.Sessions.log_out(response, request)
        return _secured(response)

    # --- the application list -------------------------------------------------------------

    def _readable(self, session: sessions.Session) -> list[states.AppState]:
        return [
            state
            for _, state in sorted(self.agent.apps.items())
            if session.principal.can_read(state.app.metadata.project)
        ]

    def _rows(self, session: sessions.Session, filters: app_filters.Filters) -> str:
        apps = [s for s in self._readable(session) if filters.keep(s)]
        return self.render("_app_rows.html", apps=apps, filters=filters)

    async def list_page(self, request: Request) -> Response:
        session = await self._session(request)
        if isinstance(session, Response):
            return session
        filters = app_filters.Filters.of(request.query_params)
        readable = self._readable(session)
        apps = [s for s in readable if filters.keep(s)]
        counts = app_filters.counts(readable)
        projects = sorted({s.app.metadata.project for s in readable})
        stream_query = {"view": "list", **filters.query()}
        return self.page(
            request,
            session,
            "apps.html",
            apps=apps,
            filters=filters,
            counts=counts,
            projects=projects,
            ready=self.agent.ready.is_set(),
            stream_url=_path(STREAM_PATH, **stream_query),
        )

    # --- one application ------------------------------------------------------------------

    def _app(
        self, request: Request, session: sessions.Session, name: str | None = None
    ) -> states.AppState | Response:
        name = request.path_params["name"] if name is None else name
        state = self.agent.apps.get(name)
        if state is None or not session.principal.can_read(state.app.metadata.project):
            return self.error(
                request, session, 404, "Not found", f"Application {name!r} is not declared"
            )
        return state

    async def _session_app(
        self, request: Request
    ) -> tuple[sessions.Session, states.AppState] | Response:
        """The caller's session and the Application the path names, or the
        answer to send instead (login redirect, 404)."""
        session = await self._session(request)
        if isinstance(session, Response):
            return session
        state = self._app(request, session)
        if isinstance(state, Response):
            return state
        return session, state

    def _offered(self, action: str) -> bool:
        return action in ACTIONS and (action != "rollback" or self.can_rollback)

    async def _sections(self, state: states.AppState) -> dict[str, Any]:
        store = self.agent.store
        history = await store.list_operations(state.name, limit=HISTORY_LIMIT)
        events = await store.list_events(app=state.name, limit=EVENTS_LIMIT)
        target = self.agent.runtime.target(state.app.spec.destination.target)
        tree = await trees.collect(target, state.resource_statuses)
        return {
            "history": history,
            "events": list(reversed(events)),
            "tree": tree,
            "rollback_choices": acting.rollback_choices(state, history),
        }

    async def app_page(self, request: Request) -> Response:
        found = await self._session_app(request)
        if isinstance(found, Response):
            return found
        session, state = found
        try:
            sections = await self._sections(state)
        except errors.GitwardError as exc:
            return self.error(request, session, 503, "Unavailable", str(exc))
        return self.page(
            request,
            session,
            "app.html",
            state=state,
            may_act=session.principal.can_admin(state.app.metadata.project),
            stream_url=_path(STREAM_PATH, view="app", app=state.name),
            **sections,
        )

    async def diff_page(self, request: Request) -> Response:
        found = await self._session_app(request)
        if isinstance(found, Response):
            return found
        session, state = found
        plan = await self.plans.current(state)
        template = "_diff.html" if _is_htmx(request) else "diff.html"
        return self.page(request, session, template, state=state, plan=plan)

    # --- actions --------------------------------------------------------------------------

    async def confirm_page(self, request: Request) -> Response:
        found = await self._session_app(request)
        if isinstance(found, Response):
            return found
        session, state = found
        action = request.path_params["action"]
        if not self._offered(action):
            return self.error(request, session, 404, "Not found", f"no action {action!r}")
        history = await self.agent.store.list_operations(state.name, limit=HISTORY_LIMIT)
        return self.page(
            request,
            session,
            "confirm.html",
            state=state,
            action=action,
            may_act=session.principal.can_admin(state.app.metadata.project),
            rollback_choices=acting.rollback_choices(state, history),
        )

    async def act(self, request: Request) -> Response:
        found = await self._session_app(request)
        if isinstance(found, Response):
            return found
        session, state = found
        action = request.path_params["action"]
        form = await self._form(request)
        if not self._offered(action):
            return self.error(request, session, 404, "Not found", f"no action {action!r}")
        if not self.sessions.csrf_ok(request, session, str(form.get(sessions.CSRF_FIELD) or "")):
            return self.error(
                request,
                session,
                403,
                "Forbidden",
                "this form has expired or was not sent by this page: reload and try again",
            )
        project = state.app.metadata.project
        if not session.principal.can_admin(project):
            return self.error(
                request,
                session,
                403,
                "Forbidden",
                f"{session.principal.describe()} may not {action} Application {state.name!r}",
            )
        who = f"ui: {session.principal.name}"
        _log.info("ui action", app=state.name, action=action, token=session.principal.name)
        try:
            message = await self.acting.run(state, action, who, form)
        except errors.GitwardError as exc:
            return self.error(request, session, 409, "Not done", str(exc))
        if _is_htmx(request):
            return _secured(HTMLResponse(self.render("_notice.html", kind="ok", message=message)))
        return _secured(
            RedirectResponse(_path(f"/apps/{urllib.parse.quote(state.name)}"), status_code=303)
        )

    # --- live updates -----------------------------------------------------------------------

    async def stream(self, request: Request) -> Response:
        session = await self._session(request)
        if isinstance(session, Response):
            return session
        query = request.query_params
        if query.get("view") == "app":
            state = self._app(request, session, query.get("app", ""))
            if isinstance(state, Response):
                return state
            render = self._app_renderer(session, state.name)
        else:
            render = self._list_renderer(session, app_filters.Filters.of(query))

        async def allowed() -> bool:
            try:
                current = await self.sessions.identify(request)
            except errors.RetryableError:
                return True  # the token store hiccuped: keep streaming, check next time
            return current is not None and current.principal == session.principal

        ended = self.render(
            "_notice.html", kind="error", message="Your session ended: reload to log in again."
        )
        response = StreamingResponse(
            streaming.stream(self.hub, render, allowed=allowed, ended=("notice", ended)),
            media_type="text/event-stream",
        )
        response.headers["X-Accel-Buffering"] = "no"  # proxies must not hold events back
        return _secured(response)

    def _list_renderer(
        self, session: sessions.Session, filters: app_filters.Filters
    ) -> streaming.Render:
        async def render(changed: frozenset[str] | None) -> Sequence[tuple[str, str]]:
            counts = self.render(
                "_counts.html",
                counts=app_filters.counts(self._readable(session)),
                ready=self.agent.ready.is_set(),
            )
            return [("apps", self._rows(session, filters)), ("counts", counts)]

        return render

    def _app_renderer(self, session: sessions.Session, name: str) -> streaming.Render:
        last_plan: list[tuple[Any, ...]] = []

        async def render(changed: frozenset[str] | None) -> Sequence[tuple[str, str]]:
            if changed is not None and name not in changed:
                return []
            state = self.agent.apps.get(name)
            if state is None:
                notice = self.render(
                    "_notice.html", kind="error", message=f"{name} is no longer declared in Git."
                )
                return [("notice", notice)]
            may_act = session.principal.can_admin(state.app.metadata.project)
            try:
                sections = await self._sections(state)
            except errors.GitwardError as exc:
                notice = self.render("_notice.html", kind="error", message=str(exc))
                return [("notice", notice)]
            context = {
                "state": state,
                "may_act": may_act,
                "session": session,
                "can_rollback": self.can_rollback,
                **sections,
            }
            out = [(event, self.render(template, **context)) for event, template in _APP_FRAGMENTS]
            fingerprint = planviews.staleness(state)
            if changed is not None and last_plan and last_plan[0] != fingerprint:
                out.append(("plan-stale", planviews.fingerprint_text(fingerprint)))
            last_plan[:] = [fingerprint]
            return out

        return render


def _path(path: str, **query: str) -> str:
    """A path on this server; relative, so it holds behind any proxy."""
    return f"{path}?{urllib.parse.urlencode(query)}" if query else path


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _secured(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
