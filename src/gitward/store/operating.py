"""Operations (syncs and their results) in SQL (:class:`OperationQueries`).

Mixed into :class:`gitward.store.storing.SqlStore`. An operation is recorded
Running when it starts (with its plan's summary) and finished once; each
Application keeps ``retention.keepOperations`` of them, a Running one never
trimmed so start-up recovery (:meth:`OperationQueries.recover_interrupted`)
can mark what a stopped agent left unfinished.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from gitward.model import operations
from gitward.store import base, schema, serialising, statements

_T = TypeVar("_T")
_RUNNING = operations.OperationPhase.RUNNING.value


class OperationQueries:
    """The operation methods of ``SqlStore``."""

    # Provided by SqlStore.
    _clock: Callable[[], datetime]
    retention: base.Retention

    @property
    def display_url(self) -> str:
        raise NotImplementedError

    async def _run(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        raise NotImplementedError

    def _begin(self) -> Any:
        raise NotImplementedError

    async def start_operation(
        self, op: operations.Operation, plan: base.PlanSummary | None = None
    ) -> int:
        """Record a Running operation and return its id; trims the app's history."""
        if op.phase is not operations.OperationPhase.RUNNING:
            raise base.InvalidRecord(
                f"operation of app {op.app} must be Running to start, not {op.phase.value}"
            )
        values = _operation_values(op)
        values["plan"] = None if plan is None else serialising.plan_summary_to_dict(plan)
        return await self._run(
            f"starting an operation of app {op.app}", self._start_operation_sync, values
        )

    def _start_operation_sync(self, values: dict[str, Any]) -> int:
        with self._begin() as conn:
            result = conn.execute(_INSERT_OPERATION, values)
            new_id = int(result.inserted_primary_key[0])
            conn.execute(
                _TRIM_OPERATIONS,
                {"trim_app": values["app"], "keep": self.retention.keep_operations},
            )
        return new_id

    async def finish_operation(self, id: int, op: operations.Operation) -> None:
        """Record the outcome of Running operation ``id``; ``op`` replaces what was stored.

        RecordNotFound if ``id`` does not exist, RecordConflict if it is no
        longer Running (finished already, or failed by recover_interrupted).
        """
        if op.phase is operations.OperationPhase.RUNNING:
            raise base.InvalidRecord(
                f"operation {id} of app {op.app} cannot finish in phase Running"
            )
        if op.finished_at is None:
            op = replace(op, finished_at=self._clock())
        values = _operation_values(op)
        await self._run(
            f"finishing operation {id} of app {op.app}", self._finish_operation_sync, id, values
        )

    def _finish_operation_sync(self, id: int, values: dict[str, Any]) -> None:
        ops = schema.OperationRow
        with self._begin() as conn:
            row = conn.execute(
                sa.select(ops.app, ops.phase).where(ops.id == id).with_for_update()
            ).one_or_none()
            if row is None:
                raise base.RecordNotFound(
                    f"operation {id} of app {values['app']} does not exist in store "
                    f"{self.display_url}"
                )
            if row.app != values["app"]:
                raise base.InvalidRecord(
                    f"operation {id} belongs to app {row.app}, not {values['app']}"
                )
            if row.phase != _RUNNING:
                raise base.RecordConflict(
                    f"operation {id} of app {row.app} is already {row.phase}; "
                    "an operation finishes once"
                )
            conn.execute(_UPDATE_OPERATION, {**values, "op_id": id})

    async def get_operation(self, id: int) -> base.OperationRecord | None:
        return await self._run(f"reading operation {id}", self._get_operation_sync, id)

    def _get_operation_sync(self, id: int) -> base.OperationRecord | None:
        ops = schema.OperationRow
        with self._begin() as conn:
            row = conn.execute(sa.select(ops.__table__).where(ops.id == id)).one_or_none()
        return None if row is None else _operation_record(row)

    async def list_operations(
        self, app: str, *, limit: int = 100, before_id: int | None = None
    ) -> list[base.OperationRecord]:
        """Operations of ``app``, newest first; ``before_id`` pages to older ones."""
        statements.check_limit(limit, f"operations of app {app}")
        ops = schema.OperationRow
        query = sa.select(ops.__table__).where(ops.app == app).order_by(ops.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(ops.id < before_id)
        return await self._run(
            f"listing operations of app {app}", self._list_operations_sync, query
        )

    def _list_operations_sync(self, query: sa.Select[Any]) -> list[base.OperationRecord]:
        with self._begin() as conn:
            rows = conn.execute(query).all()
        return [_operation_record(row) for row in rows]

    async def recover_interrupted(
        self,
        now: datetime,
        *,
        apps: Collection[str] | None = None,
        live_fences: Collection[str] = (),
    ) -> list[int]:
        """Mark Running operations Failed (reason Interrupted); return their ids.

        A single agent calls it once at start-up, before any sync starts: an
        operation still Running then was cut short by a crash or a kill.
        Replicas pass ``apps`` (their own shard) and ``live_fences`` (the
        tokens of live members): only operations of those Applications whose
        fence is not live are touched, never another replica's running sync.
        """
        now = serialising.utc(now, "recovery time")
        return await self._run(
            "recovering interrupted operations",
            self._recover_interrupted_sync,
            now,
            None if apps is None else sorted(set(apps)),
            sorted(set(live_fences)),
        )

    def _recover_interrupted_sync(
        self, now: datetime, apps: list[str] | None, live_fences: list[str]
    ) -> list[int]:
        ops = schema.OperationRow
        query = sa.select(ops.id).where(ops.phase == _RUNNING)
        if apps is not None:
            if not apps:
                return []
            query = query.where(ops.app.in_(apps))
        if live_fences:
            query = query.where(ops.fence.not_in(live_fences))
        with self._begin() as conn:
            ids = [int(i) for i in conn.execute(query.order_by(ops.id).with_for_update()).scalars()]
            if ids:
                conn.execute(
                    sa.update(ops)
                    .where(ops.id.in_(ids))
                    .values(
                        phase=operations.OperationPhase.FAILED.value,
                        reason=base.INTERRUPTED_REASON,
                        message=base.interrupted_message(now),
                        finished_at=now,
                    )
                )
        return ids


_INSERT_OPERATION = sa.insert(schema.OperationRow)
_UPDATE_OPERATION = sa.update(schema.OperationRow).where(
    schema.OperationRow.id == sa.bindparam("op_id")
)
_TRIM_OPERATIONS = statements.trim_statement(schema.OperationRow, keep_running=True)


def _operation_values(op: operations.Operation) -> dict[str, Any]:
    if not op.app:
        raise base.InvalidRecord("an operation needs the name of its app")
    what = f"operation of app {op.app}"
    return {
        "app": op.app,
        "phase": op.phase.value,
        "trigger": op.trigger,
        "revision_sha": op.revision.sha,
        "revision": serialising.revision_to_dict(op.revision),
        "started_at": serialising.utc(op.started_at, f"start of {what}"),
        "finished_at": (
            None if op.finished_at is None else serialising.utc(op.finished_at, f"end of {what}")
        ),
        "dry_run": op.dry_run,
        "message": op.message,
        "reason": op.reason,
        "results": [serialising.result_to_dict(r) for r in op.results],
        "fence": op.fence,
    }


def _operation_record(row: sa.Row[Any]) -> base.OperationRecord:
    try:
        phase = operations.OperationPhase(row.phase)
    except ValueError as exc:
        raise base.InvalidRecord(f"operation {row.id}: unknown phase {row.phase!r}") from exc
    op = operations.Operation(
        app=row.app,
        revision=serialising.revision_from_dict(row.revision),
        trigger=row.trigger,
        started_at=row.started_at,
        phase=phase,
        finished_at=row.finished_at,
        dry_run=bool(row.dry_run),
        results=tuple(serialising.result_from_dict(r) for r in row.results),
        message=row.message,
        reason=row.reason,
        fence=row.fence,
    )
    plan = None if row.plan is None else serialising.plan_summary_from_dict(row.plan)
    return base.OperationRecord(id=int(row.id), operation=op, plan=plan)
