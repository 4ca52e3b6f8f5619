"""What a person asks on an Application's page, carried out: refresh,
suspend or resume, release a pin, sync, roll back (revert or pin).

The same agent methods as the REST API and CLI (``sync_now``, ``refresh``,
``suspend``, ``unpin``, ``rollback``). A sync or a rollback may take longer
than a request should: it runs beyond the request, and the answer says
"started" unless it ended within :data:`ACTION_GRACE` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from gitward import errors
from gitward.engine import loop, reconciling, rollbacks, states
from gitward.model import operations
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)

ACTION_GRACE = 1.0


@dataclass(frozen=True, slots=True)
class RollbackChoice:
    """A revision the Application ran before, offered by the rollback dialog."""

    sha: str
    label: str


class Acting:
    """Actions of the UI over one agent; keeps the tasks that outlive a request."""

    def __init__(self, agent: loop.Agent, *, history_limit: int) -> None:
        self.agent = agent
        self._history_limit = history_limit
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(
        self, state: states.AppState, action: str, who: str, form: Mapping[str, Any]
    ) -> str:
        name = state.name
        if action == "refresh":
            self.agent.refresh(name, reason=f"refresh requested ({who})")
            return f"Refresh of {name} queued."
        if action in ("suspend", "resume"):
            await self.agent.suspend(name, action == "suspend")
            return f"{name} {'suspended' if action == 'suspend' else 'resumed'}."
        if action == "release":
            await self.agent.unpin(name)
            return f"{name} released from its pin; automated sync as its policy says."
        if action == "sync":
            done = await self._background(
                self.agent.sync_now(name, trigger=f"manual ({who})"), name
            )
            if isinstance(done, reconciling.SyncReport):
                op = done.operation
                return f"Sync of {name}: {op.phase.value}. {op.message}".strip()
            return f"Sync of {name} started."
        return await self._rollback(
            state, str(form.get("mode") or "revert"), str(form.get("to") or "")
        )

    async def _rollback(self, state: states.AppState, mode: str, to: str) -> str:
        """``revert`` pushes a commit reverting what broke the Application since
        its last good revision; ``pin`` holds it at an earlier good revision."""
        name = state.name
        rollback = self.agent.rollback
        if mode == "pin":
            known = {c.sha for c in rollback_choices(state, await self._history(name))}
            if to not in known:
                raise errors.InputError(
                    f"{to[:12] or 'no revision'} is not a revision {name} synced before"
                )
            done = await self._background(rollback(name, to=to), name)
            if done is not None:
                return f"{name} pinned to {to[:12]}: automated sync paused until released."
            return f"Pinning {name} to {to[:12]}…"
        if mode != "revert":
            raise errors.InputError(f"unknown rollback mode {mode!r} (revert or pin)")
        done = await self._background(rollback(name), name)
        if isinstance(done, rollbacks.RollbackResult):
            reverted = ", ".join(c[:12] for c in done.reverted)
            then = "it syncs on its own" if state.automated else "sync it to apply the revert"
            return f"Reverted {reverted} in {done.pushed_sha[:12]}: {then}."
        return f"Reverting the commits that broke {name}…"

    async def _history(self, name: str) -> list[store_base.OperationRecord]:
        return await self.agent.store.list_operations(name, limit=self._history_limit)

    async def _background(self, work: Awaitable[Any], name: str) -> Any:
        """Run ``work`` beyond this request (a sync may wait for health); its
        result, or what it raised, when it ends within a moment, else None."""

        async def run() -> Any:
            return await work

        task = asyncio.create_task(run(), name=f"ui action {name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        done, _ = await asyncio.wait({task}, timeout=ACTION_GRACE)
        return task.result() if done else None

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.warning("ui action failed", task=task.get_name(), error=str(task.exception()))


def rollback_choices(
    state: states.AppState, history: Sequence[store_base.OperationRecord]
) -> list[RollbackChoice]:
    """Revisions that synced successfully before, newest first, the current one left out."""
    seen = {state.synced_revision}
    choices = []
    for record in history:
        op = record.operation
        if op.phase is not operations.OperationPhase.SUCCEEDED or op.dry_run:
            continue
        sha = op.revision.sha
        if not sha or sha in seen:
            continue
        seen.add(sha)
        subject = op.revision.message.splitlines()[0] if op.revision.message else ""
        label = f"{sha[:12]} {subject}".strip()
        if op.revision.author:
            label += f" ({op.revision.author})"
        choices.append(RollbackChoice(sha=sha, label=label))
    return choices
