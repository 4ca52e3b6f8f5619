"""ApplicationSet rollout controls in SQL (:class:`ControlQueries`).

Mixed into :class:`gitward.store.storing.SqlStore`; called by
:mod:`gitward.engine.gating` when a person pauses, resumes or promotes a
rollout, and at start-up to restore what they said.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from gitward.store import base, schema

_T = TypeVar("_T")


class ControlQueries:
    """The rollout-control methods of ``SqlStore``."""

    # Provided by SqlStore.
    _clock: Callable[[], datetime]

    async def _run(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        raise NotImplementedError

    def _begin(self) -> Any:
        raise NotImplementedError

    async def save_rollout_control(self, control: base.RolloutControl) -> None:
        await self._run(f"saving rollout of {control.name}", self._save_control_sync, control)

    def _save_control_sync(self, control: base.RolloutControl) -> None:
        row = schema.RolloutRow
        with self._begin() as conn:
            conn.execute(sa.delete(row).where(row.name == control.name))
            conn.execute(
                sa.insert(row).values(
                    name=control.name,
                    paused=control.paused,
                    promoted_through=control.promoted_through,
                    updated_at=self._clock(),
                )
            )

    async def list_rollout_controls(self) -> list[base.RolloutControl]:
        return await self._run("listing rollout controls", self._list_controls_sync)

    def _list_controls_sync(self) -> list[base.RolloutControl]:
        row = schema.RolloutRow
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(row.name, row.paused, row.promoted_through).order_by(row.name)
            ).all()
        return [
            base.RolloutControl(str(name), bool(paused), int(promoted))
            for name, paused, promoted in rows
        ]
