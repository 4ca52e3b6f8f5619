"""Creating the store's tables and upgrading older databases, forward only.

Called by :meth:`gitward.store.storing.SqlStore.open` (in its worker thread).

Approach (why not Alembic): the schema is four small tables owned by one
program. A version number in ``gitward_schema`` and a list of plain Python
migration functions give what Alembic would here (ordered forward upgrades,
run automatically at start-up, transactional) without a second dependency,
an ``env.py`` and a scripts directory to package, or autogenerate output to
review. Should the schema ever need branching or downgrades, Alembic can be
introduced by stamping its head at the version recorded here.

Rules:

* A fresh database gets today's tables (``metadata.create_all``) stamped with
  :data:`LATEST_VERSION`, as Alembic's "create_all then stamp head" does.
* A database at version N < latest runs ``MIGRATIONS[N+1]`` ... ``[latest]``,
  each a function of a Connection, all in one transaction with the version
  update (PostgreSQL and SQLite both have transactional DDL): an upgrade that
  fails leaves the database at its old version, untouched.
* A database ahead of this program (written by a newer gitward) is refused
  with :class:`gitward.store.base.IncompatibleSchema`: writing to it could
  lose what the newer version records.
* Two agents opening one PostgreSQL database at once serialise on an advisory
  lock; on SQLite the transaction starts with ``BEGIN IMMEDIATE``.

To change the schema: edit :mod:`gitward.store.schema`, bump
``LATEST_VERSION``, and add ``MIGRATIONS[new]`` bringing a database at the
previous version to the same tables (tested by creating the old version).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import sqlalchemy as sa

from gitward.store import base, schema

Migration = Callable[[sa.Connection], None]

LATEST_VERSION = 4


def _add_outbox(conn: sa.Connection) -> None:
    """Version 2: the notification outbox and delivery log, and event-log cursors."""
    for model in (schema.DeliveryRow, schema.CursorRow):
        schema.metadata.tables[model.__tablename__].create(conn, checkfirst=True)


def _add_operation_fence(conn: sa.Connection) -> None:
    """Version 3: the fencing token each operation was written under (replicas)."""
    columns = {c["name"] for c in sa.inspect(conn).get_columns("gitward_operations")}
    if "fence" not in columns:
        conn.execute(
            sa.text("ALTER TABLE gitward_operations ADD COLUMN fence VARCHAR NOT NULL DEFAULT ''")
        )


def _add_rollouts(conn: sa.Connection) -> None:
    """Version 4: ApplicationSet rollout controls (pause, promote)."""
    schema.metadata.tables[schema.RolloutRow.__tablename__].create(conn, checkfirst=True)


# MIGRATIONS[n] upgrades a database at version n - 1 to version n.
MIGRATIONS: Mapping[int, Migration] = {
    2: _add_outbox,
    3: _add_operation_fence,
    4: _add_rollouts,
}

# Arbitrary constant naming gitward's schema lock among advisory locks.
_PG_LOCK_KEY = 0x67697477617264  # "gitward"


def upgrade(
    engine: sa.Engine,
    *,
    latest: int = LATEST_VERSION,
    migrations: Mapping[int, Migration] = MIGRATIONS,
    metadata: sa.MetaData = schema.metadata,
) -> int:
    """Bring the database of ``engine`` to version ``latest``.

    Returns the version the database was at (0 for a new database).
    """
    missing = [n for n in range(2, latest + 1) if n not in migrations]
    if missing:
        raise base.IncompatibleSchema(
            f"store schema version {latest} has no migration to version(s) {missing}"
        )
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
        metadata.tables[schema.SchemaVersion.__tablename__].create(conn, checkfirst=True)
        found = current_version(conn)
        if found == 0:
            metadata.create_all(conn, checkfirst=True)
            conn.execute(sa.insert(schema.SchemaVersion).values(id=1, version=latest))
            return 0
        if found > latest:
            raise base.IncompatibleSchema(
                f"store {_where(engine)} has schema version {found}, newer than the "
                f"version {latest} this gitward understands; upgrade gitward"
            )
        for version in range(found + 1, latest + 1):
            migrations[version](conn)
        if found != latest:
            conn.execute(
                sa.update(schema.SchemaVersion)
                .where(schema.SchemaVersion.id == 1)
                .values(version=latest)
            )
        return found


def current_version(conn: sa.Connection) -> int:
    """The stamped schema version; 0 when the database has none yet."""
    version = conn.execute(
        sa.select(schema.SchemaVersion.version).where(schema.SchemaVersion.id == 1)
    ).scalar_one_or_none()
    return int(version or 0)


def _where(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
