"""``gitward token create|list|delete``: API tokens, written to the agent's store.

Run beside the agent (same ``--config``, so the same store). A new token is
printed once, on stdout, and only its SHA-256 digest is stored; it cannot be
shown again (create it again with ``--replace`` to rotate it).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from gitward import errors
from gitward.api import auth
from gitward.cli import consoles
from gitward.engine import documents
from gitward.store import base as store_base
from gitward.store import storing

T = TypeVar("T")

app = typer.Typer(help="API tokens (stored hashed in the agent's store).", no_args_is_help=True)

_out = consoles.Lazy()
_err = consoles.Lazy(stderr=True)

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="The agent's configuration (names the store).")
]
NameArg = Annotated[str, typer.Argument(help="Token name (who or what uses it).")]


def _with_store(config: Path, work: Callable[[store_base.Store], Awaitable[T]]) -> T:
    async def main() -> T:
        settings = documents.load_settings(config)
        store = storing.SqlStore(settings.store)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except errors.InputError as exc:
        _err.line(("error:", "red"), f" {exc}")
        raise typer.Exit(2) from None
    except errors.RetryableError as exc:
        _err.line(("unavailable:", "red"), f" {exc}")
        raise typer.Exit(3) from None


@app.command("create")
def create(
    name: NameArg,
    config: ConfigOpt,
    role: Annotated[str, typer.Option("--role", help="read-only or admin.")] = "read-only",
    project: Annotated[
        list[str] | None,
        typer.Option("--project", "-p", help="A Project it may use; repeatable; '*' for all."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace an existing token of that name.")
    ] = False,
) -> None:
    """Create a token and print it once."""
    try:
        checked_role = auth.parse_role(role)
        projects = auth.check_projects(project or [])
        if not name.strip() or len(name) > 128:
            raise errors.ConfigError(f"token name {name!r} must be 1 to 128 characters")
    except errors.ConfigError as exc:
        _err.line(("error:", "red"), f" {exc}")
        raise typer.Exit(2) from None
    secret = auth.new_token()

    async def save(store: store_base.Store) -> None:
        existing = {t.name for t in await store.list_tokens()}
        if name in existing and not replace:
            raise store_base.RecordConflict(
                f"token {name!r} already exists (use --replace to rotate it)"
            )
        await store.save_token(
            name, auth.hash_token(secret), checked_role.value, projects, datetime.now(UTC)
        )

    _with_store(config, save)
    sys.stdout.write(secret + "\n")
    _err.print(
        f"token {name!r} ({checked_role.value} on {', '.join(projects)}) created; "
        "it is shown only this once"
    )


@app.command("list")
def list_(config: ConfigOpt) -> None:
    """List tokens (names, roles, Projects; never the tokens)."""
    tokens = _with_store(config, lambda store: store.list_tokens())
    table = Table("NAME", "ROLE", "PROJECTS", "CREATED", box=None)
    for token in tokens:
        table.add_row(
            token.name,
            token.role,
            ",".join(token.projects),
            token.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    _out.print(table)


@app.command("delete")
def delete(name: NameArg, config: ConfigOpt) -> None:
    """Revoke a token at once."""
    if not _with_store(config, lambda store: store.delete_token(name)):
        _err.line(("error:", "red"), f" token {name!r} does not exist")
        raise typer.Exit(2)
    _err.print(f"token {name!r} deleted")
