"""Command groups whose commands are imported only when they run.

``gitward --help`` must not pay for the agent, the store, the web UI or the
Kubernetes client: each command names the module that holds it, and that
module is imported when the command is invoked (or its own ``--help`` is
asked for). Listing the commands reads the one-line help written beside the
name instead, so printing the top-level help imports no command module.
:mod:`gitward.cli.main` holds the table; ``tests/cli/test_starting.py`` checks
that each one-line help still matches the command's own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import typer
import typer.core
import typer.main

# typer 0.29 vendors its own click; TyperGroup's methods take and return its types.
from typer import _click as click

# Set on a context while its group lists its commands (help, shell completion).
_LISTING = "gitward.cli.listing"


@dataclasses.dataclass(frozen=True)
class Lazy:
    """One top-level command: its name, where it lives, and its one-line help.

    ``target`` is ``"package.module:attribute"``: a ``typer.Typer`` becomes a
    command group (``gitward app ...``); a function becomes a single command.
    ``logs=False`` marks a command that writes no logs (nothing to configure).
    """

    name: str
    target: str
    help: str
    logs: bool = True

    def load(self) -> click.Command:
        if self.logs:
            # Before the command's modules: structlog is imported the cheap
            # way there (see gitward.cli.logs).
            importlib.import_module("gitward.cli.logs")
        module_name, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module_name), attribute)
        if isinstance(found, typer.Typer):
            command: click.Command = typer.main.get_group(found)
        else:
            single = typer.Typer()
            single.command(self.name)(found)
            command = typer.main.get_command(single)
        command.name = self.name
        return command

    def placeholder(self) -> click.Command:
        """What help listings show: name and help, nothing imported."""
        return typer.core.TyperCommand(self.name, help=self.help)


class LazyGroup(typer.core.TyperGroup):
    """A Typer group that adds the :class:`Lazy` commands of ``lazy``.

    Made for one table by :func:`group_class`; typer builds the instance.
    """

    lazy: ClassVar[dict[str, Lazy]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*self.lazy, *(name for name in eager if name not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        entry = self.lazy[cmd_name]
        if ctx.meta.get(_LISTING):
            return entry.placeholder()
        command = entry.load()
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _listing(ctx):
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        with _listing(ctx):
            return super().shell_complete(ctx, incomplete)


def group_class(commands: Sequence[Lazy]) -> type[LazyGroup]:
    """A :class:`LazyGroup` class serving ``commands`` (for ``typer.Typer(cls=...)``)."""
    table = {entry.name: entry for entry in commands}
    if len(table) != len(commands):
        raise ValueError("two lazy commands share a name")
    return type("GitwardGroup", (LazyGroup,), {"lazy": table})


@contextlib.contextmanager
def _listing(ctx: click.Context) -> Iterator[None]:
    ctx.meta[_LISTING] = True
    try:
        yield
    finally:
        ctx.meta.pop(_LISTING, None)
