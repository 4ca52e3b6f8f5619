"""Server-side apply and managedFields bookkeeping for the Kubernetes API test server.

Called by the server's write paths: :func:`apply` for
``application/apply-patch+yaml`` requests, :func:`record_update` for create,
update (PUT) and the JSON / merge / strategic patches. The semantics follow
kubernetes-sigs/structured-merge-diff (``merge/update.go``) and the API
server's field manager wrapped around it:

* an Apply manager owns exactly the fields of its last applied configuration;
  fields it stops applying are removed unless another manager owns them;
* applying a field another manager owns with a different value is a conflict
  (409) unless ``force``, which moves ownership; the same value is shared;
* Update operations take the fields they add or change away from everyone
  else, never conflict, and merge into the manager's previous Update entry;
* ``apiVersion``, ``kind``, ``metadata.name``/``namespace`` and server-set
  metadata are never owned; ``status`` is owned only through the status
  subresource (and ``spec`` never through it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gitward import errors
from gitward.testing.kubeapi import fieldsets, schemas
from gitward.testing.kubeapi import types as kubetypes

_MISSING: Any = object()

# The API server's stripMeta: never owned by anyone (Difference, not recursive).
_STRIPPED = fieldsets.from_paths(
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata",),
    ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"),
    ("f:metadata", "f:creationTimestamp"),
    ("f:metadata", "f:selfLink"),
    ("f:metadata", "f:uid"),
    ("f:metadata", "f:clusterName"),
    ("f:metadata", "f:generation"),
    ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:resourceVersion"),
)
_STATUS = fieldsets.from_paths(("f:status",))
# Through the status subresource only status changes (the strategies reset the rest).
_NOT_STATUS = fieldsets.from_paths(("f:spec",), ("f:metadata",))
_EMPTY = fieldsets.empty()

# kube-apiserver keeps at most this many Update entries; older ones are merged.
_MAX_UPDATE_MANAGERS = 10
_ANCIENT = "ancient-changes"


class ApplyConflict(errors.ApplyConflict):
    """Applied fields are owned by other managers with different values (409).

    ``conflicts`` holds (manager, path) pairs, the path as kube prints it
    (``.spec.replicas``); ``causes`` are the Status causes kube-apiserver sends
    (``{"type": "FieldManagerConflict", "message": ..., "field": ...}``).
    """

    def __init__(
        self, message: str, conflicts: list[tuple[str, str]], causes: list[dict[str, str]]
    ) -> None:
        super().__init__(message)
        self.conflicts = conflicts
        self.causes = causes
        self.raw: list[tuple[_Entry, tuple[str, ...]]] = []


_KUBECTL = "kubectl"
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _allowed_by_last_applied(
    live: Mapping[str, Any], manager: str, rtype: kubetypes.ResourceType, node: schemas.Node
) -> fieldsets.FieldSet | None:
    """Fields ``kubectl apply --server-side`` may take from a client-side applier.

    kube-apiserver's lastAppliedManager: the fields of the live object's
    last-applied-configuration that still hold the live values.
    """
    if manager != _KUBECTL:
        return None
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(_LAST_APPLIED)
    if not isinstance(text, str) or not text:
        return None
    try:
        last = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != rtype.group_version:
        return None
    try:
        last_set = fieldsets.from_value(last, node)
        differs = _compare_objects(last, dict(live), node, _EMPTY)
    except (fieldsets.FieldSetError, ApplyInvalid):
        return None
    for changed in (differs.modified, differs.added, differs.removed):
        last_set = fieldsets.difference(last_set, changed)
    return last_set


def _sync_last_applied(merged: dict[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """kube-apiserver's lastAppliedUpdater: keep the client-side annotation current."""
    annotations = (merged.get("metadata") or {}).get("annotations") or {}
    if _LAST_APPLIED not in annotations:
        return merged
    applied = _copy(config)
    applied_annotations = (applied.get("metadata") or {}).get("annotations")
    if isinstance(applied_annotations, dict):
        applied_annotations.pop(_LAST_APPLIED, None)
        if not applied_annotations:
            del applied["metadata"]["annotations"]
    text = orjson.dumps(applied, option=orjson.OPT_SORT_KEYS).decode() + "\n"
    metadata = dict(merged["metadata"])
    metadata["annotations"] = {**annotations, _LAST_APPLIED: text}
    return {**merged, "metadata": metadata}


class ApplyInvalid(errors.ApplyError):
    """The applied configuration cannot be applied at all.

    ``code`` is what kube-apiserver answers: 400 for a configuration carrying
    managedFields or the wrong apiVersion, 500 (sic) when it cannot be typed
    (duplicate keys in an associative list, a keyed item without its keys).
    """

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class _Entry:
    """One managedFields entry."""

    __slots__ = ("api_version", "fields", "manager", "operation", "subresource", "time")

    def __init__(
        self,
        manager: str,
        operation: str,
        api_version: str,
        time: str | None,
        fields: fieldsets.FieldSet,
        subresource: str,
    ) -> None:
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.time = time
        self.fields = fields
        self.subresource = subresource

    @property
    def identity(self) -> tuple[str, str, str, str]:
        # Appliers keep one entry whatever apiVersion they used (BuildManagerIdentifier).
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def printed(self) -> str:
        text = orjson.dumps(self.manager).decode()
        if self.subresource:
            text += f" with subresource {orjson.dumps(self.subresource).decode()}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = fieldsets.to_fields_v1(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


_Managers = dict[tuple[str, str, str, str], _Entry]


def _decode(raw: Any, where: str) -> _Managers | None:
    """Entries of ``metadata.managedFields``; None when absent, empty or undecodable."""
    if not isinstance(raw, list) or not raw:
        return None
    out: _Managers = {}
    for item in raw:
        if not isinstance(item, Mapping):
            return None
        manager = item.get("manager")
        if manager is None and not item.get("operation"):
            continue  # [{}] is how clients reset managedFields
        operation = item.get("operation")
        if not isinstance(manager, str) or operation not in ("Apply", "Update"):
            return None
        if item.get("fieldsType", "FieldsV1") != "FieldsV1":
            return None
        try:
            fields = fieldsets.from_fields_v1(item.get("fieldsV1") or {}, where)
        except fieldsets.FieldSetError:
            return None
        entry = _Entry(
            manager,
            operation,
            str(item.get("apiVersion") or ""),
            item.get("time") if isinstance(item.get("time"), str) else None,
            fields,
            str(item.get("subresource") or ""),
        )
        previous = out.get(entry.identity)
        if previous is not None:
            entry.fields = fieldsets.union(previous.fields, entry.fields)
        out[entry.identity] = entry
    return out


def _encode(managers: _Managers) -> list[dict[str, Any]]:
    entries = [e for e in managers.values() if not e.fields.empty()]
    entries.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [e.encode() for e in entries]


def _cap_updates(managers: _Managers) -> None:
    """Merge the oldest Update entries into ``ancient-changes`` past the cap (capManagers)."""
    updates = [e for e in managers.values() if e.operation == "Update"]
    if len(updates) <= _MAX_UPDATE_MANAGERS:
        return
    updates.sort(key=lambda e: (e.time or "", e.manager))
    excess = len(updates) - _MAX_UPDATE_MANAGERS + 1
    for entry in updates[:excess]:
        if entry.manager == _ANCIENT:
            continue
        del managers[entry.identity]
        ancient = _Entry(_ANCIENT, "Update", entry.api_version, entry.time, entry.fields, "")
        found = managers.get(ancient.identity)
        if found is not None:
            ancient.fields = fieldsets.union(found.fields, entry.fields)
            ancient.time = max(found.time or "", entry.time or "") or None
        managers[ancient.identity] = ancient


# --- values ----------------------------------------------------------------------


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and len(a) == len(b)
            and all(k in b and _equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _granular_map(value: Any, node: schemas.Node) -> bool:
    return isinstance(value, dict) and (
        node.kind == schemas.UNTYPED or (node.kind == schemas.MAP and not node.atomic)
    )


def _granular_list(value: Any, node: schemas.Node) -> bool:
    return isinstance(value, list) and node.kind == schemas.LIST and node.list_type != "atomic"


def _child(node: schemas.Node, name: str) -> schemas.Node:
    return node.child(name) if node.kind == schemas.MAP else schemas.UNTYPED_NODE


def _index(node: schemas.Node, items: list[Any], where: str) -> list[str]:
    try:
        return [fieldsets.item_element(node, item, where) for item in items]
    except fieldsets.FieldSetError as exc:
        raise ApplyInvalid(f"failed to create typed object: {exc}", 500) from exc


def _merge(lhs: Any, rhs: Any, node: schemas.Node, where: str) -> Any:
    """Apply's merge: ``rhs`` (the configuration) over ``lhs`` (live)."""
    if rhs is _MISSING:
        return lhs
    if lhs is _MISSING:
        return rhs
    if rhs is None and (_granular_map(lhs, node) or _granular_list(lhs, node)) and lhs:
        # A null container in the configuration merges as an empty one.
        return lhs
    if _granular_map(lhs, node) and _granular_map(rhs, node):
        if not lhs or not rhs:
            return rhs if not lhs and not rhs else {**lhs, **rhs}
        out = {}
        for key, value in lhs.items():
            out[key] = _merge(value, rhs.get(key, _MISSING), _child(node, key), f"{where}.{key}")
        for key, value in rhs.items():
            if key not in lhs:
                out[key] = value
        return out
    if _granular_list(lhs, node) and _granular_list(rhs, node) and (lhs or rhs):
        return _merge_lists(lhs, rhs, node, where)
    return rhs


def _merge_lists(lhs: list[Any], rhs: list[Any], node: schemas.Node, where: str) -> list[Any]:
    """Associative merge keeping live order, as structured-merge-diff's visitListItems."""
    assert node.elem is not None
    elem = node.elem
    rhs_pes = _index(node, rhs, where)
    if len(set(rhs_pes)) != len(rhs_pes):
        dup = next(pe for pe in rhs_pes if rhs_pes.count(pe) > 1)
        raise ApplyInvalid(
            f"failed to create typed patch object: {where}: duplicate entries for key "
            f"{fieldsets.path_string((dup,))}",
            500,
        )
    lhs_pes = _index(node, lhs, where)
    observed_rhs = dict(zip(rhs_pes, rhs, strict=True))
    observed_lhs: dict[str, Any] = {}
    for pe, item in zip(lhs_pes, lhs, strict=True):
        # Duplicated live items are not merged with the new value.
        observed_lhs[pe] = _MISSING if pe in observed_lhs else item
    shared = [pe for pe in rhs_pes if pe in observed_lhs]
    shared_at = 0
    next_shared = shared[0] if shared else None
    merged_rhs: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(lhs_pes) or ri < len(rhs_pes):
        if li < len(lhs_pes) and ri < len(rhs_pes):
            pe = lhs_pes[li]
            if pe == rhs_pes[ri]:
                merged_rhs.add(pe)
                out.append(_merge(observed_lhs[pe], observed_rhs[pe], elem, where))
                li += 1
                ri += 1
                shared_at += 1
                next_shared = shared[shared_at] if shared_at < len(shared) else None
                continue
            if pe in observed_rhs and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lhs_pes):
            pe = lhs_pes[li]
            if pe not in observed_rhs:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
        if ri < len(rhs_pes):
            pe = rhs_pes[ri]
            merged_rhs.add(pe)
            out.append(_merge(observed_lhs.get(pe, _MISSING), observed_rhs[pe], elem, where))
            ri += 1
            if next_shared is not None and next_shared == pe:
                shared_at += 1
                next_shared = shared[shared_at] if shared_at < len(shared) else None
    return out


class _Comparison:
    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added = fieldsets.FieldSet()
        self.modified = fieldsets.FieldSet()
        self.removed = fieldsets.FieldSet()


def _insert(fs: fieldsets.FieldSet, path: tuple[str, ...]) -> None:
    if not path:
        return
    node = fs
    for element in path[:-1]:
        child = node.children.get(element)
        if child is None:
            child = node.children[element] = fieldsets.FieldSet()
        node = child
    node.members.add(path[-1])


def _compare(lhs: Any, rhs: Any, node: schemas.Node, path: tuple[str, ...], c: _Comparison) -> None:
    """structured-merge-diff's Compare: leaves added/modified/removed, plus added or
    removed containers (so an Update owns ``.metadata.labels`` itself when it adds it)."""
    l_missing, r_missing = lhs is _MISSING, rhs is _MISSING
    # A null container compares as an empty one that exists (no "." for it).
    l_empty, r_empty = l_missing or lhs is None, r_missing or rhs is None
    if (l_empty or _granular_map(lhs, node)) and (r_empty or _granular_map(rhs, node)):
        left = {} if l_empty else lhs
        right = {} if r_empty else rhs
        if left or right:
            for key, value in left.items():
                sub = (*path, f"f:{key}")
                _compare(value, right.get(key, _MISSING), _child(node, key), sub, c)
            for key, value in right.items():
                if key not in left:
                    _compare(_MISSING, value, _child(node, key), (*path, f"f:{key}"), c)
            _container_hook(lhs, rhs, path, c)
            return
    elif (l_empty or _granular_list(lhs, node)) and (r_empty or _granular_list(rhs, node)):
        left_items = [] if l_empty else lhs
        right_items = [] if r_empty else rhs
        if left_items or right_items:
            _compare_lists(left_items, right_items, node, path, c)
            _container_hook(lhs, rhs, path, c)
            return
    if l_missing:
        _insert(c.added, path)
    elif r_missing:
        _insert(c.removed, path)
    elif not _equal(lhs, rhs):
        _insert(c.modified, path)


def _container_hook(lhs: Any, rhs: Any, path: tuple[str, ...], c: _Comparison) -> None:
    if lhs is _MISSING:
        _insert(c.added, path)
    elif rhs is _MISSING:
        _insert(c.removed, path)


def _compare_lists(
    lhs: list[Any], rhs: list[Any], node: schemas.Node, path: tuple[str, ...], c: _Comparison
) -> None:
    assert node.elem is not None
    where = fieldsets.path_string(path)
    left: dict[str, list[Any]] = {}
    order: list[str] = []
    for pe, item in zip(_index(node, lhs, where), lhs, strict=True):
        if pe not in left:
            order.append(pe)
        left.setdefault(pe, []).append(item)
    right: dict[str, list[Any]] = {}
    for pe, item in zip(_index(node, rhs, where), rhs, strict=True):
        if pe not in right and pe not in left:
            order.append(pe)
        right.setdefault(pe, []).append(item)
    for pe in order:
        lv, rv = left.get(pe, []), right.get(pe, [])
        item_path = (*path, pe)
        if len(lv) <= 1 and len(rv) <= 1:
            _compare(lv[0] if lv else _MISSING, rv[0] if rv else _MISSING, node.elem, item_path, c)
        elif len(lv) >= 2 and len(rv) >= 2:
            if not _equal(lv, rv):
                _insert(c.modified, item_path)
        elif len(lv) >= 2:
            if rv:
                _compare(_MISSING, rv[0], node.elem, item_path, c)
            _insert(c.removed, item_path)
        else:
            if lv:
                _compare(lv[0], _MISSING, node.elem, item_path, c)
            _insert(c.added, item_path)


def _compare_objects(
    lhs: Any, rhs: Any, node: schemas.Node, ignored: fieldsets.FieldSet
) -> _Comparison:
    c = _Comparison()
    _compare(lhs, rhs, node, (), c)
    if not ignored.empty():
        c.added = fieldsets.recursive_difference(c.added, ignored)
        c.modified = fieldsets.recursive_difference(c.modified, ignored)
        c.removed = fieldsets.recursive_difference(c.removed, ignored)
    return c


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _without_managed_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    metadata = out.get("metadata")
    if isinstance(metadata, Mapping) and "managedFields" in metadata:
        out["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return out


def _ignored(rtype: kubetypes.ResourceType, subresource: str) -> fieldsets.FieldSet:
    if subresource == "status":
        return _NOT_STATUS
    if subresource:
        return _EMPTY
    return _STATUS if "status" in rtype.subresources else _EMPTY


def _owned(fs: fieldsets.FieldSet, ignored: fieldsets.FieldSet) -> fieldsets.FieldSet:
    return fieldsets.difference(fieldsets.recursive_difference(fs, ignored), _STRIPPED)


def _reset_fields(
    merged: dict[str, Any], live: Mapping[str, Any], rtype: kubetypes.ResourceType, subresource: str
) -> dict[str, Any]:
    """Keep what this endpoint may not change, as the API strategies do."""
    if subresource == "status":
        out = {k: v for k, v in live.items() if k != "status"}
        if "status" in merged:
            out["status"] = merged["status"]
        return out
    if not subresource and "status" in rtype.subresources:
        out = dict(merged)
        if "status" in live:
            out["status"] = live["status"]
        else:
            out.pop("status", None)
        return out
    return merged


# Shapes of the zero value the API server compares a new object against on create
# (Go non-pointer structs decode as {}): which containers an Update owns with "."
_ZERO_TEMPLATE: dict[str, Any] = {"metadata": {}, "spec": {"containers": None}}
_ZERO_SPECS: dict[tuple[str, str], dict[str, Any]] = {
    ("apps", "Deployment"): {"template": _ZERO_TEMPLATE, "strategy": {}},
    ("apps", "StatefulSet"): {"template": _ZERO_TEMPLATE, "updateStrategy": {}},
    ("apps", "DaemonSet"): {"template": _ZERO_TEMPLATE, "updateStrategy": {}},
    ("apps", "ReplicaSet"): {"template": _ZERO_TEMPLATE},
    ("batch", "Job"): {"template": _ZERO_TEMPLATE},
    ("batch", "CronJob"): {"jobTemplate": {"metadata": {}, "spec": {"template": _ZERO_TEMPLATE}}},
    ("", "PersistentVolumeClaim"): {"resources": {}},
    ("", "Pod"): {"containers": None},
}
_WITH_SPEC_AND_STATUS = frozenset(
    {
        ("", "Namespace"),
        ("", "Service"),
        ("", "Pod"),
        ("", "PersistentVolumeClaim"),
        ("networking.k8s.io", "Ingress"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("policy", "PodDisruptionBudget"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    }
)


def _zero_object(rtype: kubetypes.ResourceType) -> dict[str, Any]:
    if rtype.is_custom:
        return {}
    out: dict[str, Any] = {"metadata": {}}
    spec = _ZERO_SPECS.get((rtype.group, rtype.kind))
    if spec is not None or (rtype.group, rtype.kind) in _WITH_SPEC_AND_STATUS:
        out["spec"] = dict(spec or {})
        out["status"] = {}
    return out


def _with_zero(obj: dict[str, Any], zero: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` with the containers a typed Go object always has (for comparing only)."""
    if not zero:
        return obj
    out = dict(obj)
    for key, shape in zero.items():
        current = out.get(key, _MISSING)
        if current is _MISSING:
            out[key] = shape
        elif isinstance(shape, Mapping) and shape and isinstance(current, dict):
            out[key] = _with_zero(current, shape)
    return out


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def _with_managed_fields(obj: dict[str, Any], managers: _Managers) -> dict[str, Any]:
    encoded = _encode(managers)
    metadata = dict(obj.get("metadata") or {})
    if encoded:
        metadata["managedFields"] = encoded
    else:
        metadata.pop("managedFields", None)
    obj["metadata"] = metadata
    return obj


def _conflict(conflicts: list[tuple[_Entry, tuple[str, ...]]]) -> ApplyConflict:
    conflicts.sort(key=lambda c: (c[0].printed(), c[1]))
    pairs = [(entry.manager, fieldsets.path_string(path)) for entry, path in conflicts]
    causes = [
        {
            "type": "FieldManagerConflict",
            "message": f"conflict with {entry.printed()}",
            "field": fieldsets.path_string(path),
        }
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {entry.printed()}: "
            f"{fieldsets.path_string(path)}"
        )
    else:
        lines: list[str] = []
        current = ""
        for entry, path in conflicts:
            if entry.printed() != current:
                current = entry.printed()
                lines.append(f"conflicts with {current}:")
            lines.append(f"- {fieldsets.path_string(path)}")
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    exc = ApplyConflict(message, pairs, causes)
    exc.raw = conflicts
    return exc


def _take_changes(
    managers: _Managers,
    comparison: _Comparison,
    workflow: tuple[str, str, str, str] | None,
    force: bool,
) -> None:
    """``Updater.update``: conflicts with, or ownership taken from, other managers."""
    changed = fieldsets.union(comparison.modified, comparison.added)
    conflicts: list[tuple[_Entry, tuple[str, ...]]] = []
    taken: dict[tuple[str, str, str, str], fieldsets.FieldSet] = {}
    for identity, entry in managers.items():
        if identity == workflow:
            continue
        overlap = fieldsets.intersection(entry.fields, changed)
        if not overlap.empty():
            taken[identity] = overlap
            conflicts.extend((entry, path) for path in overlap.paths())
    if conflicts and not force:
        raise _conflict(conflicts)
    for identity, overlap in taken.items():
        managers[identity].fields = fieldsets.difference(managers[identity].fields, overlap)
    if not comparison.removed.empty():
        for identity, entry in managers.items():
            if identity != workflow:
                entry.fields = fieldsets.difference(entry.fields, comparison.removed)
    for identity in [i for i, e in managers.items() if e.fields.empty()]:
        del managers[identity]


def _prune(
    merged: Any,
    managers: _Managers,
    last: fieldsets.FieldSet,
    node: schemas.Node,
) -> Any:
    """Remove what the applier stopped applying unless someone owns it (``Updater.prune``)."""
    if last.empty():
        return merged
    ensure = fieldsets.ensure_named_fields_are_members
    last_e = ensure(last, node)
    pruned = fieldsets.remove_items(merged, last_e, node)
    managed = _EMPTY
    for entry in managers.values():
        managed = fieldsets.union(managed, entry.fields)
    merged_e = ensure(fieldsets.from_value(merged, node), node)
    pruned_e = ensure(fieldsets.from_value(pruned, node), node)
    pruned = fieldsets.remove_items(
        merged,
        fieldsets.difference(merged_e, fieldsets.union(pruned_e, ensure(managed, node))),
        node,
    )
    pruned_e = ensure(fieldsets.from_value(pruned, node), node)
    dangling = fieldsets.intersection(fieldsets.difference(merged_e, pruned_e), last_e)
    return fieldsets.remove_items(merged, dangling, node)


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    rtype: kubetypes.ResourceType,
    manager: str,
    force: bool,
    now: str,
    subresource: str = "",
) -> dict[str, Any]:
    """The object after ``manager`` applies ``applied`` to ``live`` (None: create).

    Raises :class:`ApplyConflict` (409) on conflicts without ``force`` (for the
    manager ``kubectl``, fields it last applied client-side are taken over as
    kube-apiserver does) and :class:`ApplyInvalid` (its ``code``) for
    configurations that cannot be applied. Neither input is mutated; uid,
    resourceVersion, generation and creationTimestamp are left to the caller.
    """
    node = schemas.node_for(rtype)
    where = _object_name(applied, rtype)
    live_clean = _without_managed_fields(live) if live is not None else {}
    config = _without_managed_fields(applied)
    managers = (
        _decode(live.get("metadata", {}).get("managedFields"), where) if live else None
    ) or {}
    ignored = _ignored(rtype, subresource)
    api_version = str(applied.get("apiVersion") or rtype.group_version)
    if api_version != rtype.group_version:
        raise ApplyInvalid(
            f"Incorrect version specified in apply patch. Specified patch version: "
            f"{api_version}, expected: {rtype.group_version}",
            400,
        )
    if (applied.get("metadata") or {}).get("managedFields") is not None:
        raise ApplyInvalid("metadata.managedFields must be nil", 400)
    try:
        # Inside the merge the applier owns name and namespace too (the API server
        # strips them only when storing); otherwise pruning could drop .metadata.
        applied_full = fieldsets.recursive_difference(
            fieldsets.from_value(config, node, "", allow_duplicates=False), ignored
        )
    except fieldsets.FieldSetError as exc:
        raise ApplyInvalid(f"failed to create typed patch object ({where}): {exc}", 500) from exc
    merged = _merge(live_clean, config, node, "")
    applied_set = fieldsets.difference(applied_full, _STRIPPED)
    me = _Entry(manager, "Apply", api_version, now, applied_full, subresource)
    previous = managers.get(me.identity)
    if previous is not None:
        me.time = previous.time
    managers[me.identity] = me
    # Nothing to prune when the applier still applies everything it did before.
    if previous is not None and not fieldsets.difference(previous.fields, applied_full).empty():
        merged = _prune(merged, managers, previous.fields, node)
    merged = _reset_fields(_drop_nulls(merged), live_clean, rtype, subresource)
    comparison = _compare_objects(live_clean, merged, node, ignored)
    try:
        _take_changes(managers, comparison, me.identity, force)
    except ApplyConflict as exc:
        allowed = _allowed_by_last_applied(live_clean, manager, rtype, node)
        if allowed is None:
            raise
        remaining = [(m, p) for m, p in exc.raw if not allowed.has(p)]
        if remaining:
            raise _conflict(remaining) from None
        # Upgrading from client-side apply: fields kubectl last applied are taken.
        _take_changes(managers, comparison, me.identity, True)
    if manager == _KUBECTL:
        merged = _sync_last_applied(merged, config)
    if live is None or not _equal(live_clean, merged):
        me.time = now
    me.fields = applied_set
    if applied_set.empty():
        managers.pop(me.identity, None)
    else:
        managers[me.identity] = me
    _cap_updates(managers)
    return _with_managed_fields(_copy(merged), managers)


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    rtype: kubetypes.ResourceType,
    manager: str,
    now: str,
    subresource: str = "",
) -> dict[str, Any]:
    """``new`` with managedFields after an Update by ``manager`` (create when ``old`` is None).

    The manager gains the fields that differ from ``old`` (merged into its earlier
    Update entry for the same apiVersion and subresource) and every other manager
    loses them. managedFields written by the client in ``new`` replace the live
    ones (``[{}]`` clears them), as on a real API server; unreadable ones are ignored.
    """
    try:
        return _record_update(old, new, rtype, manager, now, subresource)
    except ApplyInvalid:
        # kube-apiserver's UpdateNoErrors: an object it cannot type loses its
        # managedFields instead of failing the write.
        result = _copy(_without_managed_fields(new))
        assert isinstance(result, dict)
        return result


def _record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    rtype: kubetypes.ResourceType,
    manager: str,
    now: str,
    subresource: str,
) -> dict[str, Any]:
    node = schemas.node_for(rtype)
    where = _object_name(new, rtype)
    provided = new.get("metadata", {}).get("managedFields")
    managers = None
    if not subresource and isinstance(provided, list) and provided:
        managers = _decode(provided, where)
    if managers is None and old is not None:
        managers = _decode(old.get("metadata", {}).get("managedFields"), where)
    managers = managers or {}
    old_clean = _without_managed_fields(old) if old is not None else {}
    new_clean = _without_managed_fields(new)
    ignored = _ignored(rtype, subresource)
    zero = _zero_object(rtype)
    comparison = _compare_objects(
        _with_zero(old_clean, zero), _with_zero(new_clean, zero), node, ignored
    )
    api_version = str(new.get("apiVersion") or rtype.group_version)
    me = _Entry(manager, "Update", api_version, now, _EMPTY, subresource)
    _take_changes(managers, comparison, None, True)
    gained = _owned(fieldsets.union(comparison.modified, comparison.added), ignored)
    if not gained.empty():
        previous = managers.get(me.identity)
        me.fields = gained if previous is None else fieldsets.union(previous.fields, gained)
        managers[me.identity] = me
    _cap_updates(managers)
    return _with_managed_fields(_copy(new_clean), managers)


def _object_name(obj: Mapping[str, Any], rtype: kubetypes.ResourceType) -> str:
    """As kube-apiserver names an object in SSA errors: "ns/name; apps/v1, Kind=Deployment"."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name", "") if isinstance(metadata, Mapping) else ""
    namespace = metadata.get("namespace", "") if isinstance(metadata, Mapping) else ""
    key = f"{namespace}/{name}" if namespace else str(name)
    return f"{key}; {rtype.group}/{rtype.version}, Kind={rtype.kind}"
