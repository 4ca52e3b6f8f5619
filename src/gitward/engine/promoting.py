"""``gitward promote APP --from staging --to production``: copy versions between environments.

An *environment* of ``APP`` is an Application: the one labelled
``gitward.dev/promotion: APP`` and ``gitward.dev/environment: ENV``, else the
one named ``APP-ENV`` (``web-staging``, ``web-production``). Both must read
the same repository, so the promotion is one commit.

What is compared (``images.locating``): every version *pin* in the source
environment's scope, matched by subject in the target's: Kustomize ``images:``
entries, Helm values (marker comments, the ``key`` such as ``image.tag``),
container images of plain manifests, and ``Chart.yaml`` versions and
dependency versions. An environment's scope is its Application's path plus
its Helm ``valueFiles``; when both environments share the path (one chart,
per-environment values), only the value files are compared, since the shared
files are the same on both sides. Where the versions differ, the target's
pins are rewritten to the source's (``images.rewriting``: only those values
change); subjects pinned only in the source are reported, not invented.

The commit goes to the target's branch, or to ``as_branch`` (a branch for a
pull request) through ``source.committing.change_and_push``. Called by the
CLI (``gitward promote``).
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitward import errors
from gitward.config import applications
from gitward.engine import catalog, runtimes
from gitward.images import locating, repinning, rewriting
from gitward.source import committing

PROMOTION_LABEL = "gitward.dev/promotion"
ENVIRONMENT_LABEL = "gitward.dev/environment"
DEFAULT_KEY = "image.tag"
DEFAULT_AUTHOR = committing.Author(name="gitward", email="gitward@localhost")


@dataclass(frozen=True, slots=True)
class Promoted:
    """One pin of the target environment moved to the source's version."""

    subject: str
    file: str
    kind: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Promotion:
    """What a promotion changed (or, with nothing pushed, would change)."""

    source_app: str
    target_app: str
    changes: tuple[Promoted, ...]
    # Subjects the source pins that the target does not (or pins ambiguously).
    notes: tuple[str, ...] = ()
    pushed: committing.Pushed | None = None
    message: str = ""
    skipped_files: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        lines = [f"promote {self.source_app} → {self.target_app}:"]
        if not self.changes:
            lines.append("  nothing differs: the target already runs the source's versions")
        for change in self.changes:
            lines.append(f"  {change.subject}: {change.old} → {change.new} ({change.file})")
        lines.extend(f"  note: {note}" for note in self.notes)
        if self.pushed is not None:
            lines.append(f"  pushed {self.pushed.sha[:12]} to branch {self.pushed.branch}")
        return "\n".join(lines)


def environment(
    apps: Mapping[str, applications.Application], app: str, env: str
) -> applications.Application:
    """The Application that is environment ``env`` of ``app``; ConfigError naming both otherwise."""
    labelled = [
        a
        for a in apps.values()
        if a.metadata.labels.get(PROMOTION_LABEL) == app
        and a.metadata.labels.get(ENVIRONMENT_LABEL) == env
    ]
    if len(labelled) > 1:
        names = ", ".join(sorted(a.name for a in labelled))
        raise errors.ConfigError(f"environment {env} of {app} is declared by several: {names}")
    if labelled:
        return labelled[0]
    found = apps.get(f"{app}-{env}")
    if found is None:
        raise errors.ConfigError(
            f"no Application is environment {env!r} of {app!r}: expected one named "
            f"{app}-{env} or labelled {PROMOTION_LABEL}={app}, {ENVIRONMENT_LABEL}={env}"
        )
    return found


def _applications(
    catalog_or_apps: catalog.Catalog | Mapping[str, applications.Application],
) -> dict[str, applications.Application]:
    if isinstance(catalog_or_apps, catalog.Catalog):
        return {name: declared.app for name, declared in catalog_or_apps.apps.items()}
    return dict(catalog_or_apps)


def _value_files(app: applications.Application) -> list[str]:
    helm = app.spec.render.helm
    if helm is None:
        return []
    files: list[str] = []
    for name in helm.value_files:
        joined = posixpath.normpath(posixpath.join(app.spec.source.path or ".", name))
        if joined.startswith("../") or joined == ".." or posixpath.isabs(joined):
            raise errors.SourcePathError(
                f"Application {app.name}: value file {name!r} leaves the repository"
            )
        files.append(joined)
    return files


def _scope(
    app: applications.Application, other: applications.Application, key: str, root: Path
) -> locating.Scan:
    shared = app.spec.source.path == other.spec.source.path
    paths = [] if shared else [app.spec.source.path]
    return locating.scan(root, paths, key=key, files=_value_files(app), charts=not shared)


def plan_edits(
    root: Path,
    source: applications.Application,
    target: applications.Application,
    *,
    key: str = DEFAULT_KEY,
) -> tuple[list[Promoted], list[str], dict[str, list[rewriting.Change]], tuple[str, ...]]:
    """What to change in the tree at ``root``: (promoted, notes, changes per file, skipped)."""
    if source.spec.source.path == target.spec.source.path and _value_files(source) == _value_files(
        target
    ):
        raise errors.ConfigError(
            f"{source.name} and {target.name} render the same path and value files: "
            "there is nothing to copy between them"
        )
    from_scan = _scope(source, target, key, root)
    to_scan = _scope(target, source, key, root)
    wanted: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for pin in from_scan.pins:
        wanted[pin.subject].add((pin.tag, pin.digest))
    targets: dict[str, list[locating.Pin]] = defaultdict(list)
    for pin in to_scan.pins:
        targets[pin.subject].append(pin)
    promoted: list[Promoted] = []
    notes: list[str] = []
    per_file: dict[str, list[rewriting.Change]] = defaultdict(list)
    for subject in sorted(wanted):
        versions = wanted[subject]
        if subject not in targets:
            notes.append(f"{subject} is pinned in {source.name} but not in {target.name}")
            continue
        if len(versions) > 1:
            shown = ", ".join(sorted(_version(t, d) for t, d in versions))
            notes.append(f"{subject}: {source.name} pins several versions ({shown}); skipped")
            continue
        tag, digest = next(iter(versions))
        for pin in targets[subject]:
            if pin.holds is locating.Holds.TAG and not tag:
                notes.append(f"{subject}: {pin.describe()} holds a tag; {source.name} has none")
                continue
            changes = repinning.changes_for(pin, tag, digest)
            if not changes:
                continue
            per_file[pin.file].extend(changes)
            promoted.append(
                Promoted(subject, pin.file, pin.kind.value, pin.version, _version(tag, digest))
            )
    skipped = (*from_scan.skipped, *to_scan.skipped)
    return promoted, notes, per_file, skipped


def _version(tag: str, digest: str) -> str:
    return f"{tag}@{digest}" if tag and digest else tag or digest


def _message(source: str, target: str, from_env: str, to_env: str, done: list[Promoted]) -> str:
    lines = [f"Promote {source} to {target} ({from_env} → {to_env})", ""]
    lines.extend(f"- {p.subject}: {p.old} → {p.new} in {p.file}" for p in done)
    return "\n".join(lines) + "\n"


def _branch(app: applications.Application, branch: str | None) -> str:
    if branch:
        return branch
    ref = app.spec.source.ref
    if ref in ("", "HEAD") or ref.startswith("refs/tags/"):
        raise errors.ConfigError(
            f"Application {app.name} follows {ref or 'HEAD'!r}, not a branch: name the branch "
            "to commit the promotion to"
        )
    return ref.removeprefix("refs/heads/")


async def promote(
    runtime: runtimes.Runtime,
    catalog_or_apps: catalog.Catalog | Mapping[str, applications.Application],
    app: str,
    from_env: str,
    to_env: str,
    *,
    as_branch: str | None = None,
    branch: str | None = None,
    key: str = DEFAULT_KEY,
    author: committing.Author = DEFAULT_AUTHOR,
    dry_run: bool = False,
) -> Promotion:
    """Copy the versions of ``app``'s ``from_env`` to its ``to_env`` in one commit.

    The commit lands on the target environment's branch (``branch`` or its
    Application's ref), or on ``as_branch`` for a pull request (created from
    the base branch when it does not exist). ``dry_run`` computes
    the changes on a working copy and pushes nothing.
    """
    apps = _applications(catalog_or_apps)
    source = environment(apps, app, from_env)
    target = environment(apps, app, to_env)
    if source.spec.source.repo_url != target.spec.source.repo_url:
        raise errors.ConfigError(
            f"{source.name} and {target.name} read different repositories; a promotion is one "
            "commit in one repository"
        )
    base_branch = _branch(target, branch)
    repo = runtime.repo(target.spec.source.repo_url)
    outcome: list[Promotion] = []

    def change(workdir: Path) -> str | None:
        promoted, notes, per_file, skipped = plan_edits(workdir, source, target, key=key)
        message = _message(source.name, target.name, from_env, to_env, promoted)
        outcome[:] = [
            Promotion(
                source.name,
                target.name,
                tuple(promoted),
                tuple(notes),
                message=message,
                skipped_files=skipped,
            )
        ]
        if not per_file or dry_run:
            return None
        edited = {
            file: rewriting.apply(
                (workdir / file).read_bytes().decode("utf-8"),
                list(dict.fromkeys(changes)),
                where=file,
            )
            for file, changes in per_file.items()
        }
        for file, text in edited.items():
            (workdir / file).write_bytes(text.encode("utf-8"))
        return message

    pushed = await committing.change_and_push(
        repo,
        as_branch or base_branch,
        change,
        author=author,
        cache_dir=runtime.sources.cache_dir,
        # A pull-request branch is created from the base branch when missing.
        base=base_branch if as_branch else None,
    )
    if not outcome:
        raise errors.GitwardError(f"promotion of {app} computed nothing")  # change() never ran
    result = outcome[0]
    return Promotion(
        result.source_app,
        result.target_app,
        result.changes,
        result.notes,
        pushed=pushed,
        message=result.message,
        skipped_files=result.skipped_files,
    )
