"""The web UI: server-rendered pages over the agent, live through server-sent events.

The API factory mounts :func:`routes` at ``/`` (``api.app.create(...,
extra_routes=web.routes(agent, settings))``). Layout: ``pages`` (views and
actions), ``sessions`` (login cookie, CSRF), ``streaming`` (SSE fan-out),
``diffs`` (side-by-side Plan views), ``trees`` (owner → owned resource tree),
``templates/`` (Jinja2, autoescaped) and ``static/`` (CSS, JS and the vendored
htmx, see ``static/VENDORED.md``).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from gitward.config import settings as config_settings
from gitward.engine import loop
from gitward.web import pages


def routes(agent: loop.Agent, settings: config_settings.Settings) -> list[BaseRoute]:
    """Every route of the UI: pages at ``/`` and ``/apps/...``, ``/login``,
    ``/logout``, the live stream ``/ui/stream`` and assets under ``/ui/static``.

    Subscribes to ``agent`` once (live updates); call it once per server.
    """
    return pages.Ui(agent, settings).routes()
