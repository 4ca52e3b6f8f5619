"""Log configuration for every gitward process: structlog to stderr.

stdout belongs to the command's output (YAML, JSON, tables), so logs never
go there. ``GITWARD_LOG_LEVEL`` (debug, info, warning, error; default
warning for one-shot commands) and ``GITWARD_LOG_FORMAT`` (console or json)
choose what is written.
"""

from __future__ import annotations

import logging
import os
import sys


def _import_structlog_plain() -> None:
    """Import structlog without rich's console, traceback renderer and pretty-printer.

    When rich is installed, structlog imports all three (with pygments and
    attrs) to render exceptions: ~30 ms of every command's start. gitward's
    logs render exceptions as plain text (``configure``), so structlog is
    imported with those modules marked missing (``None`` in ``sys.modules``
    makes their import fail), and the marks are taken away at once: rich
    imports them later when a command prints through it. Has no effect if
    structlog is already imported; :class:`gitward.cli.lazy_groups.Lazy`
    imports this module before a command that logs, so it comes first.
    """
    if "structlog" in sys.modules:
        return
    marked = [
        name
        for name in ("rich.console", "rich.traceback", "rich.pretty")
        if name not in sys.modules
    ]
    for name in marked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401
    finally:
        for name in marked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


_import_structlog_plain()

import structlog  # noqa: E402

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure(default_level: str = "warning") -> None:
    level_name = os.environ.get("GITWARD_LOG_LEVEL", default_level).lower()
    level = _LEVELS.get(level_name, logging.WARNING)
    json_format = os.environ.get("GITWARD_LOG_FORMAT", "console").lower() == "json"
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json_format
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
