"""ApplicationSet generation: generators and a template in, Applications out.

Pure: the caller hands in everything a generator reads (the targets and their
labels, and a Tree for every repository and ref a git generator names, see
:func:`git_inputs`), so generation is table-tested without a cluster or a
network. The catalog (``engine.catalog``) calls :func:`generate` for each set
declared in the root; any error raises, and the catalog then keeps the set's
previous Applications unchanged.

Each generator yields parameter sets (nested mappings). A template string
refers to them with ``{{target.name}}``-style expressions, evaluated by
``engine.templating`` (a sandboxed, expression-only template language).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitward import errors
from gitward.config import applications, appsets
from gitward.engine import templating
from gitward.render import base as render_base
from gitward.render import loading

Params = dict[str, Any]

# Labels and annotation gitward puts on every generated Application.
OWNER_LABEL = "gitward.dev/application-set"
MAX_APPLICATIONS = 10_000
_FILE_LIMITS = render_base.Limits(max_file_bytes=256 * 1024, max_documents=100)
_MAX_WALK = 50_000
_NOT_NAME = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True, slots=True)
class TargetInfo:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything generation reads: targets, and trees by (repoURL, ref)."""

    targets: Sequence[TargetInfo] = ()
    trees: Mapping[tuple[str, str], render_base.Tree] = field(default_factory=dict)
    # Why a (repoURL, ref) has no tree: the fetch error, naming the repository.
    unavailable: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Generated:
    """The Applications one set produces, by name, in generation order."""

    appset: appsets.ApplicationSet
    apps: Mapping[str, applications.Application]


def git_inputs(appset: appsets.ApplicationSet) -> set[tuple[str, str]]:
    """The (repoURL, ref) pairs whose trees :func:`generate` needs for ``appset``."""
    needed: set[tuple[str, str]] = set()
    pending = list(appset.spec.generators)
    while pending:
        generator = pending.pop()
        if generator.git_directories is not None:
            needed.add((generator.git_directories.repo_url, generator.git_directories.ref))
        elif generator.git_files is not None:
            needed.add((generator.git_files.repo_url, generator.git_files.ref))
        elif generator.matrix is not None:
            pending.extend(generator.matrix.generators)
        elif generator.merge is not None:
            pending.extend(generator.merge.generators)
    return needed


def generate(appset: appsets.ApplicationSet, inputs: Inputs, origin: str) -> Generated:
    """The Applications ``appset`` declares given ``inputs``; ``origin`` names the
    declaring file in errors. Raises :class:`gitward.errors.ConfigError`."""
    where = f"{origin}: ApplicationSet {appset.name!r}"
    sets: list[Params] = []
    for index, generator in enumerate(appset.spec.generators):
        sets.extend(_run(generator, inputs, f"{where} generators[{index}]"))
        if len(sets) > MAX_APPLICATIONS:
            raise errors.ConfigError(f"{where}: more than {MAX_APPLICATIONS} parameter sets")
    compiled = templating.compile_tree(appset.spec.template, where)
    apps: dict[str, applications.Application] = {}
    for params in sets:
        rendered = compiled.render(params)
        app = _application(appset, rendered, where)
        if app.name in apps:
            if apps[app.name] == app:
                continue  # two generators agreeing on one Application
            raise errors.ConfigError(
                f"{where}: two parameter sets generate Application {app.name!r} differently"
            )
        apps[app.name] = app
    return Generated(appset, apps)


def _application(
    appset: appsets.ApplicationSet, rendered: Mapping[str, Any], where: str
) -> applications.Application:
    metadata = dict(rendered.get("metadata") or {})
    labels = dict(metadata.get("labels") or {})
    labels[OWNER_LABEL] = appset.name
    metadata["labels"] = labels
    metadata.setdefault("project", appset.metadata.project)
    spec = dict(rendered.get("spec") or {})
    if appset.spec.sync_policy.cascade_delete:
        policy = dict(spec.get("syncPolicy") or {})
        policy["cascadeDelete"] = True
        spec["syncPolicy"] = policy
    document = {
        "apiVersion": applications.API_VERSION,
        "kind": "Application",
        "metadata": metadata,
        "spec": spec,
    }
    name = metadata.get("name", "?")
    return applications.parse(document, f"{where} → Application {name!r}")


def _run(generator: appsets.Generator, inputs: Inputs, where: str) -> list[Params]:
    runner = _RUNNERS[generator.kind]
    return runner(generator, inputs, f"{where}.{generator.kind}")


def _from_list(generator: appsets.Generator, inputs: Inputs, where: str) -> list[Params]:
    assert generator.list is not None
    return [dict(element) for element in generator.list.elements]


def _from_targets(generator: appsets.Generator, inputs: Inputs, where: str) -> list[Params]:
    assert generator.targets is not None
    selector = generator.targets.selector
    return [
        {"target": {"name": target.name, "labels": dict(target.labels)}}
        for target in sorted(inputs.targets, key=lambda t: t.name)
        if selector.matches(target.labels)
    ]


def _from_directories(generator: appsets.Generator, inputs: Inputs, where: str) -> list[Params]:
    spec = generator.git_directories
    assert spec is not None
    tree = _tree(inputs, spec.repo_url, spec.ref, where)
    chosen = _select(tree, spec.directories, render_base.EntryKind.DIRECTORY, where)
    return [{"path": _path_params(path)} for path in chosen]


def _from_files(generator: appsets.Generator, inputs: Inputs, where: str) -> list[Params]:
    spec = generator.git_files
    assert spec is not None
    tree = _tree(inputs, spec.repo_url, spec.ref, where)
    found: list[Params] = []
    for path in _select(tree, spec.files, render_base.EntryKind.FILE, where):
        try:
            data = tree.read(path, max_bytes=_FILE_LIMITS.max_file_bytes)
            documents = loading.load_documents(data, path, _FILE_LIMITS)
        except errors.GitwardError as exc:
            raise errors.ConfigError(f"{where}: {exc}") from None
        directory = path.rpartition("/")[0]
        for index, document in enumerate(documents):
            if document is None:
                continue
            if not isinstance(document, Mapping):
                raise errors.ConfigError(
                    f"{where}: {path} document {index} is not a mapping of parameters"
                )
            params: Params = dict(document)
            location = _path_params(directory)
            location["filename"] = path.rpartition("/")[2]
            params["path"] = location
            found.append(params)
    return found


def _from_matrix(generator: appsets.Generator, inputs: Inputs, where: str) -> list[Params]:
    assert generator.matrix is not None
    first, second = (
        _run(child, inputs, f"{where}[{i}]") for i, child in enumerate(generator.matrix.generators)
    )
    combined: list[Params] = []
    for left in first:
        for right in second:
            combined.append(_union(left, right, where))
            if len(combined) > MAX_APPLICATIONS:
                raise errors.ConfigError(f"{where}: more than {MAX_APPLICATIONS} combinations")
    return combined


def _from_merge(generator: appsets.Generator, inputs: Inputs, where: str) -> list[Params]:
    spec = generator.merge
    assert spec is not None
    results = [_run(child, inputs, f"{where}[{i}]") for i, child in enumerate(spec.generators)]
    base, others = results[0], results[1:]
    merged: list[Params] = []
    for params in base:
        key = _merge_key(params, spec.merge_keys, where)
        updated = params
        for other in others:
            for candidate in other:
                if _merge_key(candidate, spec.merge_keys, where) == key:
                    updated = _overlay(updated, candidate)
        merged.append(updated)
    return merged


_RUNNERS: dict[str, Callable[[appsets.Generator, Inputs, str], list[Params]]] = {
    "list": _from_list,
    "targets": _from_targets,
    "git_directories": _from_directories,
    "git_files": _from_files,
    "matrix": _from_matrix,
    "merge": _from_merge,
}


def _tree(inputs: Inputs, repo_url: str, ref: str, where: str) -> render_base.Tree:
    tree = inputs.trees.get((repo_url, ref))
    if tree is None:
        why = inputs.unavailable.get((repo_url, ref), "not fetched")
        raise errors.ConfigError(
            f"{where}: repository {repo_url} at {ref!r} is not available: {why}"
        )
    return tree


def _select(
    tree: render_base.Tree, globs: Sequence[appsets.GitPath], kind: str, where: str
) -> list[str]:
    """Paths of ``kind`` matched by an including glob and by no excluding one."""
    chosen: set[str] = set()
    for glob in (g for g in globs if not g.exclude):
        chosen.update(_expand(tree, glob.path, kind, where))
    for glob in (g for g in globs if g.exclude):
        chosen -= {path for path in chosen if _matches(path, glob.path)}
    return sorted(chosen)


def _expand(tree: render_base.Tree, glob: str, kind: str, where: str) -> Iterable[str]:
    """Walk only as deep as ``glob`` has segments; ``*`` never crosses a '/'."""
    segments = glob.split("/")
    frontier = [""]
    visited = 0
    for depth, segment in enumerate(segments):
        last = depth == len(segments) - 1
        following: list[str] = []
        for directory in frontier:
            try:
                entries = tree.list(directory)
            except errors.SourcePathError:
                continue
            for entry in entries:
                visited += 1
                if visited > _MAX_WALK:
                    raise errors.ConfigError(f"{where}: {glob!r} walks more than {_MAX_WALK} paths")
                if not fnmatch.fnmatchcase(entry.name, segment) or entry.name.startswith("."):
                    continue
                wanted = kind if last else render_base.EntryKind.DIRECTORY
                if entry.kind == wanted:
                    following.append(entry.path)
        frontier = following
    return frontier


def _matches(path: str, glob: str) -> bool:
    parts, segments = path.split("/"), glob.split("/")
    return len(parts) == len(segments) and all(
        fnmatch.fnmatchcase(part, segment) for part, segment in zip(parts, segments, strict=True)
    )


def _path_params(path: str) -> Params:
    basename = path.rpartition("/")[2]
    return {
        "path": path,
        "basename": basename,
        "basenameNormalized": _NOT_NAME.sub("-", basename.lower()).strip("-"),
        "segments": path.split("/") if path else [],
    }


def _union(left: Params, right: Params, where: str) -> Params:
    combined = dict(left)
    for key, value in right.items():
        if key in combined and combined[key] != value:
            if isinstance(combined[key], Mapping) and isinstance(value, Mapping):
                combined[key] = _union(dict(combined[key]), dict(value), where)
                continue
            raise errors.ConfigError(
                f"{where}: both generators set parameter {key!r} to different values"
            )
        combined[key] = value
    return combined


def _overlay(base: Params, update: Params) -> Params:
    result = dict(base)
    for key, value in update.items():
        if isinstance(result.get(key), Mapping) and isinstance(value, Mapping):
            result[key] = _overlay(dict(result[key]), dict(value))
        else:
            result[key] = value
    return result


def _merge_key(params: Params, keys: Sequence[str], where: str) -> tuple[Any, ...]:
    values = []
    for key in keys:
        current: Any = params
        for part in key.split("."):
            if not isinstance(current, Mapping) or part not in current:
                raise errors.ConfigError(f"{where}: a parameter set has no merge key {key!r}")
            current = current[part]
        values.append(repr(current))
    return tuple(values)
