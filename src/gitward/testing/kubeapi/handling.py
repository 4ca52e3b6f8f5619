"""The REST verbs of the Kubernetes API test server, over the object store.

:class:`Api` implements get, list, create, update (PUT), patch (JSON, merge,
strategic merge, server-side apply), delete and deletecollection with the
semantics kube-apiserver's generic registry gives them: resourceVersion
preconditions, uid/generation/creationTimestamp bookkeeping, the ``status``
subresource, finalizers and deletionTimestamp, propagationPolicy, dry-run,
managedFields (through :mod:`.applying`). The HTTP layer (:mod:`.serving`)
decodes requests and calls it; the simulated controllers (:mod:`.workloads`)
write through it too, so their changes look like a controller's.
"""

from __future__ import annotations

import base64
import builtins
import itertools
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
import yaml

from gitward.testing.kubeapi import (
    applying,
    catalog,
    crds,
    patching,
    protobufs,
    pruning,
    selecting,
    storing,
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

    def list(
        self,
        rtype: types.ResourceType,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> tuple[builtins.list[dict[str, Any]], str, str, int | None]:
        """Matching objects in name order, list resourceVersion, continue token, remaining.

        Equality terms of the label selector are answered by the bucket's label
        index; the whole selector and the field selector then check what it returns.
        """
        labels, terms = selecting.parse_label_selector(label_selector)
        fields = selecting.field_selector(field_selector, rtype)
        bucket = self.store.bucket(rtype.group, rtype.plural)
        list_rv = self.store.rv
        start: tuple[str, str] | None = None
        if continue_token:
            list_rv, start = self._decode_continue(continue_token, bucket)
        keys = bucket.ordered(namespace, after=start, labels=terms)
        items: list[dict[str, Any]] = []
        next_token = ""
        remaining: int | None = None
        for i, key in enumerate(keys):
            obj = bucket.objects[key]
            if labels is not None and not labels(obj):
                continue
            if fields is not None and not fields(obj):
                continue
            if limit and len(items) == limit:
                next_token = self._encode_continue(list_rv, items[-1]["metadata"])
                if labels is None and fields is None:
                    remaining = len(keys) - i
                break
            items.append(obj)
        return items, str(list_rv), next_token, remaining

    @staticmethod
    def _encode_continue(rv: int, meta: Mapping[str, Any]) -> str:
        raw = orjson.dumps(
            {"v": "meta.k8s.io/v1", "rv": rv, "start": [meta.get("namespace") or "", meta["name"]]}
        )
        return base64.urlsafe_b64encode(raw).decode()

    @staticmethod
    def _decode_continue(token: str, bucket: storing.Bucket) -> tuple[int, tuple[str, str]]:
        try:
            data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
            rv = int(data["rv"])
            start = (str(data["start"][0]), str(data["start"][1]))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise validating.bad_request("continue key is not valid: illegal base64 data") from exc
        if rv < bucket.floor:
            raise validating.gone(
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter."
            )
        return rv, start

    # --- writes -----------------------------------------------------------------

    def _check_namespace(self, rtype: types.ResourceType, namespace: str) -> None:
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

    def _check_identity(
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
        self._check_identity(rtype, namespace, None, body)
        typechecking.check_decoded(rtype, body)
        pruning.enforce(rtype, body, opts.field_validation, opts.warnings)
        meta = body["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        validating.check_metadata(rtype, body)
        self._check_namespace(rtype, namespace)
        if self.store.get(rtype.group, rtype.plural, (namespace, meta["name"])) is not None:
            raise validating.already_exists(rtype, meta["name"])
        new = self._prepare_create(rtype, body)
        new = applying.record_update(
            None, new, rtype=rtype, manager=opts.field_manager, now=self.clock()
        )
        return self._commit(rtype, None, new, opts)

    def _prepare_create(self, rtype: types.ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
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
        self._check_identity(rtype, namespace, name, body)
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
        new = self._merge_subresource(rtype, old, body, subresource)
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
        return self._commit(rtype, old, new, opts)

    def _merge_subresource(
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
            return self._server_side_apply(rtype, namespace, name, raw, opts, subresource)
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
                    patched = patching.strategic_merge_patch(base, document, rtype=rtype)
        except patching.PatchError as exc:
            raise _patch_failure(exc) from exc
        if not isinstance(patched, dict):
            raise validating.bad_request("the patch produced something that is not an object")
        patched_meta = patched.get("metadata") or {}
        if patched_meta.get("resourceVersion") not in (None, old["metadata"]["resourceVersion"]):
            raise validating.modified_conflict(rtype, name)
        validating.check_type_meta(rtype, patched)
        self._check_identity(rtype, namespace, name, patched)
        typechecking.check_decoded(rtype, patched)
        pruning.enforce(rtype, patched, opts.field_validation, opts.warnings)
        if patched["metadata"].get("uid") not in (None, old["metadata"]["uid"]):
            raise validating.conflict(
                rtype,
                name,
                f"Precondition failed: UID in precondition: {patched['metadata']['uid']}, "
                f"UID in object meta: {old['metadata']['uid']}",
            )
        new = self._merge_subresource(rtype, old, patched, subresource)
        new = applying.record_update(
            old,
            new,
            rtype=rtype,
            manager=opts.field_manager,
            now=self.clock(),
            subresource=subresource,
        )
        return self._commit(rtype, old, new, opts), False

    def _server_side_apply(
        self,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
        raw: bytes,
        opts: WriteOptions,
        subresource: str,
    ) -> tuple[dict[str, Any], bool]:
        if not opts.field_manager or opts.field_manager.startswith("\x00"):
            raise validating.bad_request(
                "PATCH, application/apply-patch+yaml requires the fieldManager query parameter "
                "to be set"
            )
        applied = _decode_apply(raw)
        if not applied.get("apiVersion") or not applied.get("kind"):
            missing = "apiVersion" if not applied.get("apiVersion") else "kind"
            raise validating.bad_request(f"{missing} must be set in the applied configuration")
        validating.check_type_meta(rtype, applied)
        self._check_identity(rtype, namespace, name, applied)
        pruning.check_applied(rtype, applied)
        typechecking.check_applied(rtype, applied)
        meta = applied["metadata"]
        for server_field in ("creationTimestamp", "deletionTimestamp", "selfLink", "generation"):
            meta.pop(server_field, None)
        if "managedFields" in meta:
            raise validating.bad_request("metadata.managedFields must be nil")
        old = self.store.get(rtype.group, rtype.plural, (namespace, name))
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
            self._check_namespace(rtype, namespace)
        try:
            new = applying.apply(
                None if old is None else storing.copy(old),
                applied,
                rtype=rtype,
                manager=opts.field_manager,
                force=opts.force,
                now=self.clock(),
                subresource=subresource,
            )
        except applying.ApplyConflict as exc:
            raise _apply_conflict(exc, old, rtype) from exc
        if old is None:
            new = self._prepare_create(rtype, new)
            return self._commit(rtype, None, new, opts), True
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
            merged = self._merge_subresource(rtype, old, new, "status")
            merged["metadata"]["managedFields"] = new["metadata"].get("managedFields", [])
            new = merged
        else:
            new = self._merge_subresource(rtype, old, new, "")
        return self._commit(rtype, old, new, opts), False

    def _commit(
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
        _builtin_defaults(rtype, new, self)
        if opts.dry_run:
            if old is not None:
                meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            else:
                meta.pop("resourceVersion", None)
            return new
        finalized = old is not None and meta.get("deletionTimestamp") and not meta.get("finalizers")
        is_namespace = rtype.group == "" and rtype.kind == "Namespace"
        if finalized and not (is_namespace and _ns_finalizers(new)):
            # The last finalizer is gone: the update is stored (watchers see it), then
            # the object is removed, as kube-apiserver does.
            self.store.put(rtype.group, rtype.plural, new)
            gone = self.store.remove(
                rtype.group, rtype.plural, (meta.get("namespace") or "", meta["name"])
            )
            return gone or new
        return self.store.put(rtype.group, rtype.plural, new)

    # --- deletion ---------------------------------------------------------------

    def delete(
        self,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
        options: Mapping[str, Any],
        *,
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Delete or mark for deletion; returns (object, deleted now)."""
        obj = self.get(rtype, namespace, name)
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
        if policy == "Orphan" and ORPHAN_FINALIZER not in finalizers:
            finalizers.append(ORPHAN_FINALIZER)
        if policy == "Foreground" and FOREGROUND_FINALIZER not in finalizers:
            finalizers.append(FOREGROUND_FINALIZER)
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
        if finalizers or (is_namespace and _ns_finalizers(obj)):
            if meta.get("deletionTimestamp") and finalizers == list(meta.get("finalizers") or ()):
                return obj, False
            marked = storing.copy(obj)
            marked["metadata"]["finalizers"] = finalizers
            if not finalizers:
                del marked["metadata"]["finalizers"]
            marked["metadata"].setdefault("deletionTimestamp", self.clock())
            marked["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            if is_namespace:
                marked.setdefault("status", {})["phase"] = "Terminating"
            if dry_run:
                return marked, False
            return self.store.put(rtype.group, rtype.plural, marked), False
        if dry_run:
            return obj, True
        gone = self.store.remove(rtype.group, rtype.plural, (namespace, name))
        return gone or obj, True

    def delete_collection(
        self,
        rtype: types.ResourceType,
        namespace: str,
        options: Mapping[str, Any],
        *,
        label_selector: str = "",
        field_selector: str = "",
        dry_run: bool = False,
    ) -> builtins.list[dict[str, Any]]:
        items, _, _, _ = self.list(
            rtype, namespace, label_selector=label_selector, field_selector=field_selector
        )
        out = []
        for obj in items:
            meta = obj["metadata"]
            try:
                result, _ = self.delete(
                    rtype, meta.get("namespace") or "", meta["name"], options, dry_run=dry_run
                )
            except validating.StatusError as exc:
                if exc.code != 404:
                    raise
                continue
            out.append(result)
        return out

    def finalize_namespace(self, ns: dict[str, Any], opts: WriteOptions) -> dict[str, Any]:
        """PUT .../finalize: change only spec.finalizers; an emptied, deleted namespace goes."""
        rtype = self.registry.lookup("", "v1", "namespaces")
        assert rtype is not None
        old = self.get(rtype, "", ns["metadata"]["name"])
        new = storing.copy(old)
        new.setdefault("spec", {})["finalizers"] = list(
            (ns.get("spec") or {}).get("finalizers") or []
        )
        if not new["spec"]["finalizers"]:
            del new["spec"]["finalizers"]
        new = applying.record_update(
            old,
            new,
            rtype=rtype,
            manager=opts.field_manager,
            now=self.clock(),
            subresource="finalize",
        )
        return self._commit(rtype, old, new, opts)

    def objects_in_namespace(
        self, namespace: str
    ) -> Iterable[tuple[types.ResourceType, dict[str, Any]]]:
        seen: set[tuple[str, str]] = set()
        for rtype in self.registry.all():
            if not rtype.namespaced or (rtype.group, rtype.plural) in seen:
                continue
            seen.add((rtype.group, rtype.plural))
            bucket = self.store.buckets.get((rtype.group, rtype.plural))
            if bucket is None:
                continue
            for obj in list(bucket.in_namespace(namespace)):
                yield rtype, obj


# --- helpers --------------------------------------------------------------------


def _ns_finalizers(ns: Mapping[str, Any]) -> list[str]:
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


def _decode_apply(raw: bytes) -> dict[str, Any]:
    # kubectl and gitward send the applied configuration as JSON (YAML's
    # subset): decoded as JSON it costs a tenth of the YAML loader's time. Like
    # kube-apiserver, anything that is not JSON is read as YAML.
    if raw.lstrip()[:1] == b"{":
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(decoded, dict):
                return decoded
    try:
        doc = yaml.load(raw, Loader=_SafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise validating.bad_request(f"error decoding YAML: {_first_line(exc)}") from exc
    if not isinstance(doc, dict):
        raise validating.bad_request(
            "error decoding YAML: the applied configuration must be an object"
        )
    return doc


class _SafeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML loader that keeps timestamps as the strings clients sent."""


_SafeLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_BODY_TYPES = frozenset(
    {"", "application/json", "application/yaml", "application/x-yaml", "text/yaml"}
)


def decode_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """Decode a create/update body (JSON or YAML) into an object, 400 when malformed."""
    if content_type == protobufs.MEDIA_TYPE:
        return protobufs.decode(raw)
    if content_type not in _BODY_TYPES:
        raise validating.unsupported_media_type(content_type, sorted(_BODY_TYPES - {""}))
    if not raw.strip():
        raise validating.bad_request("the request body is empty")
    if content_type in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            doc: Any = yaml.load(raw, Loader=_SafeLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise validating.bad_request(f"error decoding YAML: {_first_line(exc)}") from exc
    else:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise validating.bad_request(
                f"couldn't get version/kind; json parse error: {exc}"
            ) from exc
    if not isinstance(doc, dict):
        raise validating.bad_request(
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{type(doc).__name__} into Go value of type struct"
        )
    return doc


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _patch_failure(exc: Exception) -> validating.StatusError:
    # kube-apiserver answers a patch that cannot be applied with 422 Invalid.
    return validating.StatusError(
        422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
    )


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


def _builtin_defaults(rtype: types.ResourceType, obj: dict[str, Any], api: Api) -> None:
    """Defaults kube-apiserver fills on every write, which clients read back and diff against."""
    group, kind = rtype.group, rtype.kind
    if group == "" and kind == "Namespace":
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif group == "" and kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if spec.get("type") != "ExternalName":
            if not spec.get("clusterIP"):
                n = next(api._cluster_ips)
                spec["clusterIP"] = f"10.96.{n // 250 % 250}.{n % 250 + 1}"
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or ():
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif group == "" and kind == "Secret":
        obj.setdefault("type", "Opaque")
        # stringData is write-only: merged into data (and winning over it), never stored.
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, Mapping) and string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
    elif group == "" and kind == "Pod":
        _pod_spec_defaults(obj.setdefault("spec", {}))
    elif group == "apps" and kind in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
        spec = obj.setdefault("spec", {})
        if kind != "DaemonSet":
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault(
                "strategy",
                {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
            )
        elif kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault(
                "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
            )
        elif kind == "DaemonSet":
            spec.setdefault(
                "updateStrategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            )
        _template_defaults(spec)
    elif group == "batch" and kind == "Job":
        spec = obj.setdefault("spec", {})
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        _template_defaults(spec)
    elif group == "batch" and kind == "CronJob":
        spec = obj.setdefault("spec", {})
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_spec = (spec.get("jobTemplate") or {}).get("spec")
        if isinstance(job_spec, dict):
            _template_defaults(job_spec)


def _template_defaults(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _pod_spec_defaults(template["spec"])


def _pod_spec_defaults(pod: dict[str, Any]) -> None:
    pod.setdefault("restartPolicy", "Always")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    pod.setdefault("dnsPolicy", "ClusterFirst")
    pod.setdefault("securityContext", {})
    pod.setdefault("schedulerName", "default-scheduler")
    for section in ("initContainers", "containers"):
        for container in pod.get(section) or ():
            if not isinstance(container, dict):
                continue
            # Container-level defaults beyond port protocols (imagePullPolicy,
            # terminationMessagePath/Policy, resources) are not filled yet: see
            # docs/testing-kube-api.md, "What it does not do".
            for port in container.get("ports") or ():
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
