"""The image-policy trigger: follow registries (``engine.imaging``); when a
policy pushes a commit, fetch that repository at once and queue the
Applications whose ref moved (``policy_commits``), rather than waiting for the
next poll, and record an ImageUpdated event for each."""

from __future__ import annotations

from gitward.engine import context, imaging, states
from gitward.engine.triggers import policy_commits
from gitward.source import committing


class ImagePolicies:
    def __init__(self, ctx: context.Context) -> None:
        self._ctx = ctx
        self._commits = policy_commits.PolicyCommits(
            ctx, "image", lambda: ctx.settings.image_policies, announce=self._announce
        )

    async def run(self) -> None:
        ctx = self._ctx
        await imaging.watch_images(
            ctx.runtime,
            ctx.settings.image_policies,
            statuses=ctx.image_statuses,
            on_commit=self._commits.committed,
        )

    def stop(self) -> None:
        self._commits.stop()

    async def _announce(
        self, state: states.AppState, policy: str, pushed: committing.Pushed
    ) -> None:
        # What alerts select on (ImageUpdated); the sync that follows
        # records its own events.
        await self._ctx.event(
            state.name,
            "Normal",
            "ImageUpdated",
            f"image policy {policy} committed {pushed.sha[:12]} to {pushed.branch}",
            pushed.sha,
        )
