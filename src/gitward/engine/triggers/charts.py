"""The chart-policy trigger: follow chart repositories (``engine.charting``); when a
policy pushes a commit, fetch that repository at once and queue the Applications
reading it whose revision moved (``policy_commits``), rather than waiting for the
next poll."""

from __future__ import annotations

from gitward.engine import charting, context
from gitward.engine.triggers import policy_commits


class ChartPolicies:
    def __init__(self, ctx: context.Context) -> None:
        self._ctx = ctx
        self._commits = policy_commits.PolicyCommits(
            ctx, "chart", lambda: ctx.settings.chart_policies
        )
        self.statuses: dict[str, charting.PolicyStatus] = {}

    async def run(self) -> None:
        ctx = self._ctx
        await charting.watch_charts(
            ctx.runtime,
            ctx.settings.chart_policies,
            statuses=self.statuses,
            on_commit=self._commits.committed,
        )

    def stop(self) -> None:
        self._commits.stop()
