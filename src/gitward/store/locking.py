"""One agent per SQLite file: an exclusive lock beside the database.

SQLite is the single-replica store. Two ``gitward serve`` on one file would
both reconcile every Application (and, before this guard, the second marked
the first one's running operations failed at start-up), so the agent takes
an exclusive ``flock`` on ``<database>.agent-lock`` for as long as it runs
and a second one is refused with an error naming the file and the process
holding it. Readers (the CLI, tests, backups) open the database without
the lock. ``flock`` rather than ``fcntl`` byte ranges: SQLite uses the latter
on the database itself, and closing any descriptor of a file drops every
``fcntl`` lock the process holds on it.

The lock goes with the process, however it ends (SIGKILL included).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from gitward import errors
from gitward.store import base, storing


class StoreInUse(errors.ConfigError):
    """Another agent already runs on this SQLite database."""

    reason = "StoreInUse"


def lock_path(url: str) -> Path | None:
    """The lock file of a SQLite store URL; None for other databases and ``:memory:``."""
    parsed = storing.database_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    database = Path(parsed.database).expanduser().resolve()
    return database.with_name(database.name + ".agent-lock")


@contextlib.contextmanager
def single_agent(url: str) -> Iterator[None]:
    """Hold the SQLite store for this agent; :class:`StoreInUse` if another has it."""
    lock = AgentLock(url)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


class AgentLock:
    """The lock of one SQLite store, taken by :meth:`acquire` (again: nothing
    happens) and held until :meth:`release` or the end of the process.

    :class:`StoreInUse` when another agent holds it; ``StoreUnavailable``
    (retried by the agent) when the lock file cannot be made, as in a
    read-only directory.
    """

    def __init__(self, url: str) -> None:
        self.path = lock_path(url)
        self._fd: int | None = None

    def acquire(self) -> None:
        path = self.path
        if path is None or self._fd is not None:
            return
        store = path.with_name(path.name.removesuffix(".agent-lock"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise base.StoreUnavailable(
                f"store {store}: cannot create its lock {path}: {exc.strerror}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreInUse(
                f"store {store}: another gitward agent (pid {holder}) "
                f"already uses this SQLite database (lock {path}). SQLite runs one replica; "
                "for several, use a PostgreSQL store and set `replicas.coordinator`"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None
