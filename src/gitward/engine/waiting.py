"""Waiting for health: poll the target until resources are healthy, or time out.

Called by ``engine.syncing`` between sync waves, before PostSync hooks, and by
``gitward sync --wait``. Health checks themselves live in ``gitward.health``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gitward import errors
from gitward.health import assessing
from gitward.model import resources, status
from gitward.targets import base as targets

# Statuses that end a wait successfully: a suspended CronJob or paused
# Deployment is as settled as it will get.
_SETTLED = frozenset({status.HealthStatus.HEALTHY, status.HealthStatus.SUSPENDED})


async def assess(
    target: targets.Target,
    keys: Sequence[resources.ResourceKey],
    *,
    known: Mapping[resources.ResourceKey, Mapping[str, Any]] | None = None,
) -> dict[resources.ResourceKey, status.HealthResult]:
    """Current health of each key; an absent object is Missing. ``known``: objects
    the caller holds as they are now (just written), not read again."""
    known = known or {}
    live: dict[resources.ResourceKey, Mapping[str, Any] | None] = {
        key: known[key] for key in keys if key in known
    }
    missing = [key for key in keys if key not in live]
    if missing:
        live.update(await target.read(missing))
    return {key: _assess_one(live.get(key)) for key in keys}


def _assess_one(obj: Mapping[str, Any] | None) -> status.HealthResult:
    if obj is None:
        return status.HealthResult(status.HealthStatus.MISSING, "not found on the target")
    return assessing.assess(obj)


async def until_healthy(
    target: targets.Target,
    keys: Sequence[resources.ResourceKey],
    *,
    within: float,
    interval: float = 0.5,
    on_progress: Callable[[Mapping[resources.ResourceKey, status.HealthResult]], None]
    | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[resources.ResourceKey, status.HealthResult]:
    """Poll until every key is Healthy or Suspended.

    Raises :class:`gitward.errors.HealthTimeout` naming the resources still not
    healthy (and why) when ``within`` seconds pass first.
    """
    deadline = clock() + within
    while True:
        results = await assess(target, keys)
        if on_progress is not None:
            on_progress(results)
        pending = {k: r for k, r in results.items() if r.status not in _SETTLED}
        if not pending:
            return results
        if clock() >= deadline:
            listed = "; ".join(
                f"{key}: {result.status.value}" + (f" ({result.message})" if result.message else "")
                for key, result in sorted(pending.items())[:10]
            )
            more = f" and {len(pending) - 10} more" if len(pending) > 10 else ""
            raise errors.HealthTimeout(f"not healthy after {within:g}s: {listed}{more}")
        await asyncio.sleep(min(interval, max(0.0, deadline - clock())))
