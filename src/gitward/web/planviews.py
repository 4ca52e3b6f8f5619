"""The current Plan of an Application as the UI shows it, computed on demand.

Computing a Plan costs a render and a dry run per object: :class:`Plans`
keeps the last one per Application until it is reconciled again, so many
open pages cost one plan. :func:`staleness` is what makes a shown diff
outdated (live updates swap a "plan changed" notice in when it moves).
"""

from __future__ import annotations

import asyncio
from typing import Any

from gitward import errors
from gitward.engine import loop, projecting, reconciling, states
from gitward.web import diffs


class Plans:
    """Plans of one agent's Applications, cached per Application."""

    def __init__(self, agent: loop.Agent) -> None:
        self.agent = agent
        self._plans: dict[str, tuple[tuple[Any, ...], diffs.PlanView | str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def current(self, state: states.AppState) -> diffs.PlanView | str:
        """The current Plan of ``state``'s Application as views, or why there is none.

        Computed on demand (a render and a dry-run per object) and kept until
        the Application is reconciled again, so many open pages cost one plan.
        """
        fingerprint = (state.revision, state.reconciled_at, state.pinned_revision, state.app)
        lock = self._locks.setdefault(state.name, asyncio.Lock())
        async with lock:
            cached = self._plans.get(state.name)
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            result: diffs.PlanView | str
            try:
                project = projecting.in_catalog(self.agent.catalog, state.app)
                desired = await reconciling.desired_state(
                    self.agent.runtime,
                    state.app,
                    revision=state.pinned_revision,
                    max_age=self.agent.options.poll_interval,
                    project=project,
                )
                plan = await reconciling.plan(
                    self.agent.runtime, state.app, desired, project=project
                )
                result = diffs.views(plan)
            except errors.GitwardError as exc:
                result = f"{exc.reason}: {exc}"
            self._plans[state.name] = (fingerprint, result)
            for gone in [name for name in self._plans if name not in self.agent.apps]:
                del self._plans[gone]
                self._locks.pop(gone, None)
            return result


def staleness(state: states.AppState) -> tuple[Any, ...]:
    """What makes the shown diff outdated. While out of sync every reconcile
    may see other live values (drift moving on), so its time counts too."""
    return (
        state.revision,
        state.synced_revision,
        state.sync,
        tuple(sorted(state.out_of_sync)),
        state.reconciled_at if state.out_of_sync else None,
    )


def fingerprint_text(fingerprint: tuple[Any, ...]) -> str:
    return str(hash(fingerprint))
