"""Running the agent's automation policies until cancelled: image policies
(``imaging.watch_images``) and chart policies (``charting.watch_charts``).

One task a policy, each doing a round every interval. A round looks for a newer
version and commits it (through ``source.committing``, which re-applies the
edit on a newer head when another push lands first). A failed round is logged,
recorded in the policy's status and retried with exponential backoff from the
interval up to a ceiling; it never stops the other policies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import structlog

from gitward import errors
from gitward.source import committing

_log = structlog.get_logger(__name__)


class Status(Protocol):
    """What a round records of its failure in a policy's status."""

    error: str
    reason: str


StatusT = TypeVar("StatusT", bound=Status)


@dataclass(frozen=True, slots=True)
class Policy(Generic[StatusT]):
    """One policy as the loop sees it: ``check`` does one round, recording in
    the status it is given, and returns what it pushed (None when nothing moved)."""

    name: str
    interval: float
    check: Callable[[StatusT], Awaitable[committing.Pushed | None]]


async def run(
    kind: str,
    policies: Sequence[Policy[StatusT]],
    new_status: Callable[[], StatusT],
    *,
    statuses: dict[str, StatusT] | None,
    on_commit: Callable[[str, committing.Pushed], None] | None,
    sleep: Callable[[float], Awaitable[None]],
    max_backoff: float,
) -> None:
    """Run every policy of ``kind`` (``image``, ``chart``: in errors, logs and
    task names) until cancelled.

    Names declared twice are a :class:`gitward.errors.ConfigError` before
    anything runs. ``statuses`` gets a status per policy (kept if already
    there); ``on_commit(name, pushed)`` is called after each commit pushed.
    """
    names = [p.name for p in policies]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise errors.ConfigError(f"{kind} policy names declared twice: {', '.join(duplicated)}")
    shared = statuses if statuses is not None else {}
    for name in names:
        shared.setdefault(name, new_status())

    async def rounds(policy: Policy[StatusT]) -> None:
        status = shared[policy.name]
        failures = 0
        while True:
            delay = policy.interval
            try:
                pushed = await policy.check(status)
            except errors.GitwardError as exc:
                failures += 1
                status.error, status.reason = exc.message, exc.reason
                delay = min(policy.interval * 2 ** min(failures - 1, 16), max_backoff)
                delay = max(delay, policy.interval)
                _log.warning(
                    f"{kind} policy failed",
                    policy=policy.name,
                    reason=exc.reason,
                    error=exc.message,
                    retry_in=delay,
                )
            else:
                failures = 0
                status.error = status.reason = ""
                if pushed is not None and on_commit is not None:
                    on_commit(policy.name, pushed)
            await sleep(delay)

    tasks = [asyncio.create_task(rounds(p), name=f"{kind}-policy-{p.name}") for p in policies]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
