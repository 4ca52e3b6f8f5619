"""Project policy: what an Application may use and touch.

A Project lists the repositories its Applications may read, the (target,
namespace) pairs they may write to, and the cluster-scoped kinds they may
manage. The engine checks the Application before fetching and every prepared
manifest before planning: one manifest outside the limits fails the plan
with an error naming it, so nothing of that sync is applied.

The ``default`` Project, when not declared in Git, allows everything (as in
Argo CD); declare it to restrict it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence

from gitward import errors
from gitward.config import applications
from gitward.model import resources

DEFAULT = "default"


def project_for(
    app: applications.Application, projects: Mapping[str, applications.Project] | None
) -> applications.Project | None:
    """The Application's Project; None means unrestricted (undeclared default).

    The one decision every path takes (agent, API, ``gitward sync|diff|plan``).
    ``projects``: those declared under the root; None when no root is
    configured, where only ``default`` can be used. Raises PolicyViolation when
    the Application names a Project nobody declared.
    """
    name = app.metadata.project
    if projects is not None and name in projects:
        return projects[name]
    if name == DEFAULT:
        return None
    if projects is None:
        raise errors.PolicyViolation(
            f"Application {app.name} belongs to project {name!r}, but no root is configured:"
            " Projects are declared under the root (`root` in gitward.yaml, given with"
            " --config), so without one only the default project can be used"
        )
    declared = ", ".join(sorted(projects)) or "none"
    raise errors.PolicyViolation(
        f"Application {app.name} belongs to project {name!r}, which is not declared"
        f" under the root (declared: {declared})"
    )


def _any(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def check_application(app: applications.Application, project: applications.Project | None) -> None:
    """The Application's own source and destination are allowed by its Project."""
    if project is None:
        return
    for source in app.spec.all_sources:
        check_repository(app, project, source.repo_url)
    dest = app.spec.destination
    if not _destination_allowed(project, dest.target, dest.namespace):
        raise errors.PolicyViolation(
            f"Application {app.name}: destination {dest.target}/{dest.namespace} is not "
            f"allowed by project {project.metadata.name}"
        )


def check_repository(
    app: applications.Application, project: applications.Project | None, url: str
) -> None:
    """``url`` (a source's, or a chart dependency's repository) is allowed by the Project."""
    if project is None:
        return
    spec = project.spec
    if not _any(url, spec.source_repos):
        raise errors.PolicyViolation(
            f"Application {app.name}: repository {url} is not allowed by project "
            f"{project.metadata.name} (sourceRepos: {', '.join(spec.source_repos)})"
        )


def _destination_allowed(project: applications.Project, target: str, namespace: str) -> bool:
    return any(
        fnmatch.fnmatchcase(target, d.get("target", "*"))
        and fnmatch.fnmatchcase(namespace, d.get("namespace", "*"))
        for d in project.spec.destinations
    )


def check_manifests(
    app: applications.Application,
    project: applications.Project | None,
    manifests: Sequence[resources.Manifest],
) -> None:
    """Every prepared manifest stays within the Project; the first one that does
    not fails the whole plan, naming it and its source file."""
    if project is None:
        return
    target = app.spec.destination.target
    whitelist = project.spec.cluster_resource_whitelist
    for manifest in manifests:
        key = manifest.key
        where = f" (from {manifest.source})" if manifest.source else ""
        if key.namespace:
            if not _destination_allowed(project, target, key.namespace):
                raise errors.PolicyViolation(
                    f"{key}{where}: namespace {key.namespace} on target {target} is not "
                    f"allowed by project {project.metadata.name}"
                )
        elif not any(
            fnmatch.fnmatchcase(key.group, w.get("group", "*"))
            and fnmatch.fnmatchcase(key.kind, w.get("kind", "*"))
            for w in whitelist
        ):
            raise errors.PolicyViolation(
                f"{key}{where}: cluster-scoped {key.group_kind} is not allowed by project "
                f"{project.metadata.name} (clusterResourceWhitelist)"
            )
