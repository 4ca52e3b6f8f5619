"""Commits that change nothing an Application renders from.

A monorepo commit moves the ref that every Application of the repository
follows. Rendering and planning each of them again to find that only one
changed costs seconds for a thousand. So each full reconcile records what it
rendered from (:class:`states.Basis`: the commit, the repository paths the
render read, as ``Rendered.input_paths`` names them, and the spec, Project
and settings it used), and the triggers that follow commits (``polling``,
``pushes``) ask a :class:`Pass` before queueing an Application whose ref
moved. When the commits in between changed none of those paths (one tree
diff per pair of commits, whatever the number of Applications) and nothing
else it depends on changed, the Application advances to the new commit
without a render, a plan or an apply: its status names the new revision and
it stays Synced. Nothing was applied, so no Operation is recorded and no
event is emitted (one per untouched Application per commit would bury the
ones that matter); the ``Reconciled`` condition says which commit it was
advanced to and why, and ``gitward_untouched_advances_total`` counts them.
This is what Argo CD does for ``manifest-generate-paths``, with the paths the
renderer read instead of paths declared by hand.

Whatever cannot be shown unchanged is queued as before, for a full
reconcile: no basis (never rendered in this process, a render that failed,
inputs that cannot be vouched for: symlinks, remote Kustomize bases, another
tool's renderer), several sources or a chart, fetched chart dependencies,
``postBuild.substituteFrom`` (read from the cluster), a signed-commit policy,
a pinned, suspended, drifted, failing or not yet synced Application, one
queued or being reconciled, one another replica owns, a changed spec,
Project or settings, or a tree diff that fails. The resync interval, drift,
people's requests and every other trigger are not affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterable, Mapping

import structlog

from gitward import errors
from gitward.config import applications
from gitward.engine import context, reconciling, sourcing, states
from gitward.model import status
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)


def basis(
    ctx: context.Context,
    app: applications.Application,
    revision: str,
    rendered_paths: tuple[str, ...] | None,
) -> states.Basis | None:
    """What a full reconcile of ``app`` at ``revision`` rendered from; None when
    a later commit could not be judged by it."""
    if rendered_paths is None or not sourcing.follows_one_commit(app) or "+" in revision:
        return None
    post_build = app.spec.post_build
    if post_build is not None and post_build.substitute_from:
        return None  # variables read from the cluster change without a commit
    try:
        project = ctx.project(app)
    except errors.GitwardError:
        return None
    return states.Basis(revision, rendered_paths, app, project, ctx.settings)


def touches(changed: Iterable[str], paths: Iterable[str]) -> bool:
    """Whether a changed path is one of ``paths``, below one, or above one
    (a directory replaced by a file or a link changes what is below it)."""
    watched = list(paths)
    if "" in watched:
        return any(True for _ in changed)
    for path in changed:
        for read in watched:
            if path == read or path.startswith(read + "/") or read.startswith(path + "/"):
                return True
    return False


class Pass:
    """One trigger's pass over the Applications of one repository whose ref moved."""

    def __init__(self, ctx: context.Context, url: str) -> None:
        self._ctx = ctx
        self._url = url
        self._changes: dict[tuple[str, str], frozenset[str] | None] = {}
        self._advanced: list[states.AppState] = []

    async def advanced(
        self, state: states.AppState, resolved: Mapping[tuple[str, str], str]
    ) -> bool:
        """Whether ``state`` was advanced to the commit its ref names now
        (``resolved``: what ``revisions.ref_moved`` resolved in this pass);
        False: queue it."""
        source = state.app.spec.source
        sha = resolved.get((source.repo_url, source.ref), "")
        found = state.basis
        if not sha or found is None or not self._may_skip(state, found):
            return False
        pair = (found.revision, sha)
        if pair not in self._changes:
            self._changes[pair] = await self._diff(*pair)
            # The diff ran in a thread: a worker may have taken it meanwhile.
            if state.basis is not found or not self._may_skip(state, found):
                return False
        changed = self._changes[pair]
        if changed is None or touches(changed, found.paths):
            return False
        now = self._ctx.clock()
        state.previous_revision, state.revision = state.revision, sha
        state.synced_revision = sha
        if state.health_revision == found.revision:
            state.health_revision = sha  # the same objects, assessed already
        state.basis = dataclasses.replace(found, revision=sha)
        state.set_condition(
            states.RECONCILED,
            True,
            "Succeeded",
            f"advanced to {sha[:12]} without a render: the commits since"
            f" {found.revision[:12]} change nothing it renders from",
            now,
        )
        self._advanced.append(state)
        return True

    def _may_skip(self, state: states.AppState, found: states.Basis) -> bool:
        ctx = self._ctx
        app = state.app
        name = state.name
        reconciled = state.conditions.get(states.RECONCILED)
        if not (
            found.app is app
            and found.settings is ctx.settings
            and found.revision == state.revision == state.synced_revision
            and app.spec.source.repo_url == self._url
            and sourcing.follows_one_commit(app)
            and not state.pinned_revision
            and not state.is_suspended
            and state.sync is status.SyncStatus.SYNCED
            and not state.out_of_sync
            and state.drift_since is None
            and not state.failures
            and reconciled is not None
            and reconciled.status
            and reconciled.reason == "Succeeded"
            and name in ctx.owned
            and ctx.ownership.owns(name)
            and name not in ctx.queue  # queued or being reconciled
            and name not in ctx.running
        ):
            return False
        try:
            project = ctx.project(app)
        except errors.GitwardError:
            return False
        return project == found.project and not reconciling.signature_key_ref(app, project)

    async def _diff(self, old: str, new: str) -> frozenset[str] | None:
        """The paths changed from ``old`` to ``new``; None when unknown."""
        runtime = self._ctx.runtime
        try:
            return await asyncio.to_thread(
                runtime.sources.changed_paths, runtime.repo(self._url), old, new
            )
        except errors.GitwardError as exc:
            _log.info("changed paths unknown", url=self._url, error=str(exc))
            return None

    async def finish(self) -> None:
        """Save the statuses of the Applications advanced; a store error is the
        store's (logged, told to ``/healthz``): the next save writes them."""
        advanced, self._advanced = self._advanced, []
        if not advanced:
            return
        ctx = self._ctx
        ctx.metrics.untouched(len(advanced))
        _log.debug("advanced without a render", url=self._url, applications=len(advanced))
        with contextlib.suppress(store_base.StoreUnavailable):  # recorded by save_all
            await ctx.save_all(advanced)
