"""``gitward replicas``: the replicas of a running agent sharing the work.

Asks any replica's API (``GET /api/v1/replicas``): the members with their
leases, how many Applications each owns, and the recent handoffs.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from gitward.cli import agent_client, consoles

_out = consoles.Lazy()

ServerOpt = Annotated[
    str, typer.Option("--server", envvar="GITWARD_SERVER", help="URL of the agent's API.")
]
TokenOpt = Annotated[
    str,
    typer.Option(
        "--token", envvar="GITWARD_TOKEN", help="API token.", show_default=False, show_envvar=True
    ),
]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="text, json or yaml.")]
HandoffsOpt = Annotated[int, typer.Option("--handoffs", help="Recent handoffs to list.", min=0)]


def replicas(
    server: ServerOpt = "",
    token: TokenOpt = "",
    output: OutputOpt = "text",
    handoffs: HandoffsOpt = 10,
) -> None:
    """Replicas of a running agent: members, leases, Applications each owns, recent handoffs."""
    data = agent_client.Api(server, token).get("/api/v1/replicas")
    if output == "json":
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return
    if output == "yaml":
        sys.stdout.write(yaml.safe_dump(data, sort_keys=True))
        return
    if output not in ("", "text"):
        agent_client.fail(
            agent_client.EXIT_INPUT, f"--output must be text, json or yaml, not {output!r}"
        )
    _print(data, handoffs)


def _print(data: dict[str, Any], handoffs: int) -> None:
    if not data["enabled"]:
        _out.print(
            f"a single replica (replicas.coordinator: none) owns all {data['applications']} "
            "Applications"
        )
        return
    _out.print(
        f"{data['coordinator']}; answered by {data['identity']} (fence {data['fence'] or 'none'}); "
        f"{data['applications']} Applications, {data['unowned']} unowned, "
        f"{data['settling']} settling; lease renew failures here: {data['renewFailures']}"
    )
    table = Table("REPLICA", "OWNS", "FENCE", "RENEWED", "EXPIRES", "ADDRESS", "LEASE", box=None)
    for member in data["members"]:
        name = member["identity"] + (" (this)" if member["me"] else "")
        table.add_row(
            name,
            str(member["owned"]),
            member["fence"],
            member["renewedAt"],
            member["expiresAt"],
            member["address"] or "-",
            member["lease"] or "-",
        )
    _out.print(table)
    shown = data["handoffs"][:handoffs]
    if not shown:
        return
    moves = Table("WHEN", "APPLICATION", "FROM", "TO", "WHY", box=None)
    for row in shown:
        moves.add_row(row["at"], row["app"], row["from"] or "-", row["to"] or "-", row["reason"])
    _out.print("recent handoffs:")
    _out.print(moves)
