"""Deletion in the Kubernetes API test server: finalizers, propagation, namespaces.

:func:`delete` answers DELETE as kube-apiserver's generic registry does:
uid/resourceVersion preconditions, propagationPolicy (Orphan and Foreground
add their finalizers), an object with finalizers only marked with a
deletionTimestamp, the protected system namespaces. :func:`delete_collection`
deletes what a list selects; :func:`finalize_namespace` is the namespace's
``finalize`` subresource, and :func:`objects_in_namespace` is what the
namespace controller (:mod:`.workloads`) empties before a namespace goes.
Called by :mod:`.serving` and :mod:`.workloads`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gitward.testing.kubeapi import applying, crds, handling, listing, storing, types, validating


def delete(
    api: handling.Api,
    rtype: types.ResourceType,
    namespace: str,
    name: str,
    options: Mapping[str, Any],
    *,
    dry_run: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Delete or mark for deletion; returns (object, deleted now)."""
    obj = api.get(rtype, namespace, name)
    preconditions = options.get("preconditions") or {}
    if preconditions.get("uid") and preconditions["uid"] != obj["metadata"]["uid"]:
        raise validating.conflict(
            rtype,
            name,
            f"Precondition failed: UID in precondition: {preconditions['uid']}, "
            f"UID in object meta: {obj['metadata']['uid']}",
        )
    wanted_rv = preconditions.get("resourceVersion")
    if wanted_rv and wanted_rv != obj["metadata"]["resourceVersion"]:
        raise validating.conflict(
            rtype,
            name,
            f"Precondition failed: ResourceVersion in precondition: {wanted_rv}, "
            f"ResourceVersion in object meta: {obj['metadata']['resourceVersion']}",
        )
    policy = options.get("propagationPolicy")
    if policy is None and options.get("orphanDependents") is True:
        policy = "Orphan"
    if policy not in (None, "Orphan", "Background", "Foreground"):
        raise validating.invalid(
            rtype,
            name,
            [
                validating.Cause(
                    "FieldValueNotSupported",
                    "propagationPolicy",
                    f'Unsupported value: "{policy}": supported values: "Foreground", '
                    '"Background", "Orphan", "nil"',
                )
            ],
        )
    meta = obj["metadata"]
    finalizers = list(meta.get("finalizers") or ())
    if policy == "Orphan" and handling.ORPHAN_FINALIZER not in finalizers:
        finalizers.append(handling.ORPHAN_FINALIZER)
    if policy == "Foreground" and handling.FOREGROUND_FINALIZER not in finalizers:
        finalizers.append(handling.FOREGROUND_FINALIZER)
    is_crd = rtype.group == crds.CRD_GROUP and rtype.kind == "CustomResourceDefinition"
    if is_crd and crds.CRD_CLEANUP_FINALIZER not in finalizers:
        finalizers.append(crds.CRD_CLEANUP_FINALIZER)
    is_namespace = rtype.group == "" and rtype.kind == "Namespace"
    if is_namespace and name in ("default", "kube-system", "kube-public"):
        raise validating.StatusError(
            403,
            "Forbidden",
            f'namespaces "{name}" is forbidden: this namespace may not be deleted',
            {"name": name, "kind": "namespaces"},
        )
    if finalizers or (is_namespace and handling.ns_finalizers(obj)):
        if meta.get("deletionTimestamp") and finalizers == list(meta.get("finalizers") or ()):
            return obj, False
        marked = storing.copy(obj)
        marked["metadata"]["finalizers"] = finalizers
        if not finalizers:
            del marked["metadata"]["finalizers"]
        marked["metadata"].setdefault("deletionTimestamp", api.clock())
        marked["metadata"].setdefault("deletionGracePeriodSeconds", 0)
        if is_namespace:
            marked.setdefault("status", {})["phase"] = "Terminating"
        if dry_run:
            return marked, False
        return api.store.put(rtype.group, rtype.plural, marked), False
    if dry_run:
        return obj, True
    gone = api.store.remove(rtype.group, rtype.plural, (namespace, name))
    return gone or obj, True


def delete_collection(
    api: handling.Api,
    rtype: types.ResourceType,
    namespace: str,
    options: Mapping[str, Any],
    *,
    label_selector: str = "",
    field_selector: str = "",
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    items, _, _, _ = listing.list_objects(
        api.store, rtype, namespace, label_selector=label_selector, field_selector=field_selector
    )
    out = []
    for obj in items:
        meta = obj["metadata"]
        try:
            result, _ = delete(
                api, rtype, meta.get("namespace") or "", meta["name"], options, dry_run=dry_run
            )
        except validating.StatusError as exc:
            if exc.code != 404:
                raise
            continue
        out.append(result)
    return out


def finalize_namespace(
    api: handling.Api, ns: dict[str, Any], opts: handling.WriteOptions
) -> dict[str, Any]:
    """PUT .../finalize: change only spec.finalizers; an emptied, deleted namespace goes."""
    rtype = api.registry.lookup("", "v1", "namespaces")
    assert rtype is not None
    old = api.get(rtype, "", ns["metadata"]["name"])
    new = storing.copy(old)
    new.setdefault("spec", {})["finalizers"] = list((ns.get("spec") or {}).get("finalizers") or [])
    if not new["spec"]["finalizers"]:
        del new["spec"]["finalizers"]
    new = applying.record_update(
        old,
        new,
        rtype=rtype,
        manager=opts.field_manager,
        now=api.clock(),
        subresource="finalize",
    )
    return api.commit(rtype, old, new, opts)


def objects_in_namespace(
    api: handling.Api, namespace: str
) -> Iterable[tuple[types.ResourceType, dict[str, Any]]]:
    seen: set[tuple[str, str]] = set()
    for rtype in api.registry.all():
        if not rtype.namespaced or (rtype.group, rtype.plural) in seen:
            continue
        seen.add((rtype.group, rtype.plural))
        bucket = api.store.buckets.get((rtype.group, rtype.plural))
        if bucket is None:
            continue
        for obj in list(bucket.in_namespace(namespace)):
            yield rtype, obj
