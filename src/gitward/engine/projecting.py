"""Which Project governs an Application, on every path that reads or writes for it.

The agent, the API and the UI hold the root's catalog and call
:func:`in_catalog`. The one-shot
commands (``gitward render|diff|sync|plan``) have no catalog: they call
:func:`declared` to read the Projects from the root named in ``--config``, or
:func:`governing`, which does both; so every path ends in the same decision
(issue 11: one-shot ``sync`` once skipped it and applied a ClusterRoleBinding
for an Application of a Project that allows none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gitward.config import applications
from gitward.engine import policies, runtimes

if TYPE_CHECKING:
    from gitward.engine import catalog


async def declared(runtime: runtimes.Runtime) -> Mapping[str, applications.Project] | None:
    """The Projects declared under the configured root, at its ref; None without a root.

    Read anew at each call (the agent keeps its own catalog and never calls
    this). A root that cannot be fetched or read raises: the command cannot
    tell what is allowed, so it does nothing.
    """
    root = runtime.settings.root
    if root is None:
        return None
    from gitward.engine import catalog  # a command without a root reads no catalog

    repo = runtime.repo(root.repo_url)
    await runtime.sources.fetch(repo, strict=True)
    resolved = await runtime.sources.resolve(repo, root.ref)
    tree = runtime.sources.tree(repo, resolved.sha)
    return dict(catalog.load(tree, root.path).projects)


def in_catalog(
    loaded: catalog.Catalog | None, app: applications.Application
) -> applications.Project | None:
    """The Project limiting ``app`` given the agent's catalog (None: not loaded,
    as without a root). For the agent, the API and the UI."""
    return policies.project_for(app, loaded.projects if loaded is not None else None)


async def governing(
    runtime: runtimes.Runtime, app: applications.Application
) -> applications.Project | None:
    """The Project limiting ``app`` (None: the undeclared ``default``, unrestricted).

    Raises :class:`gitward.errors.PolicyViolation` for a Project nobody
    declared, and, without a configured root, for any Project but ``default``.
    """
    return policies.project_for(app, await declared(runtime))
