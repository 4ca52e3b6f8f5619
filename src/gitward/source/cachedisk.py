"""The cache disk of the git mirrors: whether it can take a fetch, and what
went wrong in it, in words that name the disk rather than the repository."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pygit2

_LOW_SPACE = 1 << 20


def full(path: Path) -> str:
    """Why the file system holding ``path`` cannot take a fetch ('' when it can)."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return ""
    free = stats.f_bavail * stats.f_frsize
    if free < _LOW_SPACE:
        return f"no space left on the cache disk ({free // 1024} KiB free in {path})"
    if stats.f_files and not stats.f_favail:
        return f"no inodes left on the cache disk ({path})"
    return ""


def problem(cache_dir: Path, exc: OSError | pygit2.GitError) -> str:
    """What went wrong in the cache directory, in words that name it."""
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    found = full(cache_dir)
    if found or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
        return found or f"no space left on the cache disk ({cache_dir})"
    return f"cache directory {cache_dir}: {detail or type(exc).__name__}"
