"""Entry point of the ``gitward`` command: assembles the command groups."""

from __future__ import annotations

import typer

from gitward.cli import (
    agent_commands,
    app_commands,
    ci_commands,
    demo_commands,
    logs,
    pipeline_commands,
    testing_commands,
    token_commands,
)

app = typer.Typer(
    name="gitward",
    help="gitward: a GitOps engine that keeps live systems equal to what Git declares.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(testing_commands.app, name="testing")
app.command("demo")(demo_commands.demo)
app.command("serve")(agent_commands.serve)
pipeline_commands.register(app)
app.add_typer(app_commands.app, name="app")
app.command("events")(app_commands.events)
app.add_typer(token_commands.app, name="token")
ci_commands.register(app)


def run() -> None:
    logs.configure()
    app()
