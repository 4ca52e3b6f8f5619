"""Applications, ApplicationSets and Projects declared in Git: the app-of-apps root.

The agent's configuration names a root repository path; every YAML file under
it (recursively) holds Application, ApplicationSet and Project documents.
:func:`load` reads them; :func:`expand` adds the Applications each set
generates (``engine.generating``), once the caller has fetched what the sets'
git generators read. The catalog is
re-read on every commit of the root repository. One broken file never hides
the others: its error is reported, and the Applications it declared before
keep their last good definition until the file is fixed or removed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from gitward import errors
from gitward.config import applications, appsets
from gitward.config import notifications as notifying
from gitward.engine import generating
from gitward.render import base as render_base
from gitward.render import loading

_SUFFIXES = (".yaml", ".yml", ".json")
_LIMITS = render_base.Limits(max_file_bytes=1024 * 1024, max_documents=1000)
_MAX_FILES = 10_000
_Item = (
    applications.Application | applications.Project | appsets.ApplicationSet | notifying.AlertSpec
)


@dataclass(frozen=True, slots=True)
class Declared:
    app: applications.Application
    file: str  # repository path of the file declaring it
    owner: str = ""  # the ApplicationSet that generated it; '' when declared directly


@dataclass(frozen=True, slots=True)
class DeclaredSet:
    appset: appsets.ApplicationSet
    file: str


@dataclass(frozen=True, slots=True)
class DeclaredAlert:
    alert: notifying.AlertSpec
    file: str


@dataclass(frozen=True, slots=True)
class Catalog:
    revision: str
    apps: Mapping[str, Declared] = field(default_factory=dict)
    projects: Mapping[str, applications.Project] = field(default_factory=dict)
    appsets: Mapping[str, DeclaredSet] = field(default_factory=dict)
    # kind: Alert documents: notification routing declared in Git.
    alerts: Mapping[str, DeclaredAlert] = field(default_factory=dict)
    # One message per file that could not be read, naming the file.
    problems: tuple[str, ...] = ()
    broken_files: frozenset[str] = frozenset()
    # What each file read well held: its digest and documents, so the next
    # commit parses only the files it changed (1,000 Applications: ~0.3 s).
    parsed: Mapping[str, tuple[str, tuple[_Item, ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )


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
    sets: dict[str, DeclaredSet] = {}
    alerts: dict[str, DeclaredAlert] = {}
    problems: list[str] = []
    broken: set[str] = set()
    known = previous.parsed if previous is not None else {}
    files: dict[str, tuple[str, tuple[_Item, ...]]] = {}
    for file in _files(tree, path):
        try:
            digest = tree.digest(file)
            before = known.get(file)
            if before is not None and before[0] == digest:
                parsed = before[1]
            else:
                documents = loading.load_documents(
                    tree.read(file, max_bytes=_LIMITS.max_file_bytes), file, _LIMITS
                )
                parsed = tuple(_parse(doc, f"{file}#{i}") for i, doc in enumerate(documents) if doc)
        except errors.GitwardError as exc:
            problems.append(str(exc))
            broken.add(file)
            continue
        files[file] = (digest, parsed)
        for item in parsed:
            if isinstance(item, notifying.AlertSpec):
                if item.name in alerts:
                    problems.append(
                        f"{file}: Alert {item.name!r} is already declared in "
                        f"{alerts[item.name].file}; this declaration is ignored"
                    )
                else:
                    alerts[item.name] = DeclaredAlert(item, file)
                continue
            if isinstance(item, applications.Project):
                projects.setdefault(item.metadata.name, item)
                continue
            if isinstance(item, appsets.ApplicationSet):
                if item.name in sets:
                    problems.append(
                        f"{file}: ApplicationSet {item.name!r} is already declared in "
                        f"{sets[item.name].file}; this declaration is ignored"
                    )
                else:
                    sets[item.name] = DeclaredSet(item, file)
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
            if declared.file in broken and name not in apps and not declared.owner:
                apps[name] = declared
        for name, kept in previous.appsets.items():
            if kept.file in broken and name not in sets:
                sets[name] = kept
        for name, kept_alert in previous.alerts.items():
            if kept_alert.file in broken and name not in alerts:
                alerts[name] = kept_alert
    return Catalog(
        revision=tree.revision,
        apps=apps,
        projects=projects,
        appsets=sets,
        alerts=alerts,
        problems=tuple(problems),
        broken_files=frozenset(broken),
        parsed=files,
    )


def expand(loaded: Catalog, inputs: generating.Inputs, previous: Catalog | None = None) -> Catalog:
    """``loaded`` with the Applications its ApplicationSets generate from ``inputs``.

    A set that fails (a template error, a generator whose repository could not
    be read) changes nothing: its Applications of ``previous`` stay as they were,
    and the failure is one of the catalog's problems. A generated name already
    taken (declared directly, or by a set earlier in name order) is a problem too;
    the first declaration wins.
    """
    apps = dict(loaded.apps)
    problems = list(loaded.problems)
    before = previous.apps if previous is not None else {}
    for name in sorted(loaded.appsets):
        declared = loaded.appsets[name]
        kept = {n: d for n, d in before.items() if d.owner == name}
        try:
            generated = generating.generate(declared.appset, inputs, declared.file)
        except errors.GitwardError as exc:
            problems.append(f"{exc} (its Applications are kept as they were)")
            produced = kept
        else:
            produced = {
                app_name: Declared(app, declared.file, owner=name)
                for app_name, app in generated.apps.items()
            }
            if declared.appset.spec.sync_policy.applications_sync == "create-update":
                produced = {**kept, **produced}
        for app_name, item in produced.items():
            if app_name in apps:
                taken = apps[app_name]
                by = f"ApplicationSet {taken.owner!r}" if taken.owner else taken.file
                problems.append(
                    f"{declared.file}: ApplicationSet {name!r} generates Application "
                    f"{app_name!r}, already declared by {by}; the generated one is ignored"
                )
                continue
            apps[app_name] = item
    # Everything else of the root (Projects, sets, Alerts...) as it was read.
    return dataclasses.replace(loaded, apps=apps, problems=tuple(problems))


def _parse(document: object, origin: str) -> _Item:
    if not isinstance(document, Mapping):
        raise errors.ConfigError(f"{origin}: expected a mapping")
    kind = document.get("kind")
    if kind == "Project":
        return applications.parse_project(document, origin)
    if kind == "Application":
        return applications.parse(document, origin)
    if kind == "ApplicationSet":
        return appsets.parse(document, origin)
    if kind == "Alert":
        return notifying.parse_alert_document(document, origin)
    raise errors.ConfigError(
        f"{origin}: kind {kind!r} is none of Alert, Application, ApplicationSet, Project"
    )
