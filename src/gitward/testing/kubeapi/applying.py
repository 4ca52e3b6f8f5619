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

The configuration is laid over live by :mod:`.merging`, the two compared by
:mod:`.comparing`; the managers' entries are :mod:`.managedfields`'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gitward import errors
from gitward.testing.kubeapi import comparing, fieldsets, managedfields, merging, schemas
from gitward.testing.kubeapi import types as kubetypes
from gitward.testing.kubeapi.merging import ApplyInvalid

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
        self.raw: list[tuple[managedfields.Entry, tuple[str, ...]]] = []


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
        differs = comparing.compare_objects(last, dict(live), node, _EMPTY)
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
        current = out.get(key, merging.MISSING)
        if current is merging.MISSING:
            out[key] = shape
        elif isinstance(shape, Mapping) and shape and isinstance(current, dict):
            out[key] = _with_zero(current, shape)
    return out


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def _conflict(conflicts: list[tuple[managedfields.Entry, tuple[str, ...]]]) -> ApplyConflict:
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
    managers: managedfields.Managers,
    comparison: comparing.Comparison,
    workflow: tuple[str, str, str, str] | None,
    force: bool,
) -> None:
    """``Updater.update``: conflicts with, or ownership taken from, other managers."""
    changed = fieldsets.union(comparison.modified, comparison.added)
    conflicts: list[tuple[managedfields.Entry, tuple[str, ...]]] = []
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
    managers: managedfields.Managers,
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
        managedfields.decode(live.get("metadata", {}).get("managedFields"), where) if live else None
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
    merged = merging.merge(live_clean, config, node, "")
    applied_set = fieldsets.difference(applied_full, _STRIPPED)
    me = managedfields.Entry(manager, "Apply", api_version, now, applied_full, subresource)
    previous = managers.get(me.identity)
    if previous is not None:
        me.time = previous.time
    managers[me.identity] = me
    # Nothing to prune when the applier still applies everything it did before.
    if previous is not None and not fieldsets.difference(previous.fields, applied_full).empty():
        merged = _prune(merged, managers, previous.fields, node)
    merged = _reset_fields(_drop_nulls(merged), live_clean, rtype, subresource)
    comparison = comparing.compare_objects(live_clean, merged, node, ignored)
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
    if live is None or not merging.equal(live_clean, merged):
        me.time = now
    me.fields = applied_set
    if applied_set.empty():
        managers.pop(me.identity, None)
    else:
        managers[me.identity] = me
    managedfields.cap_updates(managers)
    return managedfields.with_managed_fields(_copy(merged), managers)


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
        managers = managedfields.decode(provided, where)
    if managers is None and old is not None:
        managers = managedfields.decode(old.get("metadata", {}).get("managedFields"), where)
    managers = managers or {}
    old_clean = _without_managed_fields(old) if old is not None else {}
    new_clean = _without_managed_fields(new)
    ignored = _ignored(rtype, subresource)
    zero = _zero_object(rtype)
    comparison = comparing.compare_objects(
        _with_zero(old_clean, zero), _with_zero(new_clean, zero), node, ignored
    )
    api_version = str(new.get("apiVersion") or rtype.group_version)
    me = managedfields.Entry(manager, "Update", api_version, now, _EMPTY, subresource)
    _take_changes(managers, comparison, None, True)
    gained = _owned(fieldsets.union(comparison.modified, comparison.added), ignored)
    if not gained.empty():
        previous = managers.get(me.identity)
        me.fields = gained if previous is None else fieldsets.union(previous.fields, gained)
        managers[me.identity] = me
    managedfields.cap_updates(managers)
    return managedfields.with_managed_fields(_copy(new_clean), managers)


def _object_name(obj: Mapping[str, Any], rtype: kubetypes.ResourceType) -> str:
    """As kube-apiserver names an object in SSA errors: "ns/name; apps/v1, Kind=Deployment"."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name", "") if isinstance(metadata, Mapping) else ""
    namespace = metadata.get("namespace", "") if isinstance(metadata, Mapping) else ""
    key = f"{namespace}/{name}" if namespace else str(name)
    return f"{key}; {rtype.group}/{rtype.version}, Kind={rtype.kind}"
