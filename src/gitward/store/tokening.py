"""API tokens in SQL (:class:`TokenQueries`).

Mixed into :class:`gitward.store.storing.SqlStore`. Only the SHA-256 digest
of a token is ever given to the store or kept by it; a value that does not
look like one is refused without being echoed, so a caller passing the token
itself never sees it in a log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from gitward.store import base, schema, serialising, statements

_T = TypeVar("_T")
_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")


class TokenQueries:
    """The token methods of ``SqlStore``."""

    async def _run(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        raise NotImplementedError

    def _begin(self) -> Any:
        raise NotImplementedError

    async def save_token(
        self,
        name: str,
        sha256_hash: str,
        role: str,
        projects: tuple[str, ...],
        created_at: datetime,
    ) -> None:
        """Insert or replace token ``name``. Only the SHA-256 hex digest is given, never
        the token; a digest already used by another token is a RecordConflict."""
        _check_token(name, sha256_hash, role, projects)
        values = {
            "name": name,
            "sha256": sha256_hash,
            "role": role,
            "projects": list(projects),
            "created_at": serialising.utc(created_at, f"creation time of token {name}"),
        }
        await self._run(f"saving token {name}", self._save_token_sync, values)

    def _save_token_sync(self, values: dict[str, Any]) -> None:
        tokens = schema.TokenRow
        with self._begin() as conn:
            other = conn.execute(
                sa.select(tokens.name).where(
                    tokens.sha256 == values["sha256"], tokens.name != values["name"]
                )
            ).scalar_one_or_none()
            if other is not None:
                raise base.RecordConflict(
                    f"token {values['name']}: the same token is already saved as {other}"
                )
            statements.upsert(conn, tokens, values, "name")

    async def find_token(self, sha256_hash: str) -> base.TokenRecord | None:
        """The token whose digest is ``sha256_hash``; None if unknown or malformed."""
        if not _TOKEN_HASH.fullmatch(sha256_hash):
            return None
        return await self._run("looking up a token", self._find_token_sync, sha256_hash)

    def _find_token_sync(self, sha256_hash: str) -> base.TokenRecord | None:
        tokens = schema.TokenRow
        with self._begin() as conn:
            row = conn.execute(
                sa.select(tokens.__table__).where(tokens.sha256 == sha256_hash)
            ).one_or_none()
        return None if row is None else _token_record(row)

    async def delete_token(self, name: str) -> bool:
        return await self._run(f"deleting token {name}", self._delete_token_sync, name)

    def _delete_token_sync(self, name: str) -> bool:
        tokens = schema.TokenRow
        with self._begin() as conn:
            deleted = conn.execute(sa.delete(tokens).where(tokens.name == name))
        return int(deleted.rowcount) > 0

    async def list_tokens(self) -> list[base.TokenRecord]:
        return await self._run("listing tokens", self._list_tokens_sync)

    def _list_tokens_sync(self) -> list[base.TokenRecord]:
        tokens = schema.TokenRow
        with self._begin() as conn:
            rows = conn.execute(sa.select(tokens.__table__).order_by(tokens.name)).all()
        return [_token_record(row) for row in rows]


def _check_token(name: str, sha256_hash: str, role: str, projects: tuple[str, ...]) -> None:
    if not name:
        raise base.InvalidRecord("a token needs a name")
    if not _TOKEN_HASH.fullmatch(sha256_hash):
        # Never echo the value: a caller passing the token itself must not
        # see it land in a log.
        raise base.InvalidRecord(
            f"token {name}: expected the SHA-256 hex digest of the token (64 lowercase "
            "hex characters), never the token itself"
        )
    if not role:
        raise base.InvalidRecord(f"token {name} needs a role")
    if isinstance(projects, str) or not all(isinstance(p, str) and p for p in projects):
        raise base.InvalidRecord(f"token {name}: projects must be a tuple of project names")


def _token_record(row: sa.Row[Any]) -> base.TokenRecord:
    return base.TokenRecord(
        name=row.name,
        sha256_hash=row.sha256,
        role=row.role,
        projects=tuple(row.projects),
        created_at=row.created_at,
    )
