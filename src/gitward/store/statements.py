"""SQL statements the store's query modules share."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gitward.model import operations
from gitward.store import base

_RUNNING = operations.OperationPhase.RUNNING.value


def upsert(
    conn: sa.Connection, model: Any, values: dict[str, Any] | list[dict[str, Any]], key: str
) -> None:
    """Insert ``values`` (one row or many) into ``model``'s table, or update the
    row with the same ``key``."""
    conn.execute(upsert_statement(conn.dialect.name, model, key), values)


@functools.cache
def upsert_statement(dialect: str, model: Any, key: str) -> sa.Executable:
    table = model.__table__
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=[key],
            set_={c.name: pg.excluded[c.name] for c in table.columns if c.name != key},
        )
    lite = sqlite.insert(table)
    return lite.on_conflict_do_update(
        index_elements=[key],
        set_={c.name: lite.excluded[c.name] for c in table.columns if c.name != key},
    )


def trim_statement(model: Any, *, keep_running: bool) -> sa.Executable:
    """Delete the rows of one app older than its newest ``keep``."""
    keep_from = (
        sa.select(model.id)
        .where(model.app == sa.bindparam("trim_app"))
        .order_by(model.id.desc())
        .offset(sa.bindparam("keep"))
        .limit(1)
        .scalar_subquery()
    )
    condition = sa.and_(model.app == sa.bindparam("trim_app"), model.id <= keep_from)
    if keep_running:
        # A Running operation is never trimmed: recover_interrupted must see it.
        condition = sa.and_(condition, model.phase != _RUNNING)
    return sa.delete(model).where(condition)


# The statements of the hot paths are built once and given their values at
# execution: building and cache-keying a statement per call was about 40% of
# the CPU time of start_operation (bench/store.py, profiled).


def check_limit(limit: int, what: str) -> None:
    if not 1 <= limit <= base.MAX_LIST_LIMIT:
        raise base.InvalidQuery(
            f"listing {what}: limit {limit} is outside 1..{base.MAX_LIST_LIMIT}"
        )
