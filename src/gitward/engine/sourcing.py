"""Every source of an Application resolved to an immutable revision, ready to render.

An Application has one source or several (``spec.sources``): Git
repositories (a commit), charts in Helm repositories and OCI registries (an
archive digest). :func:`resolve` turns each into a revision and a Tree, checks
each repository against the Project, verifies commit signatures where asked,
and gives the render units: every unnamed source with its path and render
options, seeing the named sources' files under ``$<name>/``.

The revision identity (``Revision.sha``) names every source's exact
revision, so history, rollback and the agent's "is this new?" compare one
string: a commit id for Git, ``<chart>-<version>@sha256:<digest>`` for a
chart, each followed by ``+sha256:<digest>`` per dependency fetched from a
chart repository, joined with ``,`` when
there are several sources, in the order declared. Given back as
``revision=``, it resolves to exactly the same inputs. Called by
``engine.reconciling``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from gitward import errors
from gitward.config import applications, rendering
from gitward.engine import metrics, policies, runtimes
from gitward.model import operations
from gitward.render import base as render_base
from gitward.source import mounts

if TYPE_CHECKING:
    from gitward.source import charts

SEPARATOR = ","


@dataclass(frozen=True, slots=True)
class Unit:
    """One source to render: its tree (with named sources mounted), path and options."""

    tree: render_base.Tree
    path: str
    render: rendering.Render


@dataclass(frozen=True, slots=True)
class Resolved:
    revision: operations.Revision
    units: tuple[Unit, ...]
    # Why a source could not be refreshed and its last fetched state was used.
    stale: str = ""


@dataclass(frozen=True, slots=True)
class _One:
    identity: str
    label: str
    tree: render_base.Tree
    revision: operations.Revision | None  # a Git source's full revision
    stale: str


def chart_identity(revision: charts.ChartRevision) -> str:
    return f"{revision.chart}-{revision.version}@{revision.pin}"


def _pins(app: applications.Application, revision: str) -> list[str]:
    count = len(app.spec.all_sources)
    if not revision:
        return [""] * count
    parts = revision.split(SEPARATOR)
    if len(parts) != count:
        raise errors.RevisionNotFound(
            f"Application {app.name}: revision {revision!r} names {len(parts)} source(s); "
            f"the Application has {count}"
        )
    return parts


async def resolve(
    runtime: runtimes.Runtime,
    app: applications.Application,
    *,
    revision: str = "",
    max_age: float = 0.0,
    project: applications.Project | None = None,
) -> Resolved:
    """Resolve every source (``revision``: a former identity to return to)."""
    sources = app.spec.all_sources
    pins = _pins(app, revision)
    with runtime.metrics.stage(metrics.Stage.SOURCE):
        resolved = await asyncio.gather(
            *(
                _resolve_one(runtime, app, source, pin, max_age, project)
                for source, pin in zip(sources, pins, strict=True)
            )
        )
    named = {s.name: r.tree for s, r in zip(sources, resolved, strict=True) if s.name}
    units = tuple(
        Unit(
            tree=mounts.MountedTree(r.tree, named) if named else r.tree,
            path=s.path,
            render=s.render or app.spec.render,
        )
        for s, r in zip(sources, resolved, strict=True)
        if not s.name
    )
    stale = "; ".join(r.stale for r in resolved if r.stale)
    if len(resolved) == 1 and resolved[0].revision is not None:
        return Resolved(revision=resolved[0].revision, units=units, stale=stale)
    git = [r.revision for r in resolved if r.revision is not None]
    newest = max(
        git, key=lambda r: r.committed_at.timestamp() if r.committed_at else 0.0, default=None
    )
    combined = operations.Revision(
        sha=SEPARATOR.join(r.identity for r in resolved),
        ref=", ".join(r.label for r in resolved),
        author=newest.author if newest else "",
        message="\n".join(
            f"{s.name or 'source'} {r.label}"
            + (
                f": {r.revision.message.splitlines()[0]}"
                if r.revision and r.revision.message
                else ""
            )
            for s, r in zip(sources, resolved, strict=True)
        ),
        committed_at=newest.committed_at if newest else None,
    )
    return Resolved(revision=combined, units=units, stale=stale)


async def _resolve_one(
    runtime: runtimes.Runtime,
    app: applications.Application,
    source: applications.Source,
    pin: str,
    max_age: float,
    project: applications.Project | None,
) -> _One:
    def check(url: str) -> None:
        policies.check_repository(app, project, url)

    if source.is_chart:
        from gitward.source import charts  # a Git source needs none of its registry clients

        spec = charts.ChartSpec(
            repo_url=source.repo_url, chart=source.chart, version=source.version
        )
        chart_pin = ""
        if pin:
            _, found, digests = pin.partition("@sha256:")
            if not found:
                raise errors.RevisionNotFound(
                    f"Application {app.name}: {pin!r} is not a revision of {spec.describe()}"
                )
            chart_pin = "sha256:" + digests
        chart = await runtime.charts.resolve(spec, pin=chart_pin, max_age=max_age, check=check)
        return _One(
            identity=chart_identity(chart),
            label=chart.describe(),
            tree=await asyncio.to_thread(runtime.charts.tree, chart),
            revision=None,
            stale=chart.stale,
        )
    check(source.repo_url)
    repo = runtime.repo(source.repo_url)
    commit, _, dependency_pins = pin.partition("+")
    fetched = await runtime.sources.fetch(repo, max_age=max_age)
    git_revision = await runtime.sources.resolve(repo, commit or source.ref)
    key_ref = _signature_key_ref(source, project)
    if key_ref:
        # Raises SignatureError naming the commit: nothing of it is rendered.
        await runtime.sources.verify(
            repo, git_revision.sha, runtime.signature_policy(key_ref, app.name)
        )
    tree: render_base.Tree = runtime.sources.tree(repo, git_revision.sha)
    identity, label = git_revision.sha, f"{source.ref}@{git_revision.sha[:12]}"
    render = source.render or app.spec.render
    chart_file = f"{source.path}/Chart.yaml" if source.path else "Chart.yaml"
    if render.kind in (None, "helm") and tree.kind(chart_file) is not None:
        # A chart in Git whose dependencies live in chart repositories: fetched
        # here, as for charts from repositories, and laid under its charts/.
        where = f"chart {source.path or '/'} of {repo.display_url}"
        dependencies = await runtime.charts.dependencies(
            tree,
            source.path,
            where,
            pins=tuple(dependency_pins.split("+")) if dependency_pins else (),
            max_age=max_age,
            check=check,
        )
        if dependencies:
            files = runtime.charts.dependency_files(dependencies, source.path, where)
            tree = mounts.OverlayTree(tree, files)
            identity += "".join(f"+{d.digest}" for d in dependencies)
            label += " with " + ", ".join(f"{d.chart} {d.version}" for d in dependencies)
    return _One(
        identity=identity,
        label=label,
        tree=tree,
        revision=replace(git_revision, sha=identity),
        stale=fetched.error if fetched.stale else "",
    )


def _signature_key_ref(source: applications.Source, project: applications.Project | None) -> str:
    if project is not None and project.spec.signature_key_ref:
        return project.spec.signature_key_ref
    return source.verify.key_ref if source.verify else ""


# --- what the agent's triggers need ---------------------------------------------------------


def follows_one_commit(app: applications.Application) -> bool:
    """Whether the Application's revision is one Git commit (one Git source), so a
    poll or webhook can compare commits without resolving anything else."""
    return len(app.spec.all_sources) == 1 and not app.spec.source.is_chart


def git_urls(app: applications.Application) -> list[str]:
    """The Git repositories the Application reads (to poll, and to match webhooks)."""
    return list(dict.fromkeys(s.repo_url for s in app.spec.all_sources if not s.is_chart))


def chart_urls(app: applications.Application) -> list[str]:
    """The chart repositories and registries the Application reads (to poll)."""
    return list(dict.fromkeys(s.repo_url for s in app.spec.all_sources if s.is_chart))


def commit_of(identity: str) -> str:
    """The commit of a one-Git-source identity (without fetched chart dependencies)."""
    return identity.partition("+")[0]


async def refresh_chart_repository(runtime: runtimes.Runtime, url: str) -> str:
    """Refresh the index of the Helm repository ``url`` now (a poll); '' or why it is stale.

    OCI registries have no index: their tags are listed on every resolve."""
    if url.startswith("oci://"):
        return ""
    _, stale = await runtime.charts.repositories.index(url, runtime.chart_access(url))
    return stale


async def current_identity(
    runtime: runtimes.Runtime,
    app: applications.Application,
    *,
    max_age: float,
    project: applications.Project | None = None,
) -> str:
    """The revision identity the Application's sources name now (what a sync would use)."""
    return (await resolve(runtime, app, max_age=max_age, project=project)).revision.sha
