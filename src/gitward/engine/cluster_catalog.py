"""Applications, ApplicationSets and Projects declared as cluster objects, merged
into the Git catalog.

Applications and Projects have two homes: files under the Git root, and
``applications.gitward.dev`` / ``projects.gitward.dev`` objects in the cluster
named by ``clusterObjects`` (in the namespaces it lists). :func:`merge` makes
one catalog of both; it is pure, so every rule below is table-tested.

Rules (docs/configuration.md, "Applications as cluster objects"):

* **Git wins.** An object whose name Git also declares is not used; its
  ``Accepted`` condition says ``ShadowedByGit`` and names the file. Git is
  what a reviewer approved; a cluster object cannot replace it quietly.
* **One name, one Application.** Two objects of the same name in different
  namespaces: the oldest (``creationTimestamp``, then namespace) is used; the
  others say ``NameConflict`` and name the one in use.
* An object that fails validation says ``Invalid`` with the field; it never
  hides the others.
* Objects gitward writes itself (the mirrors of Git-declared Applications,
  label ``gitward.dev/declared-in=git``) are never read back as declarations.

Called by the cluster-objects trigger, which watches the objects and hands the
merged catalog to the agent, and by the status publisher, which writes each
object's verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gitward import errors
from gitward.config import applications, appsets, crds
from gitward.engine import catalog

DECLARED_IN = "gitward.dev/declared-in"  # "git" on mirrors gitward writes
ACCEPTED = "Accepted"
ORIGIN_PREFIX = "cluster object "


@dataclass(frozen=True, slots=True)
class ObjectRef:
    kind: str  # Application, ApplicationSet or Project
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class ClusterObject:
    """One Application or Project object as the watch saw it."""

    ref: ObjectRef
    created: str  # creationTimestamp (RFC 3339 sorts as text)
    generation: int
    body: Mapping[str, Any] = field(repr=False)

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ClusterObject:
        meta = obj.get("metadata") or {}
        return cls(
            ref=ObjectRef(
                str(obj.get("kind") or ""), str(meta.get("namespace") or ""), str(meta["name"])
            ),
            created=str(meta.get("creationTimestamp") or ""),
            generation=int(meta.get("generation") or 0),
            body=obj,
        )

    @property
    def mirrored(self) -> bool:
        labels = (self.body.get("metadata") or {}).get("labels") or {}
        return labels.get(DECLARED_IN) == "git"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the publisher writes on an object: used (``accepted``) or why not."""

    ref: ObjectRef
    accepted: bool
    reason: str  # Accepted, ShadowedByGit, NameConflict, Invalid
    message: str
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Merged:
    catalog: catalog.Catalog
    verdicts: tuple[Verdict, ...]
    # The object each cluster-declared Application comes from.
    objects: Mapping[str, ObjectRef]
    # ApplicationSets declared as objects (their Applications are generated
    # by the caller, engine.fleet, which reads their generators' inputs).
    cluster_sets: frozenset[str] = frozenset()


def origin(ref: ObjectRef) -> str:
    """How a cluster-declared Application's origin reads in events and the UI."""
    return f"{ORIGIN_PREFIX}{ref.namespace}/{ref.name}"


def _oldest_first(objects: Iterable[ClusterObject]) -> list[ClusterObject]:
    return sorted(objects, key=lambda o: (o.created, o.ref.namespace, o.ref.name))


def merge(git: catalog.Catalog, objects: Iterable[ClusterObject]) -> Merged:
    """The Git catalog plus the usable cluster objects; a verdict for every object."""
    apps = dict(git.apps)
    projects = dict(git.projects)
    verdicts: list[Verdict] = []
    used: dict[str, ObjectRef] = {}
    used_projects: dict[str, ObjectRef] = {}
    sets = dict(git.appsets)
    used_sets: dict[str, ObjectRef] = {}
    for obj in _oldest_first(o for o in objects if not o.mirrored):
        ref = obj.ref
        if ref.kind == "ApplicationSet":
            verdict = _set_verdict(obj, git, sets, used_sets)
            verdicts.append(verdict)
            continue
        try:
            if ref.kind == "Project":
                declared: applications.Application | applications.Project = (
                    crds.project_from_object(obj.body)
                )
            else:
                declared = crds.application_from_object(obj.body)
        except errors.ConfigError as exc:
            verdicts.append(Verdict(ref, False, "Invalid", str(exc), obj.generation))
            continue
        name = declared.metadata.name
        if isinstance(declared, applications.Project):
            if name in git.projects:
                verdicts.append(_shadowed(ref, "Project", name, "", obj.generation))
                continue
            if name in used_projects:
                verdicts.append(_conflict(ref, used_projects[name], obj.generation))
                continue
            used_projects[name] = ref
            projects[name] = declared
        else:
            if name in git.apps:
                verdicts.append(
                    _shadowed(ref, "Application", name, git.apps[name].file, obj.generation)
                )
                continue
            if name in used:
                verdicts.append(_conflict(ref, used[name], obj.generation))
                continue
            used[name] = ref
            apps[name] = catalog.Declared(declared, origin(ref))
        verdicts.append(Verdict(ref, True, ACCEPTED, "used by the agent", obj.generation))
    merged = replace(git, apps=apps, projects=projects, appsets=sets)
    return Merged(merged, tuple(verdicts), used, frozenset(used_sets))


def _set_verdict(
    obj: ClusterObject,
    git: catalog.Catalog,
    sets: dict[str, catalog.DeclaredSet],
    used: dict[str, ObjectRef],
) -> Verdict:
    ref = obj.ref
    try:
        declared: appsets.ApplicationSet = crds.appset_from_object(obj.body)
    except errors.ConfigError as exc:
        return Verdict(ref, False, "Invalid", str(exc), obj.generation)
    name = declared.name
    if name in git.appsets:
        return _shadowed(ref, "ApplicationSet", name, git.appsets[name].file, obj.generation)
    if name in used:
        return _conflict(ref, used[name], obj.generation)
    used[name] = ref
    sets[name] = catalog.DeclaredSet(declared, origin(ref))
    return Verdict(ref, True, ACCEPTED, "used by the agent", obj.generation)


def _shadowed(ref: ObjectRef, kind: str, name: str, file: str, generation: int) -> Verdict:
    where = f" ({file})" if file else ""
    return Verdict(
        ref,
        False,
        "ShadowedByGit",
        f"{kind} {name} is also declared in Git{where}; Git wins and this object is ignored",
        generation,
    )


def _conflict(ref: ObjectRef, winner: ObjectRef, generation: int) -> Verdict:
    return Verdict(
        ref,
        False,
        "NameConflict",
        f"{winner} (older) already declares {ref.kind} {ref.name}; this object is ignored",
        generation,
    )
