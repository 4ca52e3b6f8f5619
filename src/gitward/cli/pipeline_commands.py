"""One-shot commands over the reconcile sequence: ``render``, ``diff``, ``sync``.

No daemon needed: each command reads an Application file, runs the same
engine functions the agent runs, prints the result and exits with a code CI
can use (``diff`` exits 1 when out of sync, like ``kubectl diff``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
import yaml

from gitward import errors
from gitward.cli import consoles, sync_output
from gitward.engine import starting
from gitward.model import operations, plans

if TYPE_CHECKING:
    from gitward.engine import reconciling, runtimes

T = TypeVar("T")

# Exit codes: 0 success / in sync, 1 out of sync (diff) or sync failed,
# 2 invalid input (fix the files), 3 a dependency is unavailable (retry later).
EXIT_OUT_OF_SYNC = 1
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_UNAVAILABLE = 3

_out = consoles.Lazy()
_err = consoles.Lazy(stderr=True)

AppFile = Annotated[Path, typer.Argument(help="Application YAML file.", show_default=False)]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Agent configuration (targets, repository credentials)."),
]
KubeconfigOpt = Annotated[
    Path | None, typer.Option("--kubeconfig", help="Kubeconfig for the Application's target.")
]
ContextOpt = Annotated[str, typer.Option("--context", help="Kubeconfig context.")]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Where git mirrors and renders are kept.")
]
RevisionOpt = Annotated[
    str, typer.Option("--revision", help="Use this ref or commit instead of the Application's.")
]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="text, json or yaml.")]
SyncOutputOpt = Annotated[
    str,
    typer.Option(
        "--output",
        "-o",
        help="text (a summary), wide (every object), json or yaml (every object).",
    ),
]


def _run(build: Callable[[runtimes.Runtime], Awaitable[T]], settings: runtimes.RuntimeOptions) -> T:
    from gitward.engine import runtimes

    # The result leaves through this list, not as the main task's result:
    # asyncio.run formats the task (result included) while restoring the
    # SIGINT handler, which costs ~0.1 s for the report of 500 objects.
    done: list[T] = []

    async def main() -> None:
        async with runtimes.Runtime.open(settings) as runtime:
            done.append(await build(runtime))

    try:
        asyncio.run(main())
        return done[0]
    except errors.InputError as exc:
        _err.line(("error:", "red"), f" {exc}")
        raise typer.Exit(EXIT_INPUT) from None
    except errors.RetryableError as exc:
        _err.line(("unavailable:", "red"), f" {exc}")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    except errors.GitwardError as exc:
        _err.line(("error:", "red"), f" {exc}")
        raise typer.Exit(EXIT_FAILED) from None


def _options(
    config: Path | None, kubeconfig: Path | None, context: str, cache_dir: Path | None
) -> runtimes.RuntimeOptions:
    from gitward.engine import runtimes

    return runtimes.RuntimeOptions(
        config_file=config,
        kubeconfig=kubeconfig,
        context=context,
        cache_dir=cache_dir,
        record_metrics=False,
        keep_renders=True,
    )


def _load(app_file: Path) -> Any:
    from gitward.engine import documents

    try:
        return documents.load_application(app_file)
    except errors.GitwardError as exc:
        _err.line(("error:", "red"), f" {exc}")
        raise typer.Exit(EXIT_INPUT) from None


def render(
    app_file: AppFile,
    config: ConfigOpt = None,
    kubeconfig: Annotated[
        Path | None,
        typer.Option(
            "--kubeconfig",
            help="Also check the objects against this cluster (kinds it serves, namespaces).",
        ),
    ] = None,
    context: ContextOpt = "",
    cache_dir: CacheOpt = None,
    revision: RevisionOpt = "",
) -> None:
    """Print the manifests the Application renders to (Secrets' data masked).

    Objects declared twice and what the Project forbids are errors, as in
    ``sync``; kinds the target does not serve too when the target is reachable
    (declared in --config, or --kubeconfig given).
    """
    starting.one_shot()
    from gitward.engine import projecting, reconciling, reports

    app = _load(app_file)

    async def build(rt: runtimes.Runtime) -> reconciling.Desired:
        project = await projecting.governing(rt, app)
        desired = await reconciling.desired_state(rt, app, revision=revision, project=project)
        target = app.spec.destination.target
        if kubeconfig is not None or target in rt.settings.targets:
            await reconciling.prepare(rt, app, desired, project=project)
        return desired

    desired = _run(build, _options(config, kubeconfig, context, cache_dir))
    for warning in desired.rendered.warnings:
        _err.line(f"warning: {warning}")
    docs = [reports.masked_manifest(m) for m in desired.rendered.manifests]
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False) if docs else "")


def diff(
    app_file: AppFile,
    config: ConfigOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = "",
    cache_dir: CacheOpt = None,
    revision: RevisionOpt = "",
    output: OutputOpt = "text",
) -> None:
    """Show what a sync would change. Exit code 1 when out of sync.

    Objects another tool applied exactly as Git declares them, which the next
    sync only adopts (tracking stamped), do not count as out of sync."""
    starting.one_shot()
    from gitward.engine import projecting, reconciling

    app = _load(app_file)

    async def build(rt: runtimes.Runtime) -> plans.Plan:
        project = await projecting.governing(rt, app)
        desired = await reconciling.desired_state(rt, app, revision=revision, project=project)
        return await reconciling.plan(rt, app, desired, project=project)

    the_plan = _run(build, _options(config, kubeconfig, context, cache_dir))
    _print_plan(the_plan, output)
    if not the_plan.matches_git:
        raise typer.Exit(EXIT_OUT_OF_SYNC)


def sync(
    app_file: AppFile,
    config: ConfigOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = "",
    cache_dir: CacheOpt = None,
    revision: RevisionOpt = "",
    prune: Annotated[
        bool | None, typer.Option("--prune/--no-prune", help="Override the sync policy's prune.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and validate; apply nothing.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until every resource is healthy.")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds to wait for health.")
    ] = None,
    output: SyncOutputOpt = "text",
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every object (as -o wide).")
    ] = False,
) -> None:
    """Apply the Application once: server-side apply, prune, wait for health.

    Prints, per kind, how many objects were created, configured or left
    unchanged, names the changed objects and those not Healthy; ``-v`` (or
    ``-o wide``) lists every object and its health."""
    if output not in ("text", "wide", "json", "yaml"):
        message = f"unknown output {output!r} (text, wide, json or yaml)"
        _err.line(("error:", "red"), f" {message}")
        raise typer.Exit(EXIT_INPUT)
    starting.one_shot()
    from gitward.engine import reconciling

    app = _load(app_file)
    report = _run(
        lambda rt: reconciling.sync(
            rt,
            app,
            trigger="cli",
            revision=revision,
            prune=prune,
            dry_run=dry_run,
            wait=wait,
            health_timeout=timeout,
            report_health=True,
        ),
        _options(config, kubeconfig, context, cache_dir),
    )
    _print_operation(report, "wide" if verbose and output == "text" else output)
    if report.operation.phase is not operations.OperationPhase.SUCCEEDED:
        raise typer.Exit(_exit_code(report.error))


def _exit_code(error: errors.GitwardError | None) -> int:
    if isinstance(error, errors.InputError):
        return EXIT_INPUT
    if isinstance(error, errors.RetryableError):
        return EXIT_UNAVAILABLE
    return EXIT_FAILED


def _print_plan(the_plan: plans.Plan, output: str) -> None:
    from gitward.engine import reports

    if output in ("json", "yaml"):
        data = reports.plan_dict(the_plan)
        _dump(data, output)
        return
    _out.line(reports.plan_text(the_plan))


def _print_operation(report: reconciling.SyncReport, output: str) -> None:
    from gitward.engine import reports

    op = report.operation
    if output in ("json", "yaml"):
        _dump(reports.operation_dict(op), output)
        return
    wide = output == "wide"
    if wide and op.results:
        _print_table(op)
    elif op.results:
        sys.stdout.write("\n".join(sync_output.summary_lines(op)) + "\n")
    colour = "green" if op.phase is operations.OperationPhase.SUCCEEDED else "red"
    reason = f" ({op.reason})" if op.reason else ""
    _out.line((op.phase.value, colour), f"{reason}: {op.message}")
    for line in sync_output.health_lines(report, every=wide):
        _out.line(line)
    waiting = sync_output.not_healthy(report)
    if waiting and op.phase is operations.OperationPhase.SUCCEEDED:
        _out.line(
            ("not healthy yet:", "yellow"),
            f" {', '.join(waiting)}; the sync applied everything, "
            "these have not reached Healthy (use --wait to wait for them)",
        )


def _print_table(op: operations.Operation) -> None:
    from rich.table import Table  # only for -o wide: laying out a big table takes a while

    table = Table(title=sync_output.title(op))
    for column in ("resource", "action", "result", "message"):
        table.add_column(column)
    for result in op.results:
        style = "red" if result.code is operations.ResultCode.FAILED else ""
        table.add_row(
            str(result.key), result.action.value, result.code.value, result.message, style=style
        )
    _out.print(table)


def _dump(data: Any, output: str) -> None:
    if output == "json":
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
