"""``gitward notifications log``: what was sent, what is retrying, what failed and why.

Reads ``GET /api/v1/notifications/deliveries`` of a running agent, like the
other ``app`` commands (``--server``, ``--token``, exit codes of
``app_commands``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from gitward.cli import app_commands, app_views, consoles

app = typer.Typer(help="Notifications of a running agent: the delivery log.", no_args_is_help=True)

_out = consoles.Lazy()
_STYLES = {
    "sent": "green",
    "retrying": "yellow",
    "pending": "cyan",
    "failed": "red",
    "dropped": "red",
}


@app.command("log")
def log(
    server: app_commands.ServerOpt = app_commands.DEFAULT_SERVER,
    token: app_commands.TokenOpt = "",
    app_name: Annotated[str, typer.Option("--app", "-a", help="Only this Application.")] = "",
    provider: Annotated[str, typer.Option("--provider", help="Only this provider.")] = "",
    state: Annotated[str, typer.Option("--state", help="pending, sent, failed or dropped.")] = "",
    limit: Annotated[int, typer.Option("--limit", "-n", help="Newest deliveries.")] = 50,
    output: app_commands.OutputOpt = "text",
) -> None:
    """The delivery log, newest first: provider, event, state, attempts and why."""
    items: list[dict[str, Any]] = app_commands.client(server, token).get(
        "/api/v1/notifications/deliveries",
        app=app_name,
        provider=provider,
        state=state,
        limit=limit,
    )["items"]
    if app_commands.dump(items, output):
        return
    table = Table(box=None, pad_edge=False)
    for column in ("TIME", "PROVIDER", "APP", "EVENT", "STATE", "ATTEMPTS", "WHY"):
        table.add_column(column, overflow="fold")
    for item in items:
        style = _STYLES.get(item["state"], "")
        why = item["error"]
        if item["state"] == "retrying" and item["nextAttemptAt"]:
            why = f"next at {app_views.when(item['nextAttemptAt'])}: {why}"
        table.add_row(
            app_views.when(item["updatedAt"] or item["createdAt"]),
            item["provider"],
            item["app"] or "(agent)",
            item["reason"],
            f"[{style}]{item['state']}[/]" if style else item["state"],
            str(item["attempts"]),
            why,
        )
    _out.print(table)
