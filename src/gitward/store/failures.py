"""What a database error means for the caller: one of the store's named errors.

:class:`~gitward.store.storing.SqlStore` runs every call through
:func:`named`. A constraint violation is a conflict with a stored record, a
value the database refuses is an invalid record, a damaged SQLite file is
:class:`~gitward.store.base.StoreCorrupt` (an input error naming the file and
what to do: no retry mends it), and everything else (unreachable, locked,
read-only, disk full) is :class:`~gitward.store.base.StoreUnavailable`, worth
retrying. Messages carry the driver's first line only (no SQL text, no bound
values) and the URL with its password hidden.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from gitward import errors
from gitward.store import base


def named(exc: sa_exc.SQLAlchemyError, what: str, url: sa.URL) -> errors.GitwardError:
    """The store error ``exc`` (raised while ``what``, in the store at ``url``) is."""
    shown = url.render_as_string(hide_password=True)
    if isinstance(exc, sa_exc.IntegrityError):
        return base.RecordConflict(
            f"{what} in store {shown} conflicts with a stored record: {cause(exc)}"
        )
    if isinstance(exc, sa_exc.DataError):
        return base.InvalidRecord(f"{what}: store {shown} refused the value: {cause(exc)}")
    if isinstance(exc, sa_exc.DatabaseError) and _corrupt(exc) and url.database:
        return base.StoreCorrupt(
            f"store {url.database} is damaged ({cause(exc)}): restore it from a backup, "
            "or move it aside and gitward starts a new one (the store holds status and "
            "history; Git holds what is applied)"
        )
    return base.StoreUnavailable(f"{what} failed in store {shown}: {cause(exc)}")


def _corrupt(exc: sa_exc.DatabaseError) -> bool:
    """SQLite's answers for a file that is not a database or has damaged pages
    (a plain DatabaseError; locked, read-only or missing files are
    OperationalErrors, worth retrying)."""
    orig = getattr(exc, "orig", None)
    return type(orig) is sqlite3.DatabaseError and (
        "not a database" in str(orig) or "malformed" in str(orig)
    )


def cause(exc: sa_exc.SQLAlchemyError) -> str:
    """The driver's first message line, without SQL text or bound parameters."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(orig).__name__}: {first}" if first else type(orig).__name__
