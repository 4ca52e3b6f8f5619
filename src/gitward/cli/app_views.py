"""How ``gitward app`` and ``gitward events`` show things to a person: an
Application's page, an operation's results, an event line, why a wait ended.

Scripts read ``-o json|yaml`` instead (``cli.app_commands``); these views
may change with taste, those documents may not.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from rich.table import Table

from gitward.cli import consoles
from gitward.model import operations

_out = consoles.Lazy()

SYNC_STYLE = {"Synced": "green", "OutOfSync": "yellow", "Unknown": "dim"}
HEALTH_STYLE = {
    "Healthy": "green",
    "Progressing": "cyan",
    "Degraded": "red",
    "Missing": "yellow",
    "Suspended": "dim",
    "Unknown": "dim",
}


def new_table(*headers: str) -> Table:
    # Names are folded, never cut with an ellipsis: a script or a person may
    # copy them from the table.
    table = Table(box=None)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def styled(value: str, styles: dict[str, str]) -> str:
    style = styles.get(value, "")
    return f"[{style}]{value}[/]" if style else value


def short(sha: str) -> str:
    return operations.short_revision(sha)


def when(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def problem(item: dict[str, Any]) -> str:
    failing = [c for c in item.get("conditions", []) if not c["status"]]
    if failing:
        first = failing[0]
        return f"{first['reason']}: {first['message']}".strip(": ")
    return str(item.get("message") or "")


def print_app(item: dict[str, Any]) -> None:
    rows = [
        ("Name", item["name"]),
        ("Project", item["project"]),
        (
            "Source",
            f"{item['source']['repoURL']} @ {item['source']['ref']} : {item['source']['path']}",
        ),
        ("Destination", f"{item['destination']['target']} / {item['destination']['namespace']}"),
        (
            "Sync",
            f"{styled(item['sync']['status'], SYNC_STYLE)} at {short(item['sync']['revision'])}",
        ),
        ("Synced revision", short(item["sync"]["syncedRevision"])),
        (
            "Health",
            f"{styled(item['health']['status'], HEALTH_STYLE)} {item['health']['message']}",
        ),
        ("Automated", "yes" if item["automated"] else "no"),
        ("Suspended", "yes" if item["suspended"] else "no"),
    ]
    if item.get("pinnedRevision"):
        rows.append(("Pinned to", short(item["pinnedRevision"])))
    if item.get("drift"):
        rows.append(("Drift since", when(item["drift"]["since"])))
    for label, value in rows:
        _out.line((f"{label + ':':<17}", "bold"), f"{value}")
    if item["conditions"]:
        table = new_table("CONDITION", "STATUS", "REASON", "MESSAGE", "SINCE")
        for c in item["conditions"]:
            table.add_row(
                c["type"],
                "[green]True[/]" if c["status"] else "[red]False[/]",
                c["reason"],
                c["message"],
                when(c["lastTransitionTime"]),
            )
        _out.print()
        _out.print(table)
    if item["resources"]:
        table = new_table("KIND", "NAMESPACE", "NAME", "SYNC", "HEALTH", "MESSAGE")
        for r in item["resources"]:
            table.add_row(
                f"{r['kind']}.{r['group']}" if r["group"] else r["kind"],
                r["namespace"],
                r["name"],
                styled(r["sync"], SYNC_STYLE),
                styled(r["health"], HEALTH_STYLE),
                r["healthMessage"] or r["message"],
            )
        _out.print()
        _out.print(table)


def print_operation(result: dict[str, Any]) -> None:
    op = result["operation"]
    if op["results"]:
        table = new_table("RESOURCE", "ACTION", "RESULT", "MESSAGE")
        for r in op["results"]:
            style = "red" if r["result"] == "Failed" else ""
            table.add_row(r["resource"], r["action"], r["result"], r["message"], style=style)
        _out.print(table)
    colour = "green" if op["phase"] == "Succeeded" else "red"
    reason = f" ({op['reason']})" if op["reason"] else ""
    dry = " (dry run)" if op["dryRun"] else ""
    _out.line((op["phase"], colour), f"{reason}{dry}: {op['message']}")


def print_event(item: dict[str, Any], output: str) -> None:
    if output == "json":
        sys.stdout.write(json.dumps(item) + "\n")  # one object per line: easy to follow
    elif output == "yaml":
        import yaml  # ~10 ms to import: only for -o yaml

        sys.stdout.write(yaml.safe_dump([item], sort_keys=False))
    else:
        colour = "yellow" if item["type"] == "Warning" else "dim"
        _out.line(
            f"{when(item['time'])} ",
            (f"{item['type']:<7}", colour),
            f" {item['app'] or '(agent)'} {item['reason']}: {item['message']}",
        )
    sys.stdout.flush()


def report_wait(item: dict[str, Any]) -> None:
    sync_status, health = item["sync"]["status"], item["health"]["status"]
    if sync_status == "Synced" and health == "Healthy":
        _out.line((f"{item['name']} is synced and healthy", "green"))
        return
    why = problem(item) or item["health"]["message"]
    _out.line((f"{item['name']} is {sync_status}/{health}", "red"), f": {why}")
    for row in item["resources"]:
        if row["health"] != "Healthy" or row["sync"] != "Synced":
            state = f"{row['sync']}/{row['health']}"
            _out.line(f"  {row['resource']}: {state} {row['healthMessage']}".rstrip())
