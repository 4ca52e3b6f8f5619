"""Publishing the delivery figures as Prometheus gauges.

:func:`run` recomputes the figures of every Application over
``deliveryMetrics.window`` every ``interval`` seconds (the history changes
slowly; a scrape never waits on the store) and sets the
``gitward_delivery_*`` gauges of :class:`gitward.engine.metrics.Metrics`.
Started beside the agent by ``gitward serve``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog

from gitward import errors
from gitward.engine.delivery import computing, gathering

_log = structlog.get_logger(__name__)

INTERVAL = 300.0


async def publish(agent: Any) -> computing.Report:
    """Compute the figures once and set the gauges; the report computed."""
    until = agent.clock()
    since = until - timedelta(seconds=agent.settings.delivery_metrics.window)
    report = await gathering.for_agent(agent, gathering.Scope(), since=since, until=until)
    for name, figures in report.applications.items():
        agent.metrics.delivery(
            name,
            deployments=figures.deployments,
            per_day=figures.per_day,
            lead_time=(
                computing.percentile(figures.lead_times, 0.5),
                computing.percentile(figures.lead_times, 0.9),
            ),
            failure_rate=figures.change_failure_rate,
            restore=(
                computing.percentile(figures.restores, 0.5),
                computing.percentile(figures.restores, 0.9),
            ),
        )
    return report


async def run(agent: Any, interval: float = INTERVAL) -> None:
    """Publish until cancelled; a failure is logged and tried again next time."""
    await agent.ready.wait()
    while True:
        try:
            await publish(agent)
        except errors.GitwardError as exc:
            _log.warning("delivery figures not published", error=str(exc))
        await asyncio.sleep(interval)
