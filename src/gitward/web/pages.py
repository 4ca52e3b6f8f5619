"""The web UI's views: server-rendered pages and the fragments live updates swap in.

``gitward.web.routes`` builds one :class:`Ui` per server and returns its
routes; the API factory mounts them at ``/``. Pages read the agent's working
memory (``Agent.apps``) and the store (history, events); actions call the same
agent methods as the REST API and CLI (``sync_now``, ``refresh``,
``suspend``, ``rollback``). Diffs come from the current Plan
(``engine.reconciling``) through the masked views of ``engine.reports``.

Pages work without JavaScript (plain links, forms and a confirmation page per
action); with it, htmx posts actions in place, opens confirmations in a
``<dialog>``, and ``/ui/stream`` (server-sent events) keeps every section
current without a reload.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gitward import errors
from gitward.api import auth
from gitward.config import settings as config_settings
from gitward.engine import loop, projecting, reconciling, rollbacks, states
from gitward.model import operations, status
from gitward.store import base as store_base
from gitward.web import diffs, fleet, replicas, reports, sessions, streaming, trees

_log = structlog.get_logger(__name__)

STATIC_PATH = "/ui/static"
STREAM_PATH = "/ui/stream"
HISTORY_LIMIT = 25
EVENTS_LIMIT = 100
# How long an action's request waits for the agent before answering "started":
# long enough to report an error the agent raises at once (unknown commit).
_ACTION_GRACE = 1.0

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
_SYNC_FILTERS = tuple(s.value for s in status.SyncStatus)
_HEALTH_FILTERS = tuple(h.value for h in status.HealthStatus)


@dataclass(frozen=True, slots=True)
class Filters:
    """The list page's filters, from its query string."""

    text: str = ""
    sync: str = ""
    health: str = ""
    project: str = ""

    @classmethod
    def of(cls, query: Mapping[str, str]) -> Filters:
        sync = query.get("sync", "")
        health = query.get("health", "")
        return cls(
            text=query.get("q", "").strip()[:200],
            sync=sync if sync in _SYNC_FILTERS else "",
            health=health if health in _HEALTH_FILTERS else "",
            project=query.get("project", "").strip()[:100],
        )

    def keep(self, state: states.AppState) -> bool:
        if self.text and self.text.lower() not in state.name.lower():
            return False
        if self.sync and state.sync.value != self.sync:
            return False
        if self.health and state.health.status.value != self.health:
            return False
        return not self.project or state.app.metadata.project == self.project

    def query(self) -> dict[str, str]:
        found = {"q": self.text, "sync": self.sync, "health": self.health, "project": self.project}
        return {k: v for k, v in found.items() if v}


@dataclass(frozen=True, slots=True)
class RollbackChoice:
    """A revision the Application ran before, offered by the rollback dialog."""

    sha: str
    label: str


def environment() -> jinja2.Environment:
    """The templates of ``gitward/web/templates``: autoescaped, and strict, so a
    missing variable is an error rather than an empty string on a page."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gitward.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["short"] = lambda sha: operations.short_revision(str(sha or ""))
    env.filters["when"] = _when
    env.filters["iso"] = lambda t: t.isoformat() if isinstance(t, datetime) else ""
    env.globals["static"] = lambda name: f"{STATIC_PATH}/{name}"
    env.globals["SYNC_FILTERS"] = _SYNC_FILTERS
    env.globals["HEALTH_FILTERS"] = _HEALTH_FILTERS
    return env


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


class Ui:
    """The views of one server over one agent."""

    def __init__(self, agent: loop.Agent, settings: config_settings.Settings) -> None:
        self.agent = agent
        self.settings = settings
        self.sessions = sessions.Sessions(agent.store, settings)
        self.hub = streaming.Hub()
        agent.subscribe(self.hub.notify)
        self.templates = environment()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._plans: dict[str, tuple[tuple[Any, ...], diffs.PlanView | str]] = {}
        self._plan_locks: dict[str, asyncio.Lock] = {}

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

    def _rows(self, session: sessions.Session, filters: Filters) -> str:
        apps = [s for s in self._readable(session) if filters.keep(s)]
        return self.render("_app_rows.html", apps=apps, filters=filters)

    async def list_page(self, request: Request) -> Response:
        session = await self._session(request)
        if isinstance(session, Response):
            return session
        filters = Filters.of(request.query_params)
        readable = self._readable(session)
        apps = [s for s in readable if filters.keep(s)]
        counts = _counts(readable)
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
            "rollback_choices": _rollback_choices(state, history),
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
        plan = await self.current_plan(state)
        template = "_diff.html" if _is_htmx(request) else "diff.html"
        return self.page(request, session, template, state=state, plan=plan)

    async def current_plan(self, state: states.AppState) -> diffs.PlanView | str:
        """The current Plan of ``state``'s Application as views, or why there is none.

        Computed on demand (a render and a dry-run per object) and kept until
        the Application is reconciled again, so many open pages cost one plan.
        """
        fingerprint = (state.revision, state.reconciled_at, state.pinned_revision, state.app)
        lock = self._plan_locks.setdefault(state.name, asyncio.Lock())
        async with lock:
            cached = self._plans.get(state.name)
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            result: diffs.PlanView | str
            try:
                project = projecting.in_catalog(self.agent.catalog, state.app)
                desired = await reconciling.desired_state(
                    self.agent.runtime,
                    state.app,
                    revision=state.pinned_revision,
                    max_age=self.agent.options.poll_interval,
                    project=project,
                )
                plan = await reconciling.plan(
                    self.agent.runtime, state.app, desired, project=project
                )
                result = diffs.views(plan)
            except errors.GitwardError as exc:
                result = f"{exc.reason}: {exc}"
            self._plans[state.name] = (fingerprint, result)
            for gone in [name for name in self._plans if name not in self.agent.apps]:
                del self._plans[gone]
                self._plan_locks.pop(gone, None)
            return result

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
            rollback_choices=_rollback_choices(state, history),
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
            message = await self._run(state, action, who, form)
        except errors.GitwardError as exc:
            return self.error(request, session, 409, "Not done", str(exc))
        if _is_htmx(request):
            return _secured(HTMLResponse(self.render("_notice.html", kind="ok", message=message)))
        return _secured(
            RedirectResponse(_path(f"/apps/{urllib.parse.quote(state.name)}"), status_code=303)
        )

    async def _run(
        self, state: states.AppState, action: str, who: str, form: Mapping[str, Any]
    ) -> str:
        name = state.name
        if action == "refresh":
            self.agent.refresh(name, reason=f"refresh requested ({who})")
            return f"Refresh of {name} queued."
        if action in ("suspend", "resume"):
            await self.agent.suspend(name, action == "suspend")
            return f"{name} {'suspended' if action == 'suspend' else 'resumed'}."
        if action == "release":
            await self.agent.unpin(name)
            return f"{name} released from its pin; automated sync as its policy says."
        if action == "sync":
            done = await self._background(
                self.agent.sync_now(name, trigger=f"manual ({who})"), name
            )
            if isinstance(done, reconciling.SyncReport):
                op = done.operation
                return f"Sync of {name}: {op.phase.value}. {op.message}".strip()
            return f"Sync of {name} started."
        return await self._rollback(
            state, str(form.get("mode") or "revert"), str(form.get("to") or "")
        )

    async def _rollback(self, state: states.AppState, mode: str, to: str) -> str:
        """``revert`` pushes a commit reverting what broke the Application since
        its last good revision; ``pin`` holds it at an earlier good revision."""
        name = state.name
        rollback = self.agent.rollback
        if mode == "pin":
            known = {c.sha for c in _rollback_choices(state, await self._history(name))}
            if to not in known:
                raise errors.InputError(
                    f"{to[:12] or 'no revision'} is not a revision {name} synced before"
                )
            done = await self._background(rollback(name, to=to), name)
            if done is not None:
                return f"{name} pinned to {to[:12]}: automated sync paused until released."
            return f"Pinning {name} to {to[:12]}…"
        if mode != "revert":
            raise errors.InputError(f"unknown rollback mode {mode!r} (revert or pin)")
        done = await self._background(rollback(name), name)
        if isinstance(done, rollbacks.RollbackResult):
            reverted = ", ".join(c[:12] for c in done.reverted)
            then = "it syncs on its own" if state.automated else "sync it to apply the revert"
            return f"Reverted {reverted} in {done.pushed_sha[:12]}: {then}."
        return f"Reverting the commits that broke {name}…"

    async def _history(self, name: str) -> list[store_base.OperationRecord]:
        return await self.agent.store.list_operations(name, limit=HISTORY_LIMIT)

    async def _background(self, work: Awaitable[Any], name: str) -> Any:
        """Run ``work`` beyond this request (a sync may wait for health); its
        result, or what it raised, when it ends within a moment, else None."""

        async def run() -> Any:
            return await work

        task = asyncio.create_task(run(), name=f"ui action {name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        done, _ = await asyncio.wait({task}, timeout=_ACTION_GRACE)
        return task.result() if done else None

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.warning("ui action failed", task=task.get_name(), error=str(task.exception()))

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
            render = self._list_renderer(session, Filters.of(query))

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

    def _list_renderer(self, session: sessions.Session, filters: Filters) -> streaming.Render:
        async def render(changed: frozenset[str] | None) -> Sequence[tuple[str, str]]:
            counts = self.render(
                "_counts.html",
                counts=_counts(self._readable(session)),
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
            fingerprint = _plan_fingerprint(state)
            if changed is not None and last_plan and last_plan[0] != fingerprint:
                out.append(("plan-stale", fingerprint_text(fingerprint)))
            last_plan[:] = [fingerprint]
            return out

        return render


def _counts(apps: Sequence[states.AppState]) -> dict[str, int]:
    return {
        "total": len(apps),
        "synced": sum(s.sync is status.SyncStatus.SYNCED for s in apps),
        "out_of_sync": sum(s.sync is status.SyncStatus.OUT_OF_SYNC for s in apps),
        "unhealthy": sum(
            s.health.status not in (status.HealthStatus.HEALTHY, status.HealthStatus.SUSPENDED)
            for s in apps
        ),
    }


def _plan_fingerprint(state: states.AppState) -> tuple[Any, ...]:
    """What makes the shown diff outdated. While out of sync every reconcile
    may see other live values (drift moving on), so its time counts too."""
    return (
        state.revision,
        state.synced_revision,
        state.sync,
        tuple(sorted(state.out_of_sync)),
        state.reconciled_at if state.out_of_sync else None,
    )


def fingerprint_text(fingerprint: tuple[Any, ...]) -> str:
    return str(hash(fingerprint))


def _rollback_choices(
    state: states.AppState, history: Sequence[store_base.OperationRecord]
) -> list[RollbackChoice]:
    """Revisions that synced successfully before, newest first, the current one left out."""
    seen = {state.synced_revision}
    choices = []
    for record in history:
        op = record.operation
        if op.phase is not operations.OperationPhase.SUCCEEDED or op.dry_run:
            continue
        sha = op.revision.sha
        if not sha or sha in seen:
            continue
        seen.add(sha)
        subject = op.revision.message.splitlines()[0] if op.revision.message else ""
        label = f"{sha[:12]} {subject}".strip()
        if op.revision.author:
            label += f" ({op.revision.author})"
        choices.append(RollbackChoice(sha=sha, label=label))
    return choices


def _path(path: str, **query: str) -> str:
    """A path on this server; relative, so it holds behind any proxy."""
    return f"{path}?{urllib.parse.urlencode(query)}" if query else path


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _secured(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
