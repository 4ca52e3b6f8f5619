"""Applications and Projects declared in Git: the app-of-apps root.

The agent's configuration names a root repository path; every YAML file under
it (recursively) holds Application and Project documents. The catalog is
re-read on every commit of the root repository. One broken file never hides
the others: its error is reported, and the Applications it declared before
keep their last good definition until the file is fixed or removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gitward import errors
from gitward.config import applications
from gitward.render import base as render_base
from gitward.render import loading

_SUFFIXES = (".yaml", ".yml", ".json")
_LIMITS = render_base.Limits(max_file_bytes=1024 * 1024, max_documents=1000)
_MAX_FILES = 10_000


@dataclass(frozen=True, slots=True)
class Declared:
    app: applications.Application
    file: str  # repository path of the file declaring it


@dataclass(frozen=True, slots=True)
class Catalog:
    revision: str
    apps: Mapping[str, Declared] = field(default_factory=dict)
    projects: Mapping[str, applications.Project] = field(default_factory=dict)
    # One message per file that could not be read, naming the file.
    problems: tuple[str, ...] = ()
    broken_files: frozenset[str] = frozenset()


def _files(tree: render_base.Tree, path: str) -> list[str]:
    found: list[str] = []
    pending = [path]
    while pending:
        current = pending.pop()
        for entry in tree.list(current):
            if entry.kind == render_base.EntryKind.DIRECTORY:
                pending.append(entry.path)
            elif entry.name.endswith(_SUFFIXES):
                found.append(entry.path)
            if len(found) > _MAX_FILES:
                raise errors.ConfigError(
                    f"{path}: more than {_MAX_FILES} files under the applications root"
                )
    return sorted(found)


def load(tree: render_base.Tree, path: str, previous: Catalog | None = None) -> Catalog:
    """The catalog at ``tree``'s commit; ``previous`` keeps apps of broken files."""
    apps: dict[str, Declared] = {}
    projects: dict[str, applications.Project] = {}
    problems: list[str] = []
    broken: set[str] = set()
    for file in _files(tree, path):
        try:
            documents = loading.load_documents(
                tree.read(file, max_bytes=_LIMITS.max_file_bytes), file, _LIMITS
            )
            parsed = [_parse(doc, f"{file}#{i}") for i, doc in enumerate(documents) if doc]
        except errors.GitwardError as exc:
            problems.append(str(exc))
            broken.add(file)
            continue
        for item in parsed:
            if isinstance(item, applications.Project):
                projects.setdefault(item.metadata.name, item)
                continue
            if item.name in apps:
                problems.append(
                    f"{file}: Application {item.name!r} is already declared in "
                    f"{apps[item.name].file}; this declaration is ignored"
                )
                continue
            apps[item.name] = Declared(item, file)
    if previous is not None:
        for name, declared in previous.apps.items():
            if declared.file in broken and name not in apps:
                apps[name] = declared
    return Catalog(
        revision=tree.revision,
        apps=apps,
        projects=projects,
        problems=tuple(problems),
        broken_files=frozenset(broken),
    )


def _parse(document: object, origin: str) -> applications.Application | applications.Project:
    if not isinstance(document, Mapping):
        raise errors.ConfigError(f"{origin}: expected a mapping")
    kind = document.get("kind")
    if kind == "Project":
        return applications.parse_project(document, origin)
    if kind == "Application":
        return applications.parse(document, origin)
    raise errors.ConfigError(f"{origin}: kind {kind!r} is neither Application nor Project")
