"""Server-side apply as a PATCH request of the Kubernetes API test server.

:func:`apply` checks an applied configuration (fieldManager, type, identity,
no managedFields, resourceVersion and uid preconditions), merges it through
:mod:`.applying` (which owns the managedFields bookkeeping), creates the object
when it does not exist, and answers ownership conflicts with the 409 Conflict
kube-apiserver sends, each conflicting manager and field named. Called by
:meth:`.handling.Api.patch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gitward.testing.kubeapi import (
    applying,
    decoding,
    pruning,
    storing,
    typechecking,
    types,
    validating,
)

if TYPE_CHECKING:
    from gitward.testing.kubeapi import handling


def apply(
    api: handling.Api,
    rtype: types.ResourceType,
    namespace: str,
    name: str,
    raw: bytes,
    opts: handling.WriteOptions,
    subresource: str,
) -> tuple[dict[str, Any], bool]:
    if not opts.field_manager or opts.field_manager.startswith("\x00"):
        raise validating.bad_request(
            "PATCH, application/apply-patch+yaml requires the fieldManager query parameter "
            "to be set"
        )
    applied = decoding.decode_apply(raw)
    if not applied.get("apiVersion") or not applied.get("kind"):
        missing = "apiVersion" if not applied.get("apiVersion") else "kind"
        raise validating.bad_request(f"{missing} must be set in the applied configuration")
    validating.check_type_meta(rtype, applied)
    api.check_identity(rtype, namespace, name, applied)
    pruning.check_applied(rtype, applied)
    typechecking.check_applied(rtype, applied)
    meta = applied["metadata"]
    for server_field in ("creationTimestamp", "deletionTimestamp", "selfLink", "generation"):
        meta.pop(server_field, None)
    if "managedFields" in meta:
        raise validating.bad_request("metadata.managedFields must be nil")
    old = api.store.get(rtype.group, rtype.plural, (namespace, name))
    if old is not None:
        wanted_rv = meta.pop("resourceVersion", None)
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise validating.modified_conflict(rtype, name)
        wanted_uid = meta.pop("uid", None)
        if wanted_uid and wanted_uid != old["metadata"]["uid"]:
            raise validating.conflict(
                rtype,
                name,
                f"Precondition failed: UID in precondition: {wanted_uid}, UID in object "
                f"meta: {old['metadata']['uid']}",
            )
    else:
        if subresource:
            raise validating.not_found(rtype, name)
        meta.pop("resourceVersion", None)
        meta.pop("uid", None)
        validating.check_metadata(rtype, applied)
        api.check_namespace(rtype, namespace)
    try:
        new = applying.apply(
            None if old is None else storing.copy(old),
            applied,
            rtype=rtype,
            manager=opts.field_manager,
            force=opts.force,
            now=api.clock(),
            subresource=subresource,
        )
    except applying.ApplyConflict as exc:
        raise _apply_conflict(exc, old, rtype) from exc
    if old is None:
        new = api.prepare_create(rtype, new)
        return api.commit(rtype, None, new, opts), True
    for kept in (
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ):
        if kept in old["metadata"]:
            new["metadata"][kept] = old["metadata"][kept]
    if subresource == "status":
        merged = api.merge_subresource(rtype, old, new, "status")
        merged["metadata"]["managedFields"] = new["metadata"].get("managedFields", [])
        new = merged
    else:
        new = api.merge_subresource(rtype, old, new, "")
    return api.commit(rtype, old, new, opts), False


def _apply_conflict(
    exc: applying.ApplyConflict, live: Mapping[str, Any] | None, rtype: types.ResourceType
) -> validating.StatusError:
    entries = (live or {}).get("metadata", {}).get("managedFields") or []

    def describe(manager: str) -> str:
        for entry in entries:
            if entry.get("manager") == manager:
                text = f'"{manager}"'
                if entry.get("subresource"):
                    text += f' with subresource "{entry["subresource"]}"'
                if entry.get("operation") == "Update":
                    text += f" using {entry.get('apiVersion', rtype.group_version)}"
                return text
        return f'"{manager}"'

    conflicts = list(exc.conflicts)
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {describe(m)}", "field": path}
        for m, path in conflicts
    ]
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {describe(manager)}: {path}"
    else:
        by_manager: dict[str, list[str]] = {}
        for manager, path in conflicts:
            by_manager.setdefault(manager, []).append(path)
        lines = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {describe(manager)}:")
            lines.extend(f"- {path}" for path in by_manager[manager])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return validating.StatusError(409, "Conflict", message, {"causes": causes})
