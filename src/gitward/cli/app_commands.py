"""``gitward app ...`` and ``gitward events``: a running agent, over its REST API.

Every command talks to ``--server`` (``GITWARD_SERVER``) with ``--token``
(``GITWARD_TOKEN``), prints a table for people or ``-o json|yaml`` for
scripts (stdout), and exits with a code CI can branch on:

* 0 — done; in sync; healthy;
* 1 — out of sync (``diff``), the sync failed, or not synced and healthy
  when ``wait`` / ``sync --wait`` gave up;
* 2 — bad input: unknown Application (404), invalid request (400, 422);
* 3 — the server is unreachable or unavailable (retry later);
* 4 — unauthorized (401) or forbidden (403).

The token is sent only in the Authorization header and never printed.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from gitward.cli import agent_client, consoles
from gitward.model import operations

EXIT_OK = agent_client.EXIT_OK
EXIT_NOT_READY = agent_client.EXIT_NOT_READY
EXIT_INPUT = agent_client.EXIT_INPUT
EXIT_UNAVAILABLE = agent_client.EXIT_UNAVAILABLE
EXIT_DENIED = agent_client.EXIT_DENIED

DEFAULT_SERVER = agent_client.DEFAULT_SERVER

app = typer.Typer(
    help="Applications of a running agent: list, inspect, diff, sync, roll back, wait.",
    no_args_is_help=True,
)

_out = consoles.Lazy()
_err = consoles.Lazy(stderr=True)

ServerOpt = Annotated[
    str,
    typer.Option("--server", envvar="GITWARD_SERVER", help="URL of the agent's API."),
]
TokenOpt = Annotated[
    str,
    typer.Option(
        "--token", envvar="GITWARD_TOKEN", help="API token.", show_default=False, show_envvar=True
    ),
]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="text, json or yaml.")]
NameArg = Annotated[str, typer.Argument(help="Application name.", show_default=False)]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait before giving up (exit 1).")
]


_fail = agent_client.fail


def _client(server: str, token: str, timeout: float = 30.0) -> agent_client.Api:
    return agent_client.Api(server, token, timeout=timeout)


def _dump(data: Any, output: str) -> bool:
    """Print ``data`` as JSON or YAML; False for the text output."""
    if output == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return True
    if output == "yaml":
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
        return True
    if output not in ("text", "wide"):
        _fail(EXIT_INPUT, f"unknown output {output!r} (text, json or yaml)")
    return False


def _path(name: str, *rest: str) -> str:
    return "/".join(["/api/v1/applications", urllib.parse.quote(name, safe=""), *rest])


# --- views ----------------------------------------------------------------------------------

_SYNC_STYLE = {"Synced": "green", "OutOfSync": "yellow", "Unknown": "dim"}
_HEALTH_STYLE = {
    "Healthy": "green",
    "Progressing": "cyan",
    "Degraded": "red",
    "Missing": "yellow",
    "Suspended": "dim",
    "Unknown": "dim",
}


def _table(*headers: str) -> Table:
    # Names are folded, never cut with an ellipsis: a script or a person may
    # copy them from the table.
    table = Table(box=None)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def _styled(value: str, styles: dict[str, str]) -> str:
    style = styles.get(value, "")
    return f"[{style}]{value}[/]" if style else value


def _short(sha: str) -> str:
    return operations.short_revision(sha)


def _when(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def _problem(item: dict[str, Any]) -> str:
    failing = [c for c in item.get("conditions", []) if not c["status"]]
    if failing:
        first = failing[0]
        return f"{first['reason']}: {first['message']}".strip(": ")
    return str(item.get("message") or "")


def _print_app(item: dict[str, Any]) -> None:
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
            f"{_styled(item['sync']['status'], _SYNC_STYLE)} at {_short(item['sync']['revision'])}",
        ),
        ("Synced revision", _short(item["sync"]["syncedRevision"])),
        (
            "Health",
            f"{_styled(item['health']['status'], _HEALTH_STYLE)} {item['health']['message']}",
        ),
        ("Automated", "yes" if item["automated"] else "no"),
        ("Suspended", "yes" if item["suspended"] else "no"),
    ]
    if item.get("pinnedRevision"):
        rows.append(("Pinned to", _short(item["pinnedRevision"])))
    if item.get("drift"):
        rows.append(("Drift since", _when(item["drift"]["since"])))
    for label, value in rows:
        _out.print(f"[bold]{label + ':':<17}[/]{value}", markup=True)
    if item["conditions"]:
        table = _table("CONDITION", "STATUS", "REASON", "MESSAGE", "SINCE")
        for c in item["conditions"]:
            table.add_row(
                c["type"],
                "[green]True[/]" if c["status"] else "[red]False[/]",
                c["reason"],
                c["message"],
                _when(c["lastTransitionTime"]),
            )
        _out.print()
        _out.print(table)
    if item["resources"]:
        table = _table("KIND", "NAMESPACE", "NAME", "SYNC", "HEALTH", "MESSAGE")
        for r in item["resources"]:
            table.add_row(
                f"{r['kind']}.{r['group']}" if r["group"] else r["kind"],
                r["namespace"],
                r["name"],
                _styled(r["sync"], _SYNC_STYLE),
                _styled(r["health"], _HEALTH_STYLE),
                r["healthMessage"] or r["message"],
            )
        _out.print()
        _out.print(table)


def _print_operation(result: dict[str, Any]) -> None:
    op = result["operation"]
    if op["results"]:
        table = _table("RESOURCE", "ACTION", "RESULT", "MESSAGE")
        for r in op["results"]:
            style = "red" if r["result"] == "Failed" else ""
            table.add_row(r["resource"], r["action"], r["result"], r["message"], style=style)
        _out.print(table)
    colour = "green" if op["phase"] == "Succeeded" else "red"
    reason = f" ({op['reason']})" if op["reason"] else ""
    dry = " (dry run)" if op["dryRun"] else ""
    _out.print(f"[{colour}]{op['phase']}[/]{reason}{dry}: {op['message']}", markup=True)


# --- commands -------------------------------------------------------------------------------


@app.command("list")
def list_(
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = "",
    project: Annotated[str, typer.Option("--project", "-p", help="Only this Project.")] = "",
    sync: Annotated[str, typer.Option("--sync", help="Synced, OutOfSync or Unknown.")] = "",
    health: Annotated[str, typer.Option("--health", help="Healthy, Degraded, ...")] = "",
    label: Annotated[
        list[str] | None, typer.Option("--label", "-l", help="key=value; repeatable.")
    ] = None,
    output: OutputOpt = "text",
) -> None:
    """List the Applications you may read."""
    api = _client(server, token)
    params: dict[str, Any] = {"project": project, "sync": sync, "health": health}
    if label:
        params["label"] = label
    items = api.get("/api/v1/applications", **params)["items"]
    if _dump(items, output):
        return
    table = _table("NAME", "PROJECT", "SYNC", "HEALTH", "REVISION", "MESSAGE")
    for item in items:
        table.add_row(
            item["name"],
            item["project"],
            _styled(item["sync"]["status"], _SYNC_STYLE),
            _styled(item["health"]["status"], _HEALTH_STYLE),
            _short(item["sync"]["revision"]),
            ("[dim]suspended[/] " if item["suspended"] else "") + _problem(item),
        )
    _out.print(table)


@app.command("get")
def get(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = "",
    output: OutputOpt = "text",
) -> None:
    """Show one Application: sync, health, conditions and resources."""
    item = _client(server, token).get(_path(name))
    if not _dump(item, output):
        _print_app(item)


@app.command("diff")
def diff(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = "",
    revision: Annotated[str, typer.Option("--revision", help="Plan this ref or commit.")] = "",
    output: OutputOpt = "text",
) -> None:
    """Show the current Plan (Secret values masked). Exit code 1 when out of sync."""
    result = _client(server, token, timeout=120).get(_path(name, "diff"), revision=revision)
    if not _dump(result, output):
        _out.print(result["text"], markup=False, end="")
    if not result["plan"]["inSync"]:
        raise typer.Exit(EXIT_NOT_READY)


@app.command("sync")
def sync(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = "",
    prune: Annotated[
        bool | None, typer.Option("--prune/--no-prune", help="Override the sync policy's prune.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and validate only.")] = False,
    revision: Annotated[str, typer.Option("--revision", help="Sync this ref or commit.")] = "",
    resource: Annotated[
        list[str] | None,
        typer.Option(
            "--resource",
            "-r",
            help="Sync only this resource: kind[.group]/[namespace/]name; repeatable.",
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Then wait until synced and healthy.")
    ] = False,
    timeout: TimeoutOpt = 300.0,
    output: OutputOpt = "text",
) -> None:
    """Sync now. Exit code 1 if the sync failed (or, with --wait, did not become healthy)."""
    api = _client(server, token, timeout=max(timeout, 30.0) + 600.0)
    body: dict[str, Any] = {"dryRun": dry_run, "revision": revision, "prune": prune}
    if resource:
        body["resources"] = list(resource)
    if output == "text":
        with _err.status(f"syncing {name}..."):
            result = api.post(_path(name, "sync"), body)
    else:
        result = api.post(_path(name, "sync"), body)
    failed = result["operation"]["phase"] != "Succeeded"
    if not _dump(result, output):
        _print_operation(result)
    if failed:
        raise typer.Exit(EXIT_NOT_READY)
    if wait and not dry_run:
        finished = result["operation"]["finishedAt"]
        item = _wait(api, name, timeout, after=finished, show=output == "text")
        if output == "text":
            _report_wait(item)
        if not _ready(item, after=finished):
            raise typer.Exit(EXIT_NOT_READY)


@app.command("refresh")
def refresh(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = "",
    output: OutputOpt = "text",
) -> None:
    """Queue a reconcile now (fetch, render, compare) without waiting for the interval."""
    result = _client(server, token).post(_path(name, "refresh"))
    if not _dump(result, output):
        _out.print(f"{name}: reconcile queued")


@app.command("history")
def history(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = "",
    limit: Annotated[int, typer.Option("--limit", "-n", help="Newest operations to show.")] = 20,
    output: OutputOpt = "text",
) -> None:
    """Past sync operations of an Application, newest first."""
    items = _client(server, token).get(_path(name, "operations"), limit=limit)["items"]
    if _dump(items, output):
        return
    table = _table("ID", "STARTED", "REVISION", "PHASE", "TRIGGER", "MESSAGE")
    for op in items:
        phase = op["phase"] + (" (dry run)" if op["dryRun"] else "")
        colour = {"Succeeded": "green", "Failed": "red"}.get(op["phase"], "cyan")
        table.add_row(
            str(op["id"]),
            _when(op["startedAt"]),
            _short(op["revision"]["sha"]),
            f"[{colour}]{phase}[/]",
            op["trigger"],
            op["message"],
        )
    _out.print(table)


@app.command("rollback")
def rollback(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = "",
    to: Annotated[str, typer.Option("--to", help="Pin the Application to this revision.")] = "",
    commit: Annotated[str, typer.Option("--commit", help="Revert this commit in Git.")] = "",
    output: OutputOpt = "text",
) -> None:
    """Roll back: revert in Git (the GitOps way) or pin an earlier revision."""
    body = {k: v for k, v in (("to", to), ("commit", commit)) if v}
    result = _client(server, token, timeout=600).post(_path(name, "rollback"), body)
    if _dump(result, output):
        return
    if result["mode"] == "pin":
        _out.print(f"{name} pinned to {_short(result['revision'])}; automated sync paused")
    else:
        reverted, pushed = _short(result["revision"]), _short(result["pushedSha"])
        _out.print(f"{name}: reverted to {reverted}, pushed {pushed}")


@app.command("wait")
def wait(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = "",
    timeout: TimeoutOpt = 300.0,
    output: OutputOpt = "text",
) -> None:
    """Wait until the Application is synced and healthy. Exit code 1 on timeout."""
    api = _client(server, token)
    item = _wait(api, name, timeout, after=None, show=output == "text")
    if not _dump(item, output):
        _report_wait(item)
    if not _ready(item, after=None):
        raise typer.Exit(EXIT_NOT_READY)


def _suspension(suspended: bool) -> Callable[..., None]:
    verb = "suspend" if suspended else "resume"

    def command(
        name: NameArg,
        server: ServerOpt = DEFAULT_SERVER,
        token: TokenOpt = "",
        output: OutputOpt = "text",
    ) -> None:
        item = _client(server, token).post(_path(name, verb))
        if not _dump(item, output):
            _out.print(f"{name} {'suspended' if item['suspended'] else 'resumed'}")

    command.__doc__ = (
        "Stop reconciling the Application until resumed."
        if suspended
        else "Reconcile the Application again."
    )
    return command


app.command("suspend")(_suspension(True))
app.command("resume")(_suspension(False))


def events(
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = "",
    app_name: Annotated[str, typer.Option("--app", "-a", help="Only this Application.")] = "",
    limit: Annotated[int, typer.Option("--limit", "-n", help="Newest events to show.")] = 50,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    output: OutputOpt = "text",
) -> None:
    """Show the event log; --follow streams new events as they happen."""
    api = _client(server, token)
    items = api.get("/api/v1/events", app=app_name, limit=limit)["items"]
    for item in items:
        _print_event(item, output)
    if not follow:
        return
    last = items[-1]["id"] if items else None
    params = {"app": app_name} if app_name else {}
    try:
        for event, data, _ in api.stream("/api/v1/stream", params, last):
            if event == "event":
                _print_event(data, output)
    except KeyboardInterrupt:
        return


def _print_event(item: dict[str, Any], output: str) -> None:
    if output == "json":
        sys.stdout.write(json.dumps(item) + "\n")  # one object per line: easy to follow
    elif output == "yaml":
        sys.stdout.write(yaml.safe_dump([item], sort_keys=False))
    else:
        colour = "yellow" if item["type"] == "Warning" else "dim"
        _out.print(
            f"{_when(item['time'])} [{colour}]{item['type']:<7}[/] "
            f"{item['app'] or '(agent)'} {item['reason']}: {item['message']}",
            markup=True,
        )
    sys.stdout.flush()


# --- waiting --------------------------------------------------------------------------------

_POLL_SECONDS = 0.5


def _ready(item: dict[str, Any], *, after: str | None) -> bool:
    """Synced and healthy, as assessed by a reconcile that started after ``after``
    (the end of a sync), so a health read before the sync does not count."""
    if after is not None:
        reconciled = item.get("reconciledAt")
        if not reconciled or datetime.fromisoformat(reconciled) < datetime.fromisoformat(after):
            return False
    return bool(item["sync"]["status"] == "Synced" and item["health"]["status"] == "Healthy")


def _wait(
    api: agent_client.Api, name: str, timeout: float, *, after: str | None, show: bool
) -> Any:
    deadline = time.monotonic() + timeout
    item = api.get(_path(name))
    if not show:
        while not _ready(item, after=after) and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
            item = api.get(_path(name))
        return item
    from rich import progress as bars  # only for a person watching: ~20 ms to import

    with bars.Progress(
        bars.TextColumn("{task.description:<8}"),
        bars.BarColumn(),
        bars.MofNCompleteColumn(),
        bars.TextColumn("{task.fields[status]}"),
        bars.TimeElapsedColumn(),
        console=_err.console(),
        transient=False,
    ) as progress:
        synced = progress.add_task("synced", total=None, status="")
        healthy = progress.add_task("healthy", total=None, status="")
        while True:
            rows = item["resources"]
            progress.update(
                synced,
                total=len(rows) or 1,
                completed=sum(r["sync"] == "Synced" for r in rows) if rows else 1,
                status=item["sync"]["status"],
            )
            progress.update(
                healthy,
                total=len(rows) or 1,
                completed=sum(r["health"] == "Healthy" for r in rows) if rows else 1,
                status=item["health"]["status"],
            )
            if _ready(item, after=after) or time.monotonic() >= deadline:
                return item
            time.sleep(_POLL_SECONDS)
            item = api.get(_path(name))


def _report_wait(item: dict[str, Any]) -> None:
    sync_status, health = item["sync"]["status"], item["health"]["status"]
    if sync_status == "Synced" and health == "Healthy":
        _out.print(f"[green]{item['name']} is synced and healthy[/]", markup=True)
        return
    why = _problem(item) or item["health"]["message"]
    _out.print(f"[red]{item['name']} is {sync_status}/{health}[/]: {why}", markup=True)
    for row in item["resources"]:
        if row["health"] != "Healthy" or row["sync"] != "Synced":
            state = f"{row['sync']}/{row['health']}"
            _out.print(f"  {row['resource']}: {state} {row['healthMessage']}".rstrip())
