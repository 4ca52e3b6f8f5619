"""The resource tree of an Application: what gitward manages and what those objects own.

``gitward.web.pages`` calls :func:`collect` for the application page. The
managed objects are the Application's status rows; below each, the live
objects that name it in ``metadata.ownerReferences`` (a Deployment's
ReplicaSets, their Pods; a CronJob's Jobs...), as ``kubectl tree`` and
Argo CD show them. Top-level objects are grouped by kind.

:func:`build` is pure (tested with plain objects); :func:`collect` reads the
live objects. Owned objects carry no tracking label (a ReplicaSet copies its
Deployment's pod-template labels, not its metadata), so they are found by
listing the few kinds that controllers create, in the namespaces of their
owners, and following owner uids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitward.engine import inspecting
from gitward.model import resources, status

# (group, kind) of an owner → the kinds its controller creates.
OWNED_KINDS: Mapping[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("apps", "Deployment"): (("apps", "ReplicaSet"),),
    ("apps", "ReplicaSet"): (("", "Pod"),),
    ("apps", "StatefulSet"): (("", "Pod"),),
    ("apps", "DaemonSet"): (("", "Pod"),),
    ("batch", "CronJob"): (("batch", "Job"),),
    ("batch", "Job"): (("", "Pod"),),
}
# Listing is bounded: one page per kind and namespace. A namespace with more
# Pods than this shows the first ones and says the tree is incomplete.
LIST_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Node:
    """One object in the tree. ``sync`` is None for an object gitward does not
    manage (it exists because its owner does)."""

    key: resources.ResourceKey
    health: status.HealthResult
    sync: status.SyncStatus | None
    children: tuple[Node, ...] = ()

    @property
    def managed(self) -> bool:
        return self.sync is not None

    def count(self) -> int:
        return 1 + sum(child.count() for child in self.children)


@dataclass(frozen=True, slots=True)
class KindGroup:
    """Top-level objects of one kind (``Deployment.apps``), with their owned trees."""

    kind: str
    nodes: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Tree:
    groups: tuple[KindGroup, ...]
    # Why the tree may be incomplete (a kind could not be listed, a page was full).
    notes: tuple[str, ...] = ()

    def count(self) -> int:
        return sum(node.count() for group in self.groups for node in group.nodes)


def build(
    rows: Sequence[status.ResourceStatus],
    live: Mapping[resources.ResourceKey, Mapping[str, Any] | None],
    owned: Iterable[Mapping[str, Any]],
    assess: Callable[[Mapping[str, Any]], status.HealthResult] = inspecting.assess,
) -> tuple[KindGroup, ...]:
    """Managed ``rows`` grouped by kind, each with the ``owned`` objects below it.

    ``live`` maps managed keys to their live objects (for uids); ``owned``
    are candidate dependents of any depth; those whose controller chain does
    not lead to a managed object are left out.
    """
    by_owner: dict[str, list[Mapping[str, Any]]] = {}
    for obj in owned:
        owner = _owner_uid(obj)
        if owner:
            by_owner.setdefault(owner, []).append(obj)

    def children(uid: str, seen: frozenset[str]) -> tuple[Node, ...]:
        found = []
        for obj in by_owner.get(uid, ()):
            child_uid = _uid(obj)
            if not child_uid or child_uid in seen:
                continue  # a cycle in ownerReferences must not hang the page
            found.append(
                Node(
                    key=resources.ResourceKey.of(obj),
                    health=assess(obj),
                    sync=None,
                    children=children(child_uid, seen | {child_uid}),
                )
            )
        return tuple(sorted(found, key=lambda node: node.key))

    groups: dict[str, list[Node]] = {}
    for row in sorted(rows, key=lambda r: r.key):
        found = live.get(row.key)
        uid = _uid(found) if found is not None else ""
        node = Node(
            key=row.key,
            health=row.health,
            sync=row.sync,
            children=children(uid, frozenset({uid})) if uid else (),
        )
        groups.setdefault(row.key.group_kind, []).append(node)
    return tuple(KindGroup(kind, tuple(nodes)) for kind, nodes in sorted(groups.items()))


async def collect(target: object, rows: Sequence[status.ResourceStatus]) -> Tree:
    """Read the live objects of ``rows`` and their dependents from ``target``
    (through the engine); what cannot be read is said in the tree's notes."""
    keys = [row.key for row in rows]
    found = await inspecting.live(
        target,  # type: ignore[arg-type]
        keys,
        sorted(_owned_kinds({(k.group, k.kind) for k in keys})),
        limit=LIST_LIMIT,
    )
    return Tree(build(rows, found.managed, found.owned), found.notes)


def _owned_kinds(kinds: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Every kind that controllers of ``kinds`` create, transitively."""
    found: set[tuple[str, str]] = set()
    todo = list(kinds)
    while todo:
        for child in OWNED_KINDS.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _owner_uid(obj: Mapping[str, Any]) -> str:
    """The controller owner's uid (else the first owner's): one parent per object."""
    refs = [
        r
        for r in (obj.get("metadata") or {}).get("ownerReferences") or ()
        if isinstance(r, Mapping)
    ]
    for ref in refs:
        if ref.get("controller"):
            return str(ref.get("uid") or "")
    return str(refs[0].get("uid") or "") if refs else ""
