"""The directory renderer: every YAML/JSON manifest under the Application's path.

Reads ``*.yaml``, ``*.yml`` and ``*.json`` files (recursively unless
``recurse: false``; filtered by ``include``/``exclude`` globs matched against
the path relative to the Application's path or the file name), splits
multi-document files, flattens ``kind: List`` documents and fails on what is not
a Kubernetes object, naming the file, the document and its line. Files other tools own
(``kustomization.yaml``, ``Chart.yaml``, ``values*.yaml``) and hidden entries
(``.github/``) are not manifests. Registered as ``directory`` in
``render.registry``; ``render.rendering`` calls it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitward import errors
from gitward.model import resources
from gitward.render import base, loading, paths, sops, validating

_EXTENSIONS = (".yaml", ".yml", ".json")
_NOT_MANIFESTS = re.compile(
    r"^(kustomization\.ya?ml|Kustomization|Chart\.ya?ml|values.*\.(ya?ml|json))$"
)
_BRACES = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class Options:
    recurse: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def parse(cls, options: Mapping[str, Any], where: str) -> Options:
        unknown = set(options) - {"recurse", "include", "exclude"}
        if unknown:
            raise errors.RenderError(
                f"{where}: unknown directory option(s) {', '.join(sorted(unknown))}"
            )
        recurse = options.get("recurse", True)
        if not isinstance(recurse, bool):
            raise errors.RenderError(f"{where}: directory option recurse must be true or false")
        return cls(
            recurse=recurse,
            include=_globs(options.get("include"), "include", where),
            exclude=_globs(options.get("exclude"), "exclude", where),
        )


def _globs(value: Any, name: str, where: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.RenderError(f"{where}: directory option {name} must be a list of globs")
    expanded: list[str] = []
    for pattern in value:
        expanded.extend(_expand_braces(pattern))
    return tuple(expanded)


def _expand_braces(pattern: str) -> list[str]:
    # Argo CD's include/exclude accept `{a,b}` alternatives; fnmatch does not.
    match = _BRACES.search(pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [
        result
        for choice in match.group(1).split(",")
        for result in _expand_braces(head + choice + tail)
    ]


def _matches(patterns: tuple[str, ...], relative: str) -> bool:
    name = relative.rpartition("/")[2]
    return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def is_manifest_name(name: str) -> bool:
    """Whether a file called ``name`` may hold manifests."""
    return name.endswith(_EXTENSIONS) and not _NOT_MANIFESTS.match(name)


def symlinks_under(tree: base.Tree, root: str) -> list[str]:
    """Every symlink below ``root`` (hidden entries included, links not followed).

    A directory's digest covers a link's target *text*, not the content it
    points to; renderers list links as inputs of their own so that the cache
    sees a change to their targets.
    """
    found: list[str] = []
    pending = [root]
    while pending:
        for entry in tree.list(pending.pop()):
            if entry.kind == base.EntryKind.SYMLINK:
                found.append(entry.path)
            elif entry.kind == base.EntryKind.DIRECTORY:
                pending.append(entry.path)
    return sorted(found)


@dataclass(frozen=True, slots=True)
class _Found:
    files: tuple[str, ...]  # manifest files, in render order
    links: tuple[str, ...]  # symlinks met on the way (their targets are inputs too)


def is_directory(tree: base.Tree, path: str) -> bool:
    """Whether ``path`` is a directory, through symlinks (escaping ones raise)."""
    try:
        tree.list(path)
    except errors.SourcePathError:
        return False
    return True


def walk(
    tree: base.Tree,
    root: str,
    options: Options,
    wanted: Callable[[str], bool] | None = None,
) -> _Found:
    """Files under ``root`` whose name ``wanted`` accepts (manifest files by
    default), honouring ``recurse``, ``include`` and ``exclude``; hidden
    entries skipped, symlinks followed inside the repository."""
    accept = wanted or is_manifest_name
    files: list[str] = []
    links: list[str] = []
    # Digests of the symlinked directories being walked: a link back to an
    # ancestor would otherwise recurse forever.
    visiting: list[str] = []

    def visit(directory: str) -> None:
        for entry in tree.list(directory):
            if entry.name.startswith("."):
                continue
            relative = entry.path[len(root) + 1 :] if root else entry.path
            kind = entry.kind
            is_dir = kind == base.EntryKind.DIRECTORY
            if kind == base.EntryKind.SYMLINK:
                links.append(entry.path)
                is_dir = is_directory(tree, entry.path)  # escaping links raise here
                if is_dir and options.recurse:
                    digest = tree.digest(entry.path)
                    if digest in visiting:
                        raise errors.UnsafeInputError(
                            f"symlink {entry.path!r} loops back to a directory containing it"
                        )
                    visiting.append(digest)
                    visit(entry.path)
                    visiting.pop()
                    continue
            if is_dir:
                if options.recurse:
                    visit(entry.path)
                continue
            if not accept(entry.name):
                continue
            if options.include and not _matches(options.include, relative):
                continue
            if options.exclude and _matches(options.exclude, relative):
                continue
            files.append(entry.path)

    visiting.append(tree.digest(root))
    visit(root)
    return _Found(files=tuple(files), links=tuple(links))


def manifests_from(
    documents: Sequence[loading.Document], source: str, warnings: list[str]
) -> list[resources.Manifest]:
    """Kubernetes objects among ``documents`` of the file ``source``.

    Empty documents vanish; ``List`` documents are flattened. Anything else
    that is not a valid Kubernetes object (no ``apiVersion``/``kind``, no
    ``metadata.name``, an invalid name or namespace) is a
    :class:`gitward.errors.RenderError` naming the file, the document index
    and its line (see ``render.validating``): skipping it would make its live
    object look removed from Git, and prune would delete it. Shared with the
    Kustomize and Helm renderers; ``warnings`` collects notes that do not
    stop the render.
    """
    found: list[resources.Manifest] = []
    for document in documents:
        body = document.body
        where = f"{source}#{document.index}"
        if body is None:
            continue
        located = f"{where} (line {document.line})"
        if isinstance(body, dict):
            kind = body.get("kind")
            items = body.get("items")
            if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
                if not isinstance(body.get("apiVersion"), str) or not body["apiVersion"]:
                    validating.check_object(body, located)
                for position, item in enumerate(items):
                    validating.check_object(item, f"{located} item {position} of the {kind}")
                    found.append(resources.Manifest.from_body(item, source=where))
                continue
        validating.check_object(body, located)
        found.append(resources.Manifest.from_body(body, source=where))
    return found


def _app_directory(request: base.RenderRequest) -> str:
    root = paths.normalize(request.path, what="application path")
    if request.tree.kind(root) is None and root:
        raise errors.RenderError(f"application path {request.path!r} does not exist")
    if not is_directory(request.tree, root):
        raise errors.RenderError(f"application path {request.path!r} is not a directory")
    return root


class DirectoryRenderer:
    """Plain manifests in a directory tree."""

    name = "directory"
    version = "1"

    def detect(self, tree: base.Tree, path: str) -> bool:
        return True  # the fallback: whatever is not Helm or Kustomize

    def confined(self, request: base.RenderRequest) -> bool:
        return True  # reads the files under its path, nothing else

    def inputs(self, request: base.RenderRequest) -> Sequence[str]:
        root = _app_directory(request)
        options = Options.parse(request.options, f"application {request.app}")
        return [root, *walk(request.tree, root, options).links]

    def render(self, request: base.RenderRequest) -> resources.Rendered:
        root = _app_directory(request)
        options = Options.parse(request.options, f"application {request.app}")
        limits = request.limits
        warnings: list[str] = []
        found: list[resources.Manifest] = []
        total = 0
        for path in walk(request.tree, root, options).files:
            data = request.tree.read(path, max_bytes=limits.max_file_bytes)
            total += len(data)
            if total > limits.max_total_bytes:
                raise errors.UnsafeInputError(
                    f"application path {request.path!r}: manifests exceed the"
                    f" {limits.max_total_bytes}-byte total limit (at {path!r})"
                )
            found.extend(
                manifests_from(sops.load(data, path, limits, request.decryption), path, warnings)
            )
            if len(found) > limits.max_documents:
                raise errors.UnsafeInputError(
                    f"application path {request.path!r}: more than {limits.max_documents}"
                    f" objects (at {path!r})"
                )
        if not found:
            check_not_silently_empty(request.tree, root, options, request.path)
        return resources.Rendered(manifests=tuple(found), warnings=tuple(warnings))


# Files that document a directory, never expected to render: a path holding
# only these (its manifests deleted on purpose, allowEmpty set) stays valid.
_DOCUMENTATION = re.compile(r"(?i)^(.*\.(md|txt|rst|adoc)|license.*|owners.*|codeowners)$")


def check_not_silently_empty(
    tree: base.Tree, root: str, options: Options, path: str, renderer: str = "directory"
) -> None:
    """Raise when a render found no objects while ``root`` holds files the
    renderer does not read (``.jsonnet`` under the directory renderer, ``.cue``,
    templates...): succeeding with "nothing to do" would hide the mistake."""
    others = walk(
        tree,
        root,
        dataclasses.replace(options, include=(), exclude=()),
        lambda name: not is_manifest_name(name) and not _DOCUMENTATION.match(name),
    ).files
    if not others:
        return
    listed = ", ".join(repr(p) for p in others[:10]) + (" ..." if len(others) > 10 else "")
    raise errors.RenderError(
        f"application path {path!r} renders no manifests with the {renderer} renderer, "
        f"but holds files it does not render: {listed}; choose the renderer for them "
        "(spec.render) or remove them"
    )
