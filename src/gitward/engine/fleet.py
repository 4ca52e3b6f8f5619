"""What ApplicationSets read, gathered for one generation: targets and git trees.

Called by the root trigger (and ``gitward appset generate``) after the root's
catalog is loaded: :func:`gather` fetches every repository a set's git
generator names (once per repository, shared with every other use of it),
resolves each ref, and returns ``generating.Inputs`` plus a fingerprint of
everything read. The caller regenerates only when the fingerprint or the root
revision changed, so a commit elsewhere rewrites nothing.

A repository that cannot be fetched or resolved is recorded in
``Inputs.unavailable`` with its error: only the sets that read it fail (and
keep their Applications), the others generate as usual.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping

from gitward import errors
from gitward.config import settings as config_settings
from gitward.engine import catalog, generating, runtimes
from gitward.render import base as render_base


def targets_of(
    declared: Mapping[str, config_settings.TargetSettings],
) -> tuple[generating.TargetInfo, ...]:
    return tuple(
        generating.TargetInfo(name, dict(target.labels))
        for name, target in sorted(declared.items())
    )


async def gather(
    runtime: runtimes.Runtime,
    loaded: catalog.Catalog,
    targets: tuple[generating.TargetInfo, ...],
    *,
    max_age: float = 0.0,
) -> tuple[generating.Inputs, tuple[object, ...]]:
    """Inputs for every set of ``loaded``, and their fingerprint; a repository
    fetched less than ``max_age`` seconds ago (by a poller) is not fetched again."""
    needed: set[tuple[str, str]] = set()
    for declared in loaded.appsets.values():
        needed |= generating.git_inputs(declared.appset)
    trees: dict[tuple[str, str], render_base.Tree] = {}
    unavailable: dict[tuple[str, str], str] = {}
    fetched: dict[str, str] = {}  # url -> error ('' when fetched)
    revisions: list[tuple[str, str, str]] = []
    for url, ref in sorted(needed):
        repo = runtime.repo(url)
        if url not in fetched:
            try:
                await runtime.sources.fetch(repo, max_age=max_age)
                fetched[url] = ""
            except errors.GitwardError as exc:
                fetched[url] = str(exc)
        try:
            revision = await runtime.sources.resolve(repo, ref)
            trees[(url, ref)] = runtime.sources.tree(repo, revision.sha)
            revisions.append((url, ref, revision.sha))
        except errors.GitwardError as exc:
            unavailable[(url, ref)] = fetched[url] or str(exc)
            revisions.append((url, ref, "unavailable"))
    fingerprint = (
        tuple(revisions),
        tuple((t.name, tuple(sorted(t.labels.items()))) for t in targets),
    )
    return generating.Inputs(targets, trees, unavailable), fingerprint


async def preview(runtime: runtimes.Runtime) -> catalog.Catalog:
    """The root's catalog with every set expanded, as the agent would see it now
    (``gitward appset generate``): fetches the root and what the sets read."""
    root = runtime.settings.root
    if root is None:
        raise errors.ConfigError("the configuration declares no root: nothing generates")
    repo = runtime.repo(root.repo_url)
    await runtime.sources.fetch(repo, strict=True)
    revision = await runtime.sources.resolve(repo, root.ref)
    tree = runtime.sources.tree(repo, revision.sha)
    loaded = await asyncio.to_thread(catalog.load, tree, root.path)
    inputs, _ = await gather(runtime, loaded, targets_of(runtime.settings.targets))
    return await asyncio.to_thread(catalog.expand, loaded, inputs)


async def expand_some(
    runtime: runtimes.Runtime,
    merged: catalog.Catalog,
    names: frozenset[str],
    previous: catalog.Catalog | None,
    *,
    max_age: float = 0.0,
) -> catalog.Catalog:
    """``merged`` with the sets ``names`` expanded (ApplicationSets declared as
    cluster objects; the root's own sets are expanded by the root trigger)."""
    subset = dataclasses.replace(
        merged, appsets={name: merged.appsets[name] for name in sorted(names)}
    )
    inputs, _ = await gather(runtime, subset, targets_of(runtime.settings.targets), max_age=max_age)
    expanded = await asyncio.to_thread(catalog.expand, subset, inputs, previous)
    return dataclasses.replace(expanded, appsets=merged.appsets)
