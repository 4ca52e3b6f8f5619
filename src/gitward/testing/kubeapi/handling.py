"""The writes of the Kubernetes API test server, over the object store.

:class:`Api` implements get, create, update (PUT) and patch (JSON, merge,
strategic merge; server-side apply through :mod:`.serverside`) with the
semantics kube-apiserver's generic registry gives them: resourceVersion
preconditions, uid/generation/creationTimestamp bookkeeping, the ``status``
subresource, no-op writes that keep the resourceVersion, the last finalizer's
removal ending a deletion, dry-run, managedFields (through :mod:`.applying`),
defaults (:mod:`.defaulting`). It also keeps the owner -> dependents index the
garbage collector uses. Lists are :mod:`.listing`'s, deletion
:mod:`.deleting`'s. The HTTP layer (:mod:`.serving`) decodes requests and calls
it; the simulated controllers (:mod:`.workloads`) write through it too, so their
changes look like a controller's.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gitward.testing.kubeapi import (
    applying,
    catalog,
    crds,
    defaulting,
    patching,
    pruning,
    serverside,
    storing,
    strategic,
    typechecking,
    types,
    validating,
)

FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"
NAMESPACE_FINALIZER = "kubernetes"

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"

Clock = Callable[[], str]
Ref = tuple[str, str, str, str]  # group, plural, namespace, name


class WriteOptions:
    """Query parameters every write accepts, and the warnings the write produced."""

    __slots__ = ("dry_run", "field_manager", "field_validation", "force", "warnings")

    def __init__(
        self,
        field_manager: str,
        *,
        dry_run: bool = False,
        force: bool = False,
        field_validation: str = "Warn",
    ) -> None:
        self.field_manager = field_manager
        self.dry_run = dry_run
        self.force = force
        self.field_validation = field_validation
        self.warnings: list[str] = []


class Api:
    """Resource semantics over a :class:`storing.Store` and a :class:`crds.Registry`."""

    def __init__(self, store: storing.Store, registry: crds.Registry, clock: Clock) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        # Owner uid -> dependents, and uid -> object, for garbage collection.
        self.dependents: dict[str, set[Ref]] = {}
        self.by_uid: dict[str, Ref] = {}
        store.listeners.append(self._index)
        self._cluster_ips = itertools.count(10)

    # --- indexes ----------------------------------------------------------------

    def _index(self, event: storing.Event) -> None:
        meta = event.obj["metadata"]
        ref: Ref = (event.group, event.plural, meta.get("namespace") or "", meta["name"])
        if event.prev is not None:
            for owner in event.prev["metadata"].get("ownerReferences") or ():
                deps = self.dependents.get(owner.get("uid", ""))
                if deps is not None:
                    deps.discard(ref)
                    if not deps:
                        del self.dependents[owner["uid"]]
        if event.type == "DELETED":
            self.by_uid.pop(meta.get("uid", ""), None)
            return
        self.by_uid[meta["uid"]] = ref
        for owner in meta.get("ownerReferences") or ():
            if isinstance(owner, Mapping) and owner.get("uid"):
                self.dependents.setdefault(owner["uid"], set()).add(ref)

    def resolve(self, ref: Ref) -> dict[str, Any] | None:
        return self.store.get(ref[0], ref[1], (ref[2], ref[3]))

    def type_of(self, group: str, plural: str) -> types.ResourceType | None:
        for rtype in self.registry.all():
            if rtype.group == group and rtype.plural == plural:
                return rtype
        return None

    # --- reads ------------------------------------------------------------------

    def get(self, rtype: types.ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(rtype.group, rtype.plural, (namespace, name))
        if obj is None:
            raise validating.not_found(rtype, name)
        return obj

    # --- writes -----------------------------------------------------------------

    def check_namespace(self, rtype: types.ResourceType, namespace: str) -> None:
        if not rtype.namespaced:
            return
        ns = self.store.get("", "namespaces", ("", namespace))
        if ns is None:
            raise validating.namespace_not_found(namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise validating.StatusError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
                {
                    "name": namespace,
                    "kind": "namespaces",
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def check_identity(
        self, rtype: types.ResourceType, namespace: str, name: str | None, obj: dict[str, Any]
    ) -> None:
        """Body namespace/name must agree with the URL (defaulted when absent)."""
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise validating.bad_request("metadata must be an object")
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise validating.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if name is not None:
            body_name = meta.get("name")
            if body_name and body_name != name:
                raise validating.bad_request(
                    f"the name of the object ({body_name}) does not match the name on the URL "
                    f"({name})"
                )
            meta["name"] = name

    def create(
        self, rtype: types.ResourceType, namespace: str, body: dict[str, Any], opts: WriteOptions
    ) -> dict[str, Any]:
        validating.check_type_meta(rtype, body)
        self.check_identity(rtype, namespace, None, body)
        typechecking.check_decoded(rtype, body)
        pruning.enforce(rtype, body, opts.field_validation, opts.warnings)
        meta = body["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        validating.check_metadata(rtype, body)
        self.check_namespace(rtype, namespace)
        if self.store.get(rtype.group, rtype.plural, (namespace, meta["name"])) is not None:
            raise validating.already_exists(rtype, meta["name"])
        new = self.prepare_create(rtype, body)
        new = applying.record_update(
            None, new, rtype=rtype, manager=opts.field_manager, now=self.clock()
        )
        return self.commit(rtype, None, new, opts)

    def prepare_create(self, rtype: types.ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        for server_field in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
        ):
            meta.pop(server_field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.clock()
        if (rtype.group, rtype.kind) not in catalog.WITHOUT_GENERATION:
            meta["generation"] = 1
        if "status" in rtype.subresources:
            obj.pop("status", None)
        if meta.get("managedFields") == []:
            meta.pop("managedFields")
        if rtype.group == "" and rtype.kind == "Namespace":
            obj.setdefault("spec", {})["finalizers"] = [NAMESPACE_FINALIZER]
            obj["status"] = {"phase": "Active"}
        elif rtype.group == crds.CRD_GROUP and rtype.kind == "CustomResourceDefinition":
            obj["status"] = {
                "storedVersions": [],
                "conditions": [],
                "acceptedNames": {"kind": "", "plural": ""},
            }
        return obj

    def update(
        self,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
        body: dict[str, Any],
        opts: WriteOptions,
        subresource: str = "",
    ) -> dict[str, Any]:
        validating.check_type_meta(rtype, body)
        self.check_identity(rtype, namespace, name, body)
        typechecking.check_decoded(rtype, body)
        pruning.enforce(rtype, body, opts.field_validation, opts.warnings)
        old = self.get(rtype, namespace, name)
        wanted_rv = body["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise validating.modified_conflict(rtype, name)
        if body["metadata"].get("uid") and body["metadata"]["uid"] != old["metadata"]["uid"]:
            raise validating.conflict(
                rtype,
                name,
                f"Precondition failed: UID in precondition: {body['metadata']['uid']}, "
                f"UID in object meta: {old['metadata']['uid']}",
            )
        new = self.merge_subresource(rtype, old, body, subresource)
        if "managedFields" not in new["metadata"] and old["metadata"].get("managedFields"):
            new["metadata"]["managedFields"] = old["metadata"]["managedFields"]
        new = applying.record_update(
            old,
            new,
            rtype=rtype,
            manager=opts.field_manager,
            now=self.clock(),
            subresource=subresource,
        )
        return self.commit(rtype, old, new, opts)

    def merge_subresource(
        self,
        rtype: types.ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str,
    ) -> dict[str, Any]:
        """Keep what the request may not change: status on the main resource, all else on status."""
        if subresource == "status":
            merged = storing.copy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            if "managedFields" in new.get("metadata", {}):
                merged["metadata"]["managedFields"] = new["metadata"]["managedFields"]
            else:
                merged["metadata"].pop("managedFields", None)
                if old["metadata"].get("managedFields"):
                    merged["metadata"]["managedFields"] = old["metadata"]["managedFields"]
            return merged
        if "status" in rtype.subresources:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        return new

    def patch(
        self,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        raw: bytes,
        opts: WriteOptions,
        subresource: str = "",
    ) -> tuple[dict[str, Any], bool]:
        """Apply a patch; returns the object and whether it was created (apply only)."""
        if content_type in (APPLY_PATCH, APPLY_PATCH_CBOR):
            return serverside.apply(self, rtype, namespace, name, raw, opts, subresource)
        if content_type == STRATEGIC_MERGE_PATCH and rtype.is_custom:
            raise validating.unsupported_media_type(
                content_type, [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
            )
        if content_type not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH):
            accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
            if not rtype.is_custom:
                accepted.insert(2, STRATEGIC_MERGE_PATCH)
            raise validating.unsupported_media_type(content_type, accepted)
        old = self.get(rtype, namespace, name)
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise validating.bad_request(f"error decoding patch: {exc}") from exc
        base = storing.copy(old)
        try:
            if content_type == JSON_PATCH:
                if not isinstance(document, list):
                    raise validating.bad_request(
                        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                    )
                patched = patching.json_patch(base, document)
            else:
                if not isinstance(document, dict):
                    raise validating.bad_request("patch body must be a JSON object")
                if content_type == MERGE_PATCH:
                    patched = patching.merge_patch(base, document)
                else:
                    patched = strategic.strategic_merge_patch(base, document, rtype=rtype)
        except patching.PatchError as exc:
            raise _patch_failure(exc) from exc
        if not isinstance(patched, dict):
            raise validating.bad_request("the patch produced something that is not an object")
        patched_meta = patched.get("metadata") or {}
        if patched_meta.get("resourceVersion") not in (None, old["metadata"]["resourceVersion"]):
            raise validating.modified_conflict(rtype, name)
        validating.check_type_meta(rtype, patched)
        self.check_identity(rtype, namespace, name, patched)
        typechecking.check_decoded(rtype, patched)
        pruning.enforce(rtype, patched, opts.field_validation, opts.warnings)
        if patched["metadata"].get("uid") not in (None, old["metadata"]["uid"]):
            raise validating.conflict(
                rtype,
                name,
                f"Precondition failed: UID in precondition: {patched['metadata']['uid']}, "
                f"UID in object meta: {old['metadata']['uid']}",
            )
        new = self.merge_subresource(rtype, old, patched, subresource)
        new = applying.record_update(
            old,
            new,
            rtype=rtype,
            manager=opts.field_manager,
            now=self.clock(),
            subresource=subresource,
        )
        return self.commit(rtype, old, new, opts), False

    def commit(
        self,
        rtype: types.ResourceType,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        opts: WriteOptions,
    ) -> dict[str, Any]:
        """Validate, bump generation, store (unless dry-run) and return the new object."""
        validating.check_metadata(rtype, new)
        typechecking.check_custom(rtype, new)
        meta = new["metadata"]
        meta.pop("selfLink", None)
        if old is not None:
            old_meta = old["metadata"]
            for kept in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if kept in old_meta:
                    meta[kept] = old_meta[kept]
                else:
                    meta.pop(kept, None)
            if "generation" in old_meta:
                meta["generation"] = old_meta["generation"]
                if _spec_of(new, rtype) != _spec_of(old, rtype):
                    meta["generation"] = old_meta["generation"] + 1
            if new == old or _same_but_rv(old, new):
                return old
            if old_meta.get("deletionTimestamp"):
                added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
                if added:
                    raise validating.invalid(
                        rtype,
                        meta["name"],
                        [
                            validating.Cause(
                                "FieldValueForbidden",
                                "metadata.finalizers",
                                "Forbidden: no new finalizers can be added if the object is "
                                "being deleted",
                            )
                        ],
                    )
        if rtype.group == crds.CRD_GROUP and rtype.kind == "CustomResourceDefinition":
            crds.check_crd(new, self.registry)
            crds.with_defaults(new)
        defaulting.builtin_defaults(rtype, new, self._cluster_ips)
        if opts.dry_run:
            if old is not None:
                meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            else:
                meta.pop("resourceVersion", None)
            return new
        finalized = old is not None and meta.get("deletionTimestamp") and not meta.get("finalizers")
        is_namespace = rtype.group == "" and rtype.kind == "Namespace"
        if finalized and not (is_namespace and ns_finalizers(new)):
            # The last finalizer is gone: the update is stored (watchers see it), then
            # the object is removed, as kube-apiserver does.
            self.store.put(rtype.group, rtype.plural, new)
            gone = self.store.remove(
                rtype.group, rtype.plural, (meta.get("namespace") or "", meta["name"])
            )
            return gone or new
        return self.store.put(rtype.group, rtype.plural, new)


# --- helpers --------------------------------------------------------------------


def ns_finalizers(ns: Mapping[str, Any]) -> list[str]:
    return list((ns.get("spec") or {}).get("finalizers") or ())


def _spec_of(obj: Mapping[str, Any], rtype: types.ResourceType) -> dict[str, Any]:
    """What metadata.generation tracks: everything but metadata (and status if a subresource)."""
    skip = (
        {"metadata", "status"}
        if "status" in rtype.subresources or not rtype.is_custom
        else {"metadata"}
    )
    return {k: v for k, v in obj.items() if k not in skip}


def _same_but_rv(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """A no-op write: kube-apiserver then keeps the old resourceVersion and sends no event."""
    if old.keys() != new.keys():
        return False
    for key in old:
        if key == "metadata":
            a = {
                k: v
                for k, v in old["metadata"].items()
                if k not in ("resourceVersion", "managedFields")
            }
            b = {
                k: v
                for k, v in new["metadata"].items()
                if k not in ("resourceVersion", "managedFields")
            }
            if a != b or not _same_managed(old["metadata"], new["metadata"]):
                return False
        elif old[key] != new[key]:
            return False
    return True


def _same_managed(old_meta: Mapping[str, Any], new_meta: Mapping[str, Any]) -> bool:
    """managedFields equal but for timestamps: a repeated identical apply changes nothing."""

    def strip(entries: Any) -> list[Any]:
        return [
            {k: v for k, v in e.items() if k != "time"}
            for e in entries or ()
            if isinstance(e, Mapping)
        ]

    return strip(old_meta.get("managedFields")) == strip(new_meta.get("managedFields"))


def _patch_failure(exc: Exception) -> validating.StatusError:
    # kube-apiserver answers a patch that cannot be applied with 422 Invalid.
    return validating.StatusError(
        422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
    )
