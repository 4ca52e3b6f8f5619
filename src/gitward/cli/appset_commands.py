"""``gitward appset ...`` and ``gitward targets``: ApplicationSets and the fleet.

``appset generate`` runs alone (no agent): it reads the root named by the
configuration and prints what every set generates, as the agent would. The
others talk to a running agent's REST API (``--server``/``GITWARD_SERVER``,
``--token``/``GITWARD_TOKEN``) with the exit codes of ``gitward app``: 0 done,
2 bad input or unknown set, 3 agent unreachable, 4 not allowed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from gitward.cli import agent_client, consoles

app = typer.Typer(
    help="ApplicationSets: preview what they generate; show, pause, resume and promote rollouts.",
    no_args_is_help=True,
)

_out = consoles.Lazy()
_err = consoles.Lazy(stderr=True)

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
NameArg = Annotated[str, typer.Argument(help="ApplicationSet name.", show_default=False)]


def _emit(data: Any, output: str) -> bool:
    """Print ``data`` as JSON or YAML when asked; False means: print text."""
    if output == "json":
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return True
    if output == "yaml":
        sys.stdout.write(yaml.safe_dump(data, sort_keys=True))
        return True
    if output not in ("", "text"):
        agent_client.fail(agent_client.EXIT_INPUT, f"unknown output {output!r}: text, json or yaml")
    return False


@app.command("generate")
def generate(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Agent configuration naming the root.")
    ],
    name: Annotated[str, typer.Argument(help="Only this set.", show_default=False)] = "",
    output: OutputOpt = "text",
) -> None:
    """Print the Applications every ApplicationSet of the root generates (no agent needed)."""
    from gitward import errors
    from gitward.engine import fleet, runtimes

    async def main() -> Any:
        async with runtimes.Runtime.open(runtimes.RuntimeOptions(config_file=config)) as runtime:
            return await fleet.preview(runtime)

    try:
        expanded = asyncio.run(main())
    except errors.InputError as exc:
        agent_client.fail(agent_client.EXIT_INPUT, f"error: {exc}")
    except errors.GitwardError as exc:
        agent_client.fail(agent_client.EXIT_UNAVAILABLE, f"unavailable: {exc}")
    if name and name not in expanded.appsets:
        agent_client.fail(agent_client.EXIT_INPUT, f"ApplicationSet {name!r} is not declared")
    generated = [
        {
            "name": app_name,
            "set": declared.owner,
            "target": declared.app.spec.destination.target,
            "namespace": declared.app.spec.destination.namespace,
            "repoURL": declared.app.spec.source.repo_url,
            "ref": declared.app.spec.source.ref,
            "path": declared.app.spec.source.path,
            "labels": dict(declared.app.metadata.labels),
        }
        for app_name, declared in sorted(expanded.apps.items())
        if declared.owner and (not name or declared.owner == name)
    ]
    problems = list(expanded.problems)
    for problem in problems:
        _err.print(f"warning: {problem}", markup=False, highlight=False)
    if _emit({"applications": generated, "problems": problems}, output):
        return
    table = Table("NAME", "SET", "TARGET", "NAMESPACE", "PATH", box=None)
    for row in generated:
        table.add_row(row["name"], row["set"], row["target"], row["namespace"], row["path"])
    _out.print(table)
    _out.print(f"{len(generated)} Application(s)")


@app.command("status")
def status(
    name: NameArg, server: ServerOpt = "", token: TokenOpt = "", output: OutputOpt = "text"
) -> None:
    """Where a set's rollout stands: its phase, its steps, what waits and what failed."""
    data = agent_client.Api(server, token).get(f"/api/v1/appsets/{name}")
    if _emit(data, output):
        return
    _print_rollout(data)


def _action(name: str, action: str, server: str, token: str, output: str) -> None:
    data = agent_client.Api(server, token).post(f"/api/v1/appsets/{name}/{action}")
    if _emit(data, output):
        return
    _print_rollout(data)


@app.command("pause")
def pause(
    name: NameArg, server: ServerOpt = "", token: TokenOpt = "", output: OutputOpt = "text"
) -> None:
    """Stop a rollout: no Application of the set takes a new revision until resumed."""
    _action(name, "pause", server, token, output)


@app.command("resume")
def resume(
    name: NameArg, server: ServerOpt = "", token: TokenOpt = "", output: OutputOpt = "text"
) -> None:
    """Let a paused rollout go on."""
    _action(name, "resume", server, token, output)


@app.command("promote")
def promote(
    name: NameArg, server: ServerOpt = "", token: TokenOpt = "", output: OutputOpt = "text"
) -> None:
    """Open the rollout's next step now, whatever the state of the current one."""
    _action(name, "promote", server, token, output)


def _print_rollout(data: dict[str, Any]) -> None:
    steps = data.get("steps") or []
    _out.print(
        f"{data['name']}: {data.get('phase', '-')} "
        f"(step {min(data.get('currentStep', 0) + 1, max(len(steps), 1))} of {len(steps)})"
        + (", paused" if data.get("paused") else ""),
        markup=False,
        highlight=False,
    )
    table = Table("STEP", "SELECTOR", "OPEN", "DONE", "WAITING", "BROKEN", box=None)
    for step in steps:
        table.add_row(
            str(step["index"] + 1),
            step.get("selector") or "(others)",
            "yes" if step["open"] else "no",
            f"{len(step['done'])}/{len(step['apps'])}",
            ", ".join(step["waiting"]) or "-",
            ", ".join(step["broken"]) or "-",
        )
    _out.print(table)


def targets(server: ServerOpt = "", token: TokenOpt = "", output: OutputOpt = "text") -> None:
    """Targets of a running agent: labels, reachable, API version, last error, since when."""
    data = agent_client.Api(server, token).get("/api/v1/targets")
    if _emit(data, output):
        return
    table = Table("NAME", "REACHABLE", "VERSION", "LABELS", "SINCE", "LAST ERROR", box=None)
    for row in data["items"]:
        reachable = {True: "yes", False: "NO", None: "unknown"}[row["reachable"]]
        labels = ",".join(f"{k}={v}" for k, v in sorted(row["labels"].items()))
        table.add_row(
            row["name"],
            reachable,
            row["version"] or "-",
            labels or "-",
            row["since"] or "-",
            row["lastError"] or "-",
        )
    _out.print(table)
