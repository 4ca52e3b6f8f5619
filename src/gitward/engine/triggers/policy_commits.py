"""What a policy's commit sets off, shared by the triggers that follow
registries (``images``) and chart repositories (``charts``).

When a policy pushes a commit, fetch that repository at once and queue the
Applications reading it whose revision moved, rather than waiting for the next
poll. The refresh runs as a task of its own so the policy's loop is not held up
by a fetch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from gitward.config import images as config_images
from gitward.engine import context, sourcing, states
from gitward.engine.triggers import revisions
from gitward.source import committing, webhooks


class Policy(Protocol):
    """What both an image policy and a chart policy say of themselves."""

    @property
    def name(self) -> str: ...

    @property
    def update(self) -> config_images.UpdateTarget: ...


Announce = Callable[[states.AppState, str, committing.Pushed], Awaitable[None]]
"""Called for each Application queued because of a policy's commit, with the
policy's name and the commit."""


class PolicyCommits:
    """Follows up the commits of one kind of policy (``kind``: ``image`` or
    ``chart``, as the queue's reason names it). ``policies`` is read when a
    commit arrives, so a reloaded configuration is seen."""

    def __init__(
        self,
        ctx: context.Context,
        kind: str,
        policies: Callable[[], Sequence[Policy]],
        announce: Announce | None = None,
    ) -> None:
        self._ctx = ctx
        self._kind = kind
        self._policies = policies
        self._announce = announce
        self._tasks: set[asyncio.Task[None]] = set()

    def committed(self, policy: str, pushed: committing.Pushed) -> None:
        """The policy loop's ``on_commit``."""
        spec = next(p for p in self._policies() if p.name == policy)
        task = asyncio.create_task(self._refresh(spec.update.repo_url, policy, pushed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _refresh(self, url: str, policy: str, pushed: committing.Pushed) -> None:
        ctx = self._ctx
        await revisions.fetch(ctx, url)
        resolved: dict[tuple[str, str], str] = {}
        wanted = webhooks.normalise_url(url)
        for state in list(ctx.apps.values()):
            if wanted not in {webhooks.normalise_url(u) for u in sourcing.git_urls(state.app)}:
                continue
            if await revisions.ref_moved(ctx, state, resolved):
                ctx.queue.add(
                    state.name, f"new commit {pushed.sha[:12]} by {self._kind} policy {policy}"
                )
                if self._announce is not None:
                    await self._announce(state, policy, pushed)
