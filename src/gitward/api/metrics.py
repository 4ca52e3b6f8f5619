"""``GET /metrics``: the agent's Prometheus metrics, in the text exposition format.

Serves the agent's own registry (``engine.metrics.Metrics``, one per agent,
never the process-wide default) plus, computed at scrape time, the queue depth
and one ``gitward_app_info`` series per Application (sync and health as
labels, as Argo CD's ``argocd_app_info``). Metric labels name every
Application, so a caller needs read access to every Project (``*``), or
anonymous read-only access.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gitward.api import context, problems
from gitward.engine import loop
from gitward.engine import metrics as engine_metrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def of(agent: loop.Agent) -> engine_metrics.Metrics:
    """The agent's metrics; a fresh set for an agent built without them."""
    found = getattr(agent, "metrics", None)
    if isinstance(found, engine_metrics.Metrics):
        return found
    return engine_metrics.Metrics()


class _Applications(Collector):
    def __init__(self, agent: loop.Agent) -> None:
        self._agent = agent

    def collect(self) -> Iterator[GaugeMetricFamily]:
        info = GaugeMetricFamily(
            "gitward_app_info",
            "One series per Application, labelled with its sync and health status.",
            labels=["app", "project", "sync", "health", "suspended"],
        )
        for name, state in sorted(self._agent.apps.items()):
            info.add_metric(
                [
                    name,
                    state.app.metadata.project,
                    state.sync.value,
                    state.health.status.value,
                    str(state.is_suspended).lower(),
                ],
                1.0,
            )
        yield info


def routes(ctx: context.Context) -> list[BaseRoute]:
    engine = of(ctx.agent)
    scraped = CollectorRegistry(auto_describe=True)
    scraped.register(_Applications(ctx.agent))

    async def serve(request: Request) -> Response:
        principal = await ctx.principal(request)
        principal.require_all_projects("metrics")
        engine.queue_depth.set(len(ctx.agent.queue))
        body = generate_latest(engine.registry) + generate_latest(scraped)
        return Response(body, media_type=CONTENT_TYPE)

    return [Route("/metrics", problems.guarded(serve), methods=["GET"])]
