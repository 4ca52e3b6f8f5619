"""Whether each target answers: connection health for the API, UI, CLI and metrics.

The agent runs one :class:`Monitor`. It probes every declared target on a
schedule (``Target.probe``: for Kubernetes, ``GET /version``) with the
target's own timeout, each target in its own task, so a cluster that hangs
delays only its own row. Workers also report what they meet
(:meth:`Monitor.failed` on a ``TargetUnavailable``, :meth:`Monitor.succeeded`
after a sync), so a cluster that went away shows at once, not at the next probe.

``since`` is when the current state (reachable or not) began: "unreachable
since 14:02" is what an operator needs, not the time of the latest probe.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog

from gitward import errors
from gitward.targets import base as targets

_log = structlog.get_logger("gitward.targets")
DEFAULT_INTERVAL = 15.0


@dataclass(frozen=True, slots=True)
class Connection:
    """One target's connection health."""

    name: str
    labels: dict[str, str]
    reachable: bool | None = None  # None: not probed yet
    server: str = ""
    version: str = ""
    last_error: str = ""
    since: datetime | None = None
    checked_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "labels": dict(self.labels),
            "reachable": self.reachable,
            "server": self.server,
            "version": self.version,
            "lastError": self.last_error,
            "since": self.since.isoformat() if self.since else None,
            "checkedAt": self.checked_at.isoformat() if self.checked_at else None,
        }


class Monitor:
    """Connection health of every declared target (see module doc)."""

    def __init__(
        self,
        declared: Iterable[tuple[str, dict[str, str]]],
        connect: Callable[[str], targets.Target],
        *,
        timeout: Callable[[str], float],
        interval: float = DEFAULT_INTERVAL,
        on_change: Callable[[Connection], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._rows = {name: Connection(name, dict(labels)) for name, labels in declared}
        self._connect = connect
        self._timeout = timeout
        self._interval = interval
        self._on_change = on_change
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []

    def declare(self, declared: Iterable[tuple[str, dict[str, str]]]) -> None:
        """The targets changed (configuration reloaded): new ones are probed,
        removed ones dropped, labels updated."""
        wanted = dict(declared)
        for name in [n for n in self._rows if n not in wanted]:
            del self._rows[name]
        for name, labels in wanted.items():
            row = self._rows.get(name)
            if row is None:
                self._rows[name] = Connection(name, dict(labels))
                if self._tasks:
                    self._tasks.append(
                        asyncio.create_task(self._probe_loop(name), name=f"probe {name}")
                    )
            else:
                self._rows[name] = replace(row, labels=dict(labels))

    def rows(self) -> list[Connection]:
        return [self._rows[name] for name in sorted(self._rows)]

    def get(self, name: str) -> Connection | None:
        return self._rows.get(name)

    def start(self) -> None:
        for name in self._rows:
            self._tasks.append(asyncio.create_task(self._probe_loop(name), name=f"probe {name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def probe(self, name: str) -> Connection | None:
        """Probe ``name`` now and record the answer."""
        if name not in self._rows:
            return None
        try:
            target = self._connect(name)
            answer = await asyncio.wait_for(target.probe(), self._timeout(name))
        except TimeoutError:
            self.failed(name, f"no answer within {self._timeout(name):g}s")
        except errors.GitwardError as exc:
            self.failed(name, str(exc))
        else:
            self._record(name, True, "", (answer.server, answer.version))
        return self._rows.get(name)

    def failed(self, name: str, error: str) -> None:
        """A probe or a worker found ``name`` unreachable."""
        self._record(name, False, error)

    def succeeded(self, name: str) -> None:
        """A worker just talked to ``name`` successfully."""
        self._record(name, True, "")

    def _record(
        self, name: str, reachable: bool, error: str, found: tuple[str, str] | None = None
    ) -> None:
        row = self._rows.get(name)
        if row is None:
            return
        now = self._clock()
        changed = row.reachable is not reachable
        updated = replace(
            row,
            reachable=reachable,
            last_error=error if not reachable else row.last_error,
            since=now if changed else row.since,
            checked_at=now,
            server=found[0] if found else row.server,
            version=found[1] if found else row.version,
        )
        self._rows[name] = updated
        if changed:
            if reachable:
                _log.info("target reachable", target=name, version=updated.version)
            else:
                _log.warning("target unreachable", target=name, error=error)
            if self._on_change is not None:
                self._on_change(updated)

    async def _probe_loop(self, name: str) -> None:
        while name in self._rows:
            await self.probe(name)
            await asyncio.sleep(self._interval)
