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

import structlog

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
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
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
