"""Reading the files people write: Application files and the agent configuration.

YAML goes through the render stage's guarded loader (size, depth and alias
limits) even here: an Application file may come from Git (app of apps), and
a configuration file is no more trusted than any other input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitward import errors
from gitward.config import applications, settings
from gitward.render import base as render_base
from gitward.render import loading

_LIMITS = render_base.Limits(max_file_bytes=1024 * 1024, max_documents=100)


def _documents(path: Path) -> list[Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise errors.ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise errors.ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > _LIMITS.max_file_bytes:
        raise errors.ConfigError(
            f"{path}: {len(data)} bytes is over the {_LIMITS.max_file_bytes}-byte limit"
        )
    try:
        return [d for d in loading.load_documents(data, str(path), _LIMITS) if d is not None]
    except errors.RenderError as exc:
        raise errors.ConfigError(str(exc)) from None


def load_application(path: Path) -> applications.Application:
    """The one Application declared in ``path``."""
    docs = _documents(path)
    if len(docs) != 1:
        raise errors.ConfigError(f"{path}: expected one Application document, found {len(docs)}")
    return applications.parse(docs[0], str(path))


def load_settings(path: Path) -> settings.Settings:
    """The agent configuration in ``path`` (an empty file means all defaults)."""
    docs = _documents(path)
    if len(docs) > 1:
        raise errors.ConfigError(f"{path}: expected one document, found {len(docs)}")
    return settings.parse(docs[0] if docs else None, str(path))
