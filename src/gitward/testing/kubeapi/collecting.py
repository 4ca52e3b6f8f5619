"""The namespace controller and the garbage collector of the Kubernetes API test server.

A new namespace gets its ``default`` ServiceAccount; a deleted one is emptied,
then its ``kubernetes`` finalizer removed. The garbage collector deletes
dependents whose owners are all gone (background propagation) and carries out
an owner's ``orphan`` and ``foregroundDeletion`` finalizers. Part of
:class:`.workloads.Controllers`.
"""

from __future__ import annotations

from gitward.testing.kubeapi import (
    controlling,
    deleting,
    handling,
    storing,
    validating,
)


class Collecting(controlling.ControllerBase):
    """The namespace controller and the garbage collector."""

    # --- namespaces -------------------------------------------------------------------

    def _default_service_account(self, namespace: str) -> None:
        ns = self.api.store.get("", "namespaces", ("", namespace))
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        if self.api.store.get("", "serviceaccounts", (namespace, "default")) is not None:
            return
        sa_type = self._rtype("", "serviceaccounts")
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
        self.api.create(sa_type, namespace, body, self._opts)

    def _namespace(self, name: str) -> None:
        ns = self.api.store.get("", "namespaces", ("", name))
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for rtype, obj in list(deleting.objects_in_namespace(self.api, name)):
            remaining += 1
            if obj["metadata"].get("deletionTimestamp"):
                continue
            try:
                deleting.delete(
                    self.api,
                    rtype,
                    name,
                    obj["metadata"]["name"],
                    {"propagationPolicy": "Background"},
                )
            except validating.StatusError as exc:
                if exc.code != 404:
                    raise
        if remaining == 0 and handling.NAMESPACE_FINALIZER in (
            (ns.get("spec") or {}).get("finalizers") or ()
        ):
            finalized = storing.copy(ns)
            finalized["spec"]["finalizers"] = [
                f for f in finalized["spec"]["finalizers"] if f != handling.NAMESPACE_FINALIZER
            ]
            deleting.finalize_namespace(self.api, finalized, self._opts)

    # --- garbage collection -----------------------------------------------------------

    def _collect(self, owner_uid: str) -> None:
        """Delete dependents none of whose owners exist any more (background propagation)."""
        for ref in list(self.api.dependents.get(owner_uid, ())):
            dependent = self.api.resolve(ref)
            if dependent is None or dependent["metadata"].get("deletionTimestamp"):
                continue
            owners = [o.get("uid") for o in dependent["metadata"].get("ownerReferences") or ()]
            if any(uid in self.api.by_uid for uid in owners):
                continue
            rtype = self.api.type_of(ref[0], ref[1])
            if rtype is not None:
                deleting.delete(
                    self.api, rtype, ref[2], ref[3], {"propagationPolicy": "Background"}
                )

    def _finish_owner(self, uid: str) -> None:
        """Carry out the orphan / foreground finalizers of an owner being deleted."""
        ref = self.api.by_uid.get(uid)
        if ref is None:
            return
        owner = self.api.resolve(ref)
        if owner is None or not owner["metadata"].get("deletionTimestamp"):
            return
        finalizers = list(owner["metadata"].get("finalizers") or ())
        dependents = [
            d for d in self.api.dependents.get(uid, ()) if self.api.resolve(d) is not None
        ]
        if handling.ORPHAN_FINALIZER in finalizers:
            for dep_ref in dependents:
                dep_type = self.api.type_of(dep_ref[0], dep_ref[1])
                dep = self.api.resolve(dep_ref)
                if dep_type is None or dep is None:
                    continue
                freed = storing.copy(dep)
                freed["metadata"]["ownerReferences"] = [
                    o for o in freed["metadata"].get("ownerReferences") or () if o.get("uid") != uid
                ]
                if not freed["metadata"]["ownerReferences"]:
                    del freed["metadata"]["ownerReferences"]
                self.api.update(dep_type, dep_ref[2], dep_ref[3], freed, self._opts)
            finalizers.remove(handling.ORPHAN_FINALIZER)
        elif handling.FOREGROUND_FINALIZER in finalizers:
            if dependents:
                for dep_ref in dependents:
                    dep = self.api.resolve(dep_ref)
                    dep_type = self.api.type_of(dep_ref[0], dep_ref[1])
                    if dep is None or dep_type is None or dep["metadata"].get("deletionTimestamp"):
                        continue
                    deleting.delete(
                        self.api,
                        dep_type,
                        dep_ref[2],
                        dep_ref[3],
                        {"propagationPolicy": "Foreground"},
                    )
                return
            finalizers.remove(handling.FOREGROUND_FINALIZER)
        else:
            return
        rtype = self.api.type_of(ref[0], ref[1])
        if rtype is None:
            return
        updated = storing.copy(owner)
        updated["metadata"]["finalizers"] = finalizers
        if not finalizers:
            del updated["metadata"]["finalizers"]
        self.api.update(rtype, ref[2], ref[3], updated, self._opts)
