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

from gitward.cli import agent_client, app_views, consoles

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


def client(server: str, token: str, timeout: float = 30.0) -> agent_client.Api:
    return agent_client.Api(server, token, timeout=timeout)


def dump(data: Any, output: str) -> bool:
    """Print ``data`` as JSON or YAML; False for the text output."""
    if output == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return True
    if output == "yaml":
        import yaml  # ~10 ms to import: only for -o yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
        return True
    if output not in ("text", "wide"):
        _fail(EXIT_INPUT, f"unknown output {output!r} (text, json or yaml)")
    return False


def _path(name: str, *rest: str) -> str:
    return "/".join(["/api/v1/applications", urllib.parse.quote(name, safe=""), *rest])


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
    api = client(server, token)
    params: dict[str, Any] = {"project": project, "sync": sync, "health": health}
    if label:
        params["label"] = label
    items = api.get("/api/v1/applications", **params)["items"]
    if dump(items, output):
        return
    table = app_views.new_table("NAME", "PROJECT", "SYNC", "HEALTH", "REVISION", "MESSAGE")
    for item in items:
        table.add_row(
            item["name"],
            item["project"],
            app_views.styled(item["sync"]["status"], app_views.SYNC_STYLE),
            app_views.styled(item["health"]["status"], app_views.HEALTH_STYLE),
            app_views.short(item["sync"]["revision"]),
            ("[dim]suspended[/] " if item["suspended"] else "") + app_views.problem(item),
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
    item = client(server, token).get(_path(name))
    if not dump(item, output):
        app_views.print_app(item)


@app.command("diff")
def diff(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = "",
    revision: Annotated[str, typer.Option("--revision", help="Plan this ref or commit.")] = "",
    output: OutputOpt = "text",
) -> None:
    """Show the current Plan (Secret values masked). Exit code 1 when out of sync."""
    result = client(server, token, timeout=120).get(_path(name, "diff"), revision=revision)
    if not dump(result, output):
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
    api = client(server, token, timeout=max(timeout, 30.0) + 600.0)
    body: dict[str, Any] = {"dryRun": dry_run, "revision": revision, "prune": prune}
    if resource:
        body["resources"] = list(resource)
    if output == "text":
        with _err.status(f"syncing {name}..."):
            result = api.post(_path(name, "sync"), body)
    else:
        result = api.post(_path(name, "sync"), body)
    failed = result["operation"]["phase"] != "Succeeded"
    if not dump(result, output):
        app_views.print_operation(result)
    if failed:
        raise typer.Exit(EXIT_NOT_READY)
    if wait and not dry_run:
        finished = result["operation"]["finishedAt"]
        item = _wait(api, name, timeout, after=finished, show=output == "text")
        if output == "text":
            app_views.report_wait(item)
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
    result = client(server, token).post(_path(name, "refresh"))
    if not dump(result, output):
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
    items = client(server, token).get(_path(name, "operations"), limit=limit)["items"]
    if dump(items, output):
        return
    table = app_views.new_table("ID", "STARTED", "REVISION", "PHASE", "TRIGGER", "MESSAGE")
    for op in items:
        phase = op["phase"] + (" (dry run)" if op["dryRun"] else "")
        colour = {"Succeeded": "green", "Failed": "red"}.get(op["phase"], "cyan")
        table.add_row(
            str(op["id"]),
            app_views.when(op["startedAt"]),
            app_views.short(op["revision"]["sha"]),
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
    result = client(server, token, timeout=600).post(_path(name, "rollback"), body)
    if dump(result, output):
        return
    if result["mode"] == "pin":
        _out.print(f"{name} pinned to {app_views.short(result['revision'])}; automated sync paused")
    else:
        reverted, pushed = app_views.short(result["revision"]), app_views.short(result["pushedSha"])
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
    api = client(server, token)
    item = _wait(api, name, timeout, after=None, show=output == "text")
    if not dump(item, output):
        app_views.report_wait(item)
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
        item = client(server, token).post(_path(name, verb))
        if not dump(item, output):
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
    api = client(server, token)
    items = api.get("/api/v1/events", app=app_name, limit=limit)["items"]
    for item in items:
        app_views.print_event(item, output)
    if not follow:
        return
    last = items[-1]["id"] if items else None
    params = {"app": app_name} if app_name else {}
    try:
        for event, data, _ in api.stream("/api/v1/stream", params, last):
            if event == "event":
                app_views.print_event(data, output)
    except KeyboardInterrupt:
        return


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
