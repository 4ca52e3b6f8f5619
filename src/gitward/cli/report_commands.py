"""``gitward report delivery``: the delivery (DORA) figures from the store and Git.

Reads the same store and Git mirrors as the agent (``--config``), so it works
beside a running ``gitward serve`` or on a copy of its database.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from gitward import errors
from gitward.engine import documents, runtimes
from gitward.engine.delivery import computing, gathering
from gitward.store import storing

app = typer.Typer(
    help="Reports computed from gitward's history: delivery (DORA) figures.",
    no_args_is_help=True,
)

EXIT_INPUT = 2
EXIT_UNAVAILABLE = 3


@app.command("delivery")
def delivery(
    config: Annotated[Path, typer.Option("--config", "-c", help="Agent configuration file.")],
    app_name: Annotated[str, typer.Option("--app", help="Only this Application.")] = "",
    project: Annotated[str, typer.Option("--project", help="Only this Project.")] = "",
    target: Annotated[str, typer.Option("--target", help="Only this target.")] = "",
    since: Annotated[
        str,
        typer.Option("--since", help="Window: 30d, 12h, 90m ... (default deliveryMetrics.window)."),
    ] = "",
    until_text: Annotated[
        str,
        typer.Option("--until", help="End of the window (ISO 8601, UTC if no zone); default now."),
    ] = "",
    output: Annotated[str, typer.Option("--output", "-o", help="text or json.")] = "text",
) -> None:
    """Deployment frequency, lead time for changes, change failure rate, time to restore."""
    if output not in ("text", "json"):
        typer.echo(f"error: --output {output!r} must be text or json", err=True)
        raise typer.Exit(EXIT_INPUT)
    try:
        settings = documents.load_settings(config)
        window = gathering.parse_window(since, settings.delivery_metrics.window)
    except (errors.GitwardError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INPUT) from None
    scope = gathering.Scope(app=app_name or None, project=project or None, target=target or None)
    try:
        until = _until(until_text)
    except ValueError:
        typer.echo(f"error: --until {until_text!r} is not an ISO 8601 date or time", err=True)
        raise typer.Exit(EXIT_INPUT) from None
    try:
        document = asyncio.run(
            _report(settings, config, scope, until - timedelta(seconds=window), until)
        )
    except errors.InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INPUT) from None
    except errors.RetryableError as exc:
        typer.echo(f"unavailable: {exc}", err=True)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    if output == "json":
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(text(document))


def _until(text: str) -> datetime:
    if not text:
        return datetime.now(UTC)
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def _report(
    settings: Any, config: Path, scope: gathering.Scope, since: datetime, until: datetime
) -> dict[str, Any]:
    store = storing.SqlStore(settings.store)
    await store.open()
    try:
        options = runtimes.RuntimeOptions(settings=settings, config_file=config)
        async with runtimes.Runtime.open(options) as runtime:
            declared = await gathering.declared_apps(runtime)
            apps = await gathering.infos(store, declared)
            report = await gathering.report(
                store,
                apps,
                scope=scope,
                since=since,
                until=until,
                failure_window=timedelta(seconds=settings.delivery_metrics.failure_window),
                commit_log=gathering.runtime_commit_log(runtime),
            )
    finally:
        await store.close()
    return computing.report_dict(report, scope.as_dict())


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def text(document: dict[str, Any]) -> str:
    """The report as a person reads it."""
    freq = document["deploymentFrequency"]
    lead = document["leadTimeForChanges"]
    cfr = document["changeFailureRate"]
    ttr = document["timeToRestore"]
    rate = "-" if cfr["rate"] is None else f"{cfr['rate'] * 100:.1f}%"
    scope = ", ".join(f"{k} {v}" for k, v in document["scope"].items() if v) or "all applications"
    lines = [
        f"Delivery of {scope}, {document['since'][:16]} .. {document['until'][:16]} UTC",
        f"  Deployment frequency   {freq['deployments']} deployments, "
        f"{freq['perDay']:.2f}/day, {freq['perWeek']:.2f}/week",
        f"  Lead time for changes  p50 {_duration(lead['p50'])}, p90 {_duration(lead['p90'])} "
        f"({lead['commits']} commits)",
        f"  Change failure rate    {rate} ({cfr['failed']} of {cfr['deployments']} deployments)",
        f"  Time to restore        p50 {_duration(ttr['p50'])}, p90 {_duration(ttr['p90'])} "
        f"({ttr['restored']} restored, {ttr['open']} open)",
    ]
    if len(document["applications"]) > 1:
        lines.append("")
        lines.append(
            f"  {'APPLICATION':<28} {'DEPLOYS':>7} {'LEAD P50':>9} {'CFR':>7} {'MTTR P50':>9}"
        )
        for row in document["applications"]:
            row_rate = row["changeFailureRate"]["rate"]
            lines.append(
                f"  {row['name']:<28} {row['deploymentFrequency']['deployments']:>7} "
                f"{_duration(row['leadTimeForChanges']['p50']):>9} "
                f"{'-' if row_rate is None else f'{row_rate * 100:.0f}%':>7} "
                f"{_duration(row['timeToRestore']['p50']):>9}"
            )
    return "\n".join(lines) + "\n"
