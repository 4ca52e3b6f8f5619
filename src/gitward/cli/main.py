"""Entry point of the ``gitward`` command: the table of its commands.

Every command lives in a module of its own and is imported only when it
runs, so ``gitward --help`` and the thin API client commands start in a
fraction of a second (``bench/cli_start.py``). To add a command:

1. write it in ``gitward/cli/<thing>_commands.py``: a function for a single
   command, or a ``typer.Typer()`` for a group of subcommands;
2. add one :class:`~gitward.cli.lazy_groups.Lazy` line to ``COMMANDS`` below:
   the name, ``"module:attribute"``, and the one-line help that ``gitward
   --help`` shows (the first paragraph of the command's own help; a test
   keeps the two equal);
3. mark it ``logs=False`` only if it writes no logs at all (a plain API
   client), which spares it structlog's import.

Never import a command module here: ``tests/cli/test_starting.py`` fails if
``gitward --help`` imports the engine, the store, the web UI, the Kubernetes
client or git.
"""

from __future__ import annotations

import gc
import os
from typing import Annotated

import typer

from gitward.cli import exiting, lazy_groups

Lazy = lazy_groups.Lazy

COMMANDS = (
    Lazy(
        "demo",
        "gitward.cli.demo_commands:demo",
        "Run the agent on an example repository (Kustomize overlays, a Helm chart) against"
        " gitward's Kubernetes API test server, then change Git, drift, prune and roll back,"
        " watching the agent react.",
    ),
    Lazy(
        "serve",
        "gitward.cli.agent_commands:serve",
        "Run the agent: keep every Application declared under the root equal to Git.",
    ),
    Lazy(
        "render",
        "gitward.cli.pipeline_commands:render",
        "Print the manifests the Application renders to (Secrets' data masked).",
    ),
    Lazy(
        "diff",
        "gitward.cli.pipeline_commands:diff",
        "Show what a sync would change. Exit code 1 when out of sync.",
    ),
    Lazy(
        "sync",
        "gitward.cli.pipeline_commands:sync",
        "Apply the Application once: server-side apply, prune, wait for health.",
    ),
    Lazy(
        "events",
        "gitward.cli.app_commands:events",
        "Show the event log; --follow streams new events as they happen.",
        logs=False,
    ),
    Lazy(
        "set-image",
        "gitward.cli.ci_commands:set_image",
        "Commit a new image tag wherever PATH pins the image, and push (for CI).",
    ),
    Lazy(
        "promote",
        "gitward.cli.ci_commands:promote",
        "Copy image tags and chart versions from one environment to another.",
    ),
    Lazy(
        "plan",
        "gitward.cli.ci_commands:plan",
        "Preview a pull request: Markdown fit for a PR comment. Exit 1 if anything would change.",
    ),
    Lazy(
        "import",
        "gitward.cli.import_commands:import_",
        "Translate Argo CD Applications, ApplicationSets, AppProjects and Flux sources,"
        " Kustomizations and HelmReleases into gitward files, with a report of every field"
        " not translated and why.",
    ),
    Lazy(
        "testing",
        "gitward.cli.testing_commands:app",
        "Tools for testing GitOps pipelines without a real cluster.",
    ),
    Lazy(
        "app",
        "gitward.cli.app_commands:app",
        "Applications of a running agent: list, inspect, diff, sync, roll back, wait.",
        logs=False,
    ),
    Lazy(
        "bootstrap",
        "gitward.cli.bootstrap_commands:bootstrap",
        "Install gitward into a cluster and let it manage itself from Git.",
    ),
    Lazy(
        "uninstall",
        "gitward.cli.bootstrap_commands:uninstall",
        "Remove what gitward bootstrap installed; Applications' workloads keep running.",
    ),
    Lazy(
        "appset",
        "gitward.cli.appset_commands:app",
        "ApplicationSets: preview what they generate; show, pause, resume and promote rollouts.",
    ),
    Lazy(
        "targets",
        "gitward.cli.appset_commands:targets",
        "Targets of a running agent: labels, reachable, API version, last error, since when.",
        logs=False,
    ),
    Lazy(
        "replicas",
        "gitward.cli.replica_commands:replicas",
        "Replicas of a running agent: members, leases, Applications each owns, recent handoffs.",
        logs=False,
    ),
    Lazy(
        "token",
        "gitward.cli.token_commands:app",
        "API tokens (stored hashed in the agent's store).",
    ),
    Lazy(
        "report",
        "gitward.cli.report_commands:app",
        "Reports computed from gitward's history: delivery (DORA) figures.",
    ),
    Lazy(
        "notifications",
        "gitward.cli.notification_commands:app",
        "Notifications of a running agent: the delivery log.",
        logs=False,
    ),
)

app = typer.Typer(
    name="gitward",
    help="gitward: a GitOps engine that keeps live systems equal to what Git declares.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=lazy_groups.group_class(COMMANDS),
)

_BY_NAME = {command.name: command for command in COMMANDS}
# One Application, then exit: the cyclic collector stays off for their whole
# run (what they allocate is bounded, and freed by reference counting).
_ONE_SHOT = frozenset({"render", "diff", "sync"})
_configure_logs = False


def _print_version(value: bool) -> None:
    if value:
        from gitward import __version__

        typer.echo(f"gitward {__version__}")
        raise typer.Exit()


@app.callback()
def _before_command(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    # Only the ``gitward`` process itself configures logging: commands run
    # in-process by tests (typer's CliRunner) must not point structlog at the
    # runner's temporary stderr.
    command = _BY_NAME.get(ctx.invoked_subcommand or "")
    if _configure_logs and (command is None or command.logs):
        from gitward.cli import logs  # structlog costs ~0.1 s to import: only when used

        logs.configure()
    if _configure_logs and (command is None or command.name not in _ONE_SHOT):
        # Everything imported so far lives until exit: never scan it again.
        gc.freeze()
        gc.enable()
    elif _configure_logs:
        exiting.one_shot()


def run() -> None:
    global _configure_logs
    _configure_logs = True
    # Importing a command allocates objects that live until the process
    # exits; collecting while importing only scans them over and over, and
    # the collections at exit scan them once more unless they are frozen
    # (together ~0.25 s of CPU for `gitward sync` of 500 objects).
    gc.disable()
    # gitward validates its own configuration with pydantic; looking for
    # pydantic plugins (observability hooks) reads the metadata of every
    # installed distribution before the first model is built (~10 ms of every
    # command). A value the user sets wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
    exiting.install()
    try:
        app()
    except SystemExit as exc:
        exiting.ended(exc.code)
        raise
    finally:
        gc.freeze()
