"""``gitward demo``: run the example scenario with nothing pre-installed."""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gitward.demo import scenario


def demo(
    workdir: Annotated[
        Path | None, typer.Option("--dir", help="Where to put the repository and kubeconfig.")
    ] = None,
    port: Annotated[int, typer.Option("--port", help="API test server port (0 = any).")] = 0,
    api_port: Annotated[
        int,
        typer.Option("--api-port", help="Port of the agent's web UI and API (0: 8080 if free)."),
    ] = 0,
    keep_running: Annotated[
        bool | None,
        typer.Option(
            "--keep-running/--once",
            help="Keep everything up after the scenario (default: when run from a terminal).",
        ),
    ] = None,
) -> None:
    """Run the agent on an example repository (Kustomize overlays, a Helm chart)
    against gitward's Kubernetes API test server, then change Git, drift,
    prune and roll back, watching the agent react.

    The demo cluster is the API test server: it runs no containers.
    """
    console = Console(highlight=False)
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="gitward-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if keep_running is None:
        keep_running = sys.stdin.isatty()
    if api_port == 0:
        api_port = _port_or_any(8080)
    try:
        ok = asyncio.run(
            scenario.run(
                workdir, port=port, api_port=api_port, keep_running=keep_running, console=console
            )
        )
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    console.print(
        "[green]demo finished: every step behaved as expected[/]"
        if ok
        else "[red]demo finished, but a step did not behave as expected (see above)[/]"
    )
    raise typer.Exit(0 if ok else 1)


def _port_or_any(preferred: int) -> int:
    """``preferred`` when nothing listens there, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")
