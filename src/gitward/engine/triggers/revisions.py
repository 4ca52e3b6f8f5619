"""Fetching a repository and telling whether an Application's ref moved.

Shared by the triggers that follow commits and chart versions (``polling``,
``pushes``, ``policy_commits``); it only reads, and cancels a sync made
stale by a newer revision.
"""

from __future__ import annotations

import structlog

from gitward import errors
from gitward.engine import context, sourcing, states
from gitward.source import base as source_base
from gitward.source import webhooks

_log = structlog.get_logger(__name__)


async def fetch(ctx: context.Context, url: str) -> source_base.FetchResult | None:
    """Fetch ``url``'s mirror; None (logged) when it failed."""
    try:
        with ctx.metrics.git_fetch(url):
            return await ctx.runtime.sources.fetch(ctx.runtime.repo(url))
    except errors.GitwardError as exc:
        _log.warning("fetch failed", error=str(exc))
        return None


def is_root(ctx: context.Context, url: str) -> bool:
    """Whether ``url`` names the root's repository (spelt any way)."""
    root = ctx.settings.root
    return root is not None and webhooks.normalise_url(root.repo_url) == webhooks.normalise_url(url)


def known_unmoved(state: states.AppState, resolved: dict[tuple[str, str], str]) -> bool:
    """Whether ``resolved`` already shows that the Application's ref did not
    move (False: unknown, ask :func:`ref_moved`). The quick answer of a
    poll's pass over a monorepo's Applications, nearly all of which did not
    move: no coroutine, no resolve."""
    if state.pinned_revision:
        return True
    source = state.app.spec.source
    sha = resolved.get((source.repo_url, source.ref))
    return (
        sha is not None
        and sha == sourcing.commit_of(state.revision)
        and sourcing.follows_one_commit(state.app)
    )


async def ref_moved(
    ctx: context.Context,
    state: states.AppState,
    resolved: dict[tuple[str, str], str] | None = None,
) -> bool:
    """Whether the Application's ref now names another commit (or, with charts
    or several sources, whether any source names another version or commit).

    ``resolved`` memoises (url, ref) → sha for one pass over many
    Applications: in a monorepo, 200 Applications on ``main`` cost one
    resolve, not 200.
    """
    if state.pinned_revision:
        return False
    if not sourcing.follows_one_commit(state.app):
        try:
            identity = await sourcing.current_identity(
                ctx.runtime,
                state.app,
                max_age=ctx.options.poll_interval,
                project=ctx.project(state.app),
            )
        except errors.GitwardError:
            return True  # let the reconcile report it
        if identity != state.revision:
            ctx.supersede(state.name, identity)
            return True
        return False
    source = state.app.spec.source
    memo = (source.repo_url, source.ref)
    sha = resolved.get(memo) if resolved is not None else None
    if sha is None:
        try:
            revision = await ctx.runtime.sources.resolve(
                ctx.runtime.repo(source.repo_url), source.ref
            )
        except errors.GitwardError:
            return True  # let the reconcile report it
        sha = revision.sha
        if resolved is not None:
            resolved[memo] = sha
    # A chart in Git with fetched dependencies: its identity is the commit
    # plus their digests; a poll follows the commit (resync re-resolves them).
    if sha != sourcing.commit_of(state.revision):
        ctx.supersede(state.name, sha)
        return True
    return False
