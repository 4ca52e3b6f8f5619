"""``gitward testing``: tools for testing against gitward without a real cluster.

Mounted by :mod:`gitward.cli.main`; ``kube-api`` runs the Kubernetes API test
server of :mod:`gitward.testing.kubeapi` until interrupted.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from gitward.testing import kubeapi

app = typer.Typer(
    help="Tools for testing GitOps pipelines without a real cluster.",
    no_args_is_help=True,
)


@app.callback()
def testing() -> None:
    """Tools for testing GitOps pipelines without a real cluster."""


@app.command("kube-api")
def kube_api(
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 6443,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    kubeconfig_out: Annotated[
        Path | None,
        typer.Option(help="Write a kubeconfig for this server to FILE (mode 0600)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="Require this bearer token on every request.", envvar="GITWARD_KUBE_API_TOKEN"
        ),
    ] = None,
    tls: Annotated[
        bool, typer.Option(help="Serve HTTPS with a throw-away CA (put in the kubeconfig).")
    ] = False,
    workload_delay: Annotated[
        float, typer.Option(help="Seconds before simulated workloads report ready.")
    ] = 0.2,
    progress_deadline: Annotated[
        float,
        typer.Option(help="Seconds before a failing Deployment reports ProgressDeadlineExceeded."),
    ] = 2.0,
    write_latency: Annotated[
        float,
        typer.Option(help="Seconds every write request (dry runs too) waits before it is served."),
    ] = 0.0,
    write_log: Annotated[
        Path | None,
        typer.Option(help="Append every write (User-Agent, object, times) to FILE as JSON lines."),
    ] = None,
) -> None:
    """Run an in-memory Kubernetes API server for kubectl, lightkube and gitward.

    It serves discovery, OpenAPI, CRUD, watch, server-side apply, CRDs and
    finalizers from memory. NO CONTAINERS RUN: Deployments, StatefulSets,
    DaemonSets, Pods and Jobs only report the status they would have after
    --workload-delay seconds; an image whose tag or name contains "fail" never
    becomes ready. State is lost when the server stops. Stop it with Ctrl-C.
    """

    async def serve() -> None:
        server = kubeapi.KubeAPIServer(
            host=host,
            port=port,
            token=token,
            tls=tls,
            workload_delay=workload_delay,
            progress_deadline=progress_deadline,
            write_latency=write_latency,
        )
        if write_log is not None:
            server.writes.record_to(write_log)
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        typer.echo(f"Kubernetes API test server listening on {server.url} (no containers run)")
        if kubeconfig_out is not None:
            path = server.write_kubeconfig(kubeconfig_out)
            typer.echo(f"kubeconfig written to {path}: export KUBECONFIG={path}")
        try:
            await stop.wait()
        finally:
            await server.stop()
            typer.echo("stopped")

    try:
        import uvloop

        uvloop.run(serve())
    except kubeapi.ServerStartError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
