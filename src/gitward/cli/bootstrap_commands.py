"""``gitward bootstrap`` and ``gitward uninstall``: gitward in the cluster it manages.

Thin edges over ``engine.bootstrapping`` and ``engine.uninstalling``. Exit
codes: 0 done, 2 invalid input (the path holds other files, a wrong value, the
push refused), 3 a dependency unavailable (the cluster or repository
unreachable, the agent not Synced in time: retry).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml

from gitward import errors
from gitward.cli import consoles
from gitward.engine import bootstrapping, runtimes, uninstalling

T = TypeVar("T")

EXIT_INPUT = 2
EXIT_UNAVAILABLE = 3

_err = consoles.Lazy(stderr=True)

KubeconfigOpt = Annotated[
    Path | None,
    typer.Option("--kubeconfig", help="Kubeconfig of the cluster (default as kubectl)."),
]
ContextOpt = Annotated[str, typer.Option("--context", help="Context in the kubeconfig.")]
NamespaceOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace gitward runs in.")]


def _run(build: Callable[[runtimes.Runtime], Awaitable[T]], options: runtimes.RuntimeOptions) -> T:
    async def main() -> T:
        async with runtimes.Runtime.open(options) as runtime:
            return await build(runtime)

    try:
        return asyncio.run(main())
    except errors.RetryableError as exc:
        _err.line(("unavailable:", "red"), f" {exc}")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    except errors.GitwardError as exc:
        _err.line(("error:", "red"), f" {exc}")
        raise typer.Exit(EXIT_INPUT) from None


def _progress(message: str) -> None:
    _err.line((">", "dim"), f" {message}")


def _values(files: list[Path] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in files or []:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            _err.line(("error:", "red"), f" --values {path}: {type(exc).__name__}")
            raise typer.Exit(EXIT_INPUT) from None
        if not isinstance(loaded, dict):
            _err.line(("error:", "red"), f" --values {path}: not a mapping")
            raise typer.Exit(EXIT_INPUT)
        merged = bootstrapping._merge(merged, loaded)
    return merged


def bootstrap(
    repo: Annotated[str, typer.Option("--repo", help="GitOps repository URL (write access).")],
    path: Annotated[
        str, typer.Option("--path", help="Directory for this cluster, e.g. clusters/production.")
    ],
    branch: Annotated[str, typer.Option("--branch", help="Branch to commit to.")] = "main",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = "",
    image: Annotated[
        str, typer.Option("--image", help="gitward image (REPOSITORY:TAG or @DIGEST).")
    ] = "",
    values: Annotated[
        list[Path] | None,
        typer.Option("--values", "-f", help="More chart values (YAML; repeatable)."),
    ] = None,
    namespace: NamespaceOpt = bootstrapping.NAMESPACE,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Seconds to wait for gitward to sync itself; 0 = no wait."),
    ] = 300.0,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Repository credentials (a gitward.yaml)."),
    ] = None,
) -> None:
    """Install gitward into a cluster and let it manage itself from Git."""
    try:
        request = bootstrapping.Request(
            repo_url=repo,
            path=path,
            branch=branch,
            image=image,
            values=_values(values),
            namespace=namespace,
        )
    except errors.GitwardError as exc:
        _err.line(("error:", "red"), f" {exc}")
        raise typer.Exit(EXIT_INPUT) from None
    options = runtimes.RuntimeOptions(
        config_file=config,
        kubeconfig=kubeconfig or runtimes.default_kubeconfig(),
        context=context,
    )

    async def build(runtime: runtimes.Runtime) -> bootstrapping.Result:
        target = runtime.target(bootstrapping.TARGET)
        return await bootstrapping.bootstrap(
            request, runtime, target, wait=timeout, progress=_progress
        )

    result = _run(build, options)
    if result.unchanged:
        typer.echo(f"gitward is installed from {repo} {request.path}; nothing changed")
    else:
        where = f"commit {result.commit[:12]}" if result.commit else "Git unchanged"
        typer.echo(f"gitward installed from {repo} {request.path} ({where})")
    if result.revision:
        typer.echo(f"Application {namespace}/gitward: Synced at {result.revision[:12]}")


def uninstall(
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = "",
    namespace: NamespaceOpt = bootstrapping.NAMESPACE,
    delete_workloads: Annotated[
        bool,
        typer.Option(
            "--delete-workloads",
            help="Also delete what every Application deployed (default: left running).",
        ),
    ] = False,
    keep_crds: Annotated[
        bool,
        typer.Option(
            "--keep-crds", help="Keep the CRDs and the Application/Project objects in the cluster."
        ),
    ] = False,
    repo: Annotated[
        str, typer.Option("--repo", help="Also remove bootstrap's files from this repository.")
    ] = "",
    path: Annotated[str, typer.Option("--path", help="The --path given to bootstrap.")] = "",
    branch: Annotated[str, typer.Option("--branch", help="Branch to commit to.")] = "main",
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Repository credentials (a gitward.yaml)."),
    ] = None,
) -> None:
    """Remove what gitward bootstrap installed; Applications' workloads keep running."""
    if bool(repo) != bool(path):
        _err.line(("error:", "red"), " --repo and --path go together")
        raise typer.Exit(EXIT_INPUT)
    options = runtimes.RuntimeOptions(
        config_file=config,
        kubeconfig=kubeconfig or runtimes.default_kubeconfig(),
        context=context,
    )

    async def build(runtime: runtimes.Runtime) -> uninstalling.Removed:
        target = runtime.target(bootstrapping.TARGET)
        return await uninstalling.uninstall(
            runtime,
            target,
            namespace=namespace,
            delete_workloads=delete_workloads,
            keep_crds=keep_crds,
            repo_url=repo,
            path=path,
            branch=branch,
            progress=_progress,
        )

    removed = _run(build, options)
    typer.echo(
        f"gitward uninstalled: {len(removed.deleted)} objects deleted"
        + (f", {len(removed.workloads)} workload objects deleted" if delete_workloads else "")
        + (f", commit {removed.commit[:12]}" if removed.commit else "")
    )
