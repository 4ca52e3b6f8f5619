"""Secrets referenced from ``gitward.yaml`` (an environment variable or a file), read
when a notification is sent, never stored, logged or shown.

Called by the provider modules. Errors name the reference, never its value.
"""

from __future__ import annotations

import os
from pathlib import Path

from gitward import errors

_MAX_SECRET_BYTES = 64 * 1024


def read(env: str, file: str, what: str) -> str:
    """The secret named by ``env`` or ``file`` ('' when neither is set)."""
    if env:
        value = os.environ.get(env)
        if value is None or not value.strip():
            raise errors.NotificationRejected(f"{what}: environment variable {env} is not set")
        return value.strip()
    if file:
        path = Path(file).expanduser()
        try:
            with path.open("rb") as handle:
                data = handle.read(_MAX_SECRET_BYTES + 1)
        except OSError as exc:
            raise errors.NotificationRejected(
                f"{what}: cannot read secret file {path}: {exc.strerror}"
            ) from None
        if len(data) > _MAX_SECRET_BYTES:
            raise errors.NotificationRejected(f"{what}: secret file {path} is too large")
        value = data.decode("utf-8", "replace").strip()
        if not value:
            raise errors.NotificationRejected(f"{what}: secret file {path} is empty")
        return value
    return ""
