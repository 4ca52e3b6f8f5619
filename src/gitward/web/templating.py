"""The UI's Jinja2 templates (``gitward/web/templates``) and their filters."""

from __future__ import annotations

from datetime import datetime

import jinja2

from gitward.model import operations
from gitward.web import filters as app_filters

STATIC_PATH = "/ui/static"


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
    env.filters["when"] = when
    env.filters["iso"] = lambda t: t.isoformat() if isinstance(t, datetime) else ""
    env.globals["static"] = lambda name: f"{STATIC_PATH}/{name}"
    env.globals["SYNC_FILTERS"] = app_filters.SYNC_FILTERS
    env.globals["HEALTH_FILTERS"] = app_filters.HEALTH_FILTERS
    return env


def when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
