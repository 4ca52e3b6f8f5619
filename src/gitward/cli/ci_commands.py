"""Commands for CI pipelines: ``set-image``, ``promote`` and ``plan``.

The seam between CI and GitOps is Git: CI builds and pushes an image, then
``gitward set-image`` commits the new tag (the agent applies it); ``gitward
promote`` copies versions from one environment to the next as a commit or a
pull request branch; ``gitward plan`` previews a pull request as a Markdown
comment. Thin edges over ``engine.imaging``, ``engine.promoting`` and
``engine.previews``.

Exit codes: ``set-image`` and ``promote`` 0 done (or nothing to do), 2
invalid input, 3 a dependency unavailable (retry); ``plan`` 0 nothing would
change, 1 something would, 2 an error (an Application that cannot be
planned, or bad input).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from gitward import errors
from gitward.cli import consoles
from gitward.config import applications
from gitward.engine import (
    catalog,
    documents,
    imaging,
    previews,
    projecting,
    promoting,
    reports,
    runtimes,
)

T = TypeVar("T")

EXIT_INPUT = 2
EXIT_UNAVAILABLE = 3

_out = consoles.Lazy()
_err = consoles.Lazy(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Agent configuration (root, repository credentials)."),
]
CacheOpt = Annotated[Path | None, typer.Option("--cache-dir", help="Where git mirrors are kept.")]
AuthorName = Annotated[
    str, typer.Option("--author-name", envvar="GITWARD_AUTHOR_NAME", help="Commit author name.")
]
AuthorEmail = Annotated[
    str,
    typer.Option("--author-email", envvar="GITWARD_AUTHOR_EMAIL", help="Commit author email."),
]
AppFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--app",
        help="Application file (repeatable); default: the Applications under the configured root.",
    ),
]


def _run(
    build: Callable[[runtimes.Runtime], Awaitable[T]],
    options: runtimes.RuntimeOptions,
    *,
    failure: int | None = None,
) -> T:
    async def main() -> T:
        async with runtimes.Runtime.open(options) as runtime:
            return await build(runtime)

    try:
        return asyncio.run(main())
    except errors.RetryableError as exc:
        _err.line(("unavailable:", "red"), f" {exc}")
        raise typer.Exit(failure or EXIT_UNAVAILABLE) from None
    except errors.GitwardError as exc:
        _err.line(("error:", "red"), f" {exc}")
        raise typer.Exit(failure or EXIT_INPUT) from None


def _author(name: str, email: str) -> imaging.Author:
    try:
        return imaging.Author(name=name, email=email)
    except errors.GitwardError as exc:
        _err.line(("error:", "red"), f" {exc}")
        raise typer.Exit(EXIT_INPUT) from None


async def _root_catalog(runtime: runtimes.Runtime, revision: str = "") -> catalog.Catalog:
    root = runtime.settings.root
    if root is None:
        raise errors.ConfigError(
            "no Applications: pass --app FILE, or a --config whose `root` declares them"
        )
    repo = runtime.repo(root.repo_url)
    await runtime.sources.fetch(repo)
    resolved = await runtime.sources.resolve(repo, revision or root.ref)
    loaded = catalog.load(runtime.sources.tree(repo, resolved.sha), root.path)
    for problem in loaded.problems:
        _err.print(f"warning: {problem}", markup=False)
    return loaded


def _app_files(files: list[Path]) -> dict[str, applications.Application]:
    apps: dict[str, applications.Application] = {}
    for path in files:
        app = documents.load_application(path)
        if app.name in apps:
            raise errors.ConfigError(f"{path}: Application {app.name} is given twice")
        apps[app.name] = app
    return apps


# --- set-image ---------------------------------------------------------------------------


def set_image(
    image: Annotated[str, typer.Argument(help="IMAGE:TAG (or IMAGE@DIGEST) to set.")],
    repo: Annotated[str, typer.Option("--repo", help="Repository URL to commit to.")],
    path: Annotated[
        str, typer.Option("--path", help="Directory (or file) of the repository to update.")
    ] = "",
    branch: Annotated[str, typer.Option("--branch", help="Branch to commit to.")] = "main",
    key: Annotated[
        str, typer.Option("--key", help="Helm values key holding the tag, e.g. image.tag.")
    ] = "",
    author_name: AuthorName = "gitward",
    author_email: AuthorEmail = "gitward@localhost",
    attempts: Annotated[
        int, typer.Option("--attempts", help="Pushes to try when others push first.")
    ] = 5,
    config: ConfigOpt = None,
    cache_dir: CacheOpt = None,
) -> None:
    """Commit a new image tag wherever PATH pins the image, and push (for CI)."""
    author = _author(author_name, author_email)
    changed: list[imaging.ImageChange] = []
    pushed = _run(
        lambda rt: imaging.set_image(
            rt,
            repo,
            path,
            image,
            branch=branch,
            author=author,
            run_info=imaging.ci_run(),
            key=key,
            attempts=attempts,
            on_change=changed.append,
        ),
        runtimes.RuntimeOptions(config_file=config, cache_dir=cache_dir),
    )
    if pushed is None:
        _out.print(f"nothing to do: {path or '/'} already pins {image}", markup=False)
        return
    summary = changed[0] if changed else None
    _out.print(
        f"pushed {pushed.sha} to {branch}"
        + (f" after {pushed.attempts} attempts" if pushed.attempts > 1 else ""),
        markup=False,
    )
    if summary is not None:
        _out.print(
            f"{summary.image}: {', '.join(summary.old_versions)} → {summary.new_version} in "
            + ", ".join(summary.files),
            markup=False,
        )


# --- promote -----------------------------------------------------------------------------


def promote(
    app: Annotated[str, typer.Argument(help="Application group (web for web-staging...).")],
    from_env: Annotated[str, typer.Option("--from", help="Environment to copy from.")],
    to_env: Annotated[str, typer.Option("--to", help="Environment to copy to.")],
    apps: AppFiles = None,
    branch: Annotated[
        str, typer.Option("--branch", help="Target branch (default: the target's ref).")
    ] = "",
    as_branch: Annotated[
        str, typer.Option("--as-branch", help="Commit to this branch, for a pull request.")
    ] = "",
    key: Annotated[
        str, typer.Option("--key", help="Helm values key holding an image tag.")
    ] = promoting.DEFAULT_KEY,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show; push nothing.")] = False,
    author_name: AuthorName = "gitward",
    author_email: AuthorEmail = "gitward@localhost",
    config: ConfigOpt = None,
    cache_dir: CacheOpt = None,
) -> None:
    """Copy image tags and chart versions from one environment to another."""
    author = _author(author_name, author_email)

    async def build(rt: runtimes.Runtime) -> promoting.Promotion:
        declared: Any = _app_files(apps) if apps else await _root_catalog(rt)
        return await promoting.promote(
            rt,
            declared,
            app,
            from_env,
            to_env,
            as_branch=as_branch or None,
            branch=branch or None,
            key=key,
            author=author,
            dry_run=dry_run,
        )

    result = _run(build, runtimes.RuntimeOptions(config_file=config, cache_dir=cache_dir))
    _out.print(result.summary(), markup=False)
    for skipped in result.skipped_files:
        _err.print(f"warning: skipped {skipped}", markup=False)


# --- plan --------------------------------------------------------------------------------


def plan(
    revision: Annotated[str, typer.Option("--revision", help="The pull request's head ref.")],
    base: Annotated[
        str, typer.Option("--base", help="The base ref (default: each Application's ref).")
    ] = "",
    apps: AppFiles = None,
    repo: Annotated[
        str,
        typer.Option("--repo", help="The pull request's repository (default: the root's)."),
    ] = "",
    offline: Annotated[
        bool, typer.Option("--offline", help="Compare base and head renders; no target.")
    ] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="markdown or json.")] = "markdown",
    config: ConfigOpt = None,
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="Kubeconfig for the targets.")
    ] = None,
    context: Annotated[str, typer.Option("--context", help="Kubeconfig context.")] = "",
    cache_dir: CacheOpt = None,
) -> None:
    """Preview a pull request: Markdown fit for a PR comment. Exit 1 if anything would change."""
    if output not in ("markdown", "json"):
        _err.print(f"error: unknown output {output!r} (markdown or json)", markup=False)
        raise typer.Exit(previews.EXIT_ERRORS)

    async def build(rt: runtimes.Runtime) -> previews.Preview:
        root = rt.settings.root
        pr_repo = repo or (root.repo_url if root is not None else "") or None
        base_apps: list[applications.Application] = []
        if apps:
            head_apps = list(_app_files(apps).values())
        elif root is not None and pr_repo == root.repo_url:
            # The pull request may add, change or remove Applications too.
            head_apps = [d.app for d in (await _root_catalog(rt, revision)).apps.values()]
            base_apps = [d.app for d in (await _root_catalog(rt, base)).apps.values()]
        else:
            head_apps = [d.app for d in (await _root_catalog(rt)).apps.values()]
        return await previews.plan_pull_request(
            rt,
            head_apps,
            base,
            revision,
            live=not offline,
            repo_url=pr_repo,
            base_apps=base_apps,
            # The Projects at the root's own ref: a pull request cannot widen them.
            projects=await projecting.declared(rt),
        )

    options = runtimes.RuntimeOptions(
        config_file=config, kubeconfig=kubeconfig, context=context, cache_dir=cache_dir
    )
    result = _run(build, options, failure=previews.EXIT_ERRORS)
    if output == "json":
        sys.stdout.write(json.dumps(_preview_dict(result), indent=2, default=str) + "\n")
    else:
        sys.stdout.write(result.markdown)
    raise typer.Exit(result.exit_code)


def _preview_dict(result: previews.Preview) -> dict[str, Any]:
    return {
        "base": result.base,
        "head": result.head,
        "exitCode": result.exit_code,
        "unaffected": list(result.unaffected),
        "applications": [
            {
                "app": a.app,
                "offline": a.offline,
                "removed": a.removed,
                "note": a.note,
                "error": a.error,
                "reason": a.reason,
                "plan": reports.plan_dict(a.plan) if a.plan is not None else None,
            }
            for a in result.apps
        ],
    }
