"""The CustomResourceDefinition controller of the Kubernetes API test server.

A new or changed CRD is checked, becomes NamesAccepted and Established and its
types are served (:class:`.crds.Registry`); a deleted one first has its
custom objects removed (the cleanup finalizer), then its types stop being
served and their watches end. Part of :class:`.workloads.Controllers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gitward.testing.kubeapi import (
    controlling,
    crds,
    deleting,
    storing,
    types,
)


class Definitions(controlling.ControllerBase):
    """The CustomResourceDefinition controller."""

    # --- custom resource definitions ----------------------------------------------------

    def _crds_of(self, group: str, plural: str) -> list[str]:
        name = f"{plural}.{group}"
        return [name] if name in self._served_crds else []

    def _forget_crd(self, name: str) -> None:
        self._served_crds.pop(name, None)
        self.api.registry.unserve_crd(name)

    def _crd(self, name: str) -> None:
        crd = self.api.store.get(crds.CRD_GROUP, "customresourcedefinitions", ("", name))
        if crd is None:
            self._forget_crd(name)
            return
        crd_type = self._rtype(crds.CRD_GROUP, "customresourcedefinitions")
        spec = crd["spec"]
        now = self.api.clock()
        conditions = (crd.get("status") or {}).get("conditions")
        if crd["metadata"].get("deletionTimestamp"):
            self._crd_cleanup(crd, crd_type, conditions, now)
            return
        spec_bytes = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
        if self._served_crds.get(name) != spec_bytes:
            self.api.registry.serve_crd(crd)
            self.api.registry.set_printer_columns(crd)
            self._served_crds[name] = spec_bytes
        storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
        stored = list((crd.get("status") or {}).get("storedVersions") or [])
        if storage not in stored:
            stored.append(storage)
        names = dict(spec["names"])
        status = {
            "conditions": [
                controlling.condition(
                    conditions, "NamesAccepted", "True", "NoConflicts", "no conflicts found", now
                ),
                controlling.condition(
                    conditions,
                    "Established",
                    "True",
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                    now,
                ),
            ],
            "acceptedNames": names,
            "storedVersions": stored,
        }
        self._write_status((crds.CRD_GROUP, "customresourcedefinitions", "", name), crd, status)

    def _crd_cleanup(
        self, crd: Mapping[str, Any], crd_type: types.ResourceType, conditions: Any, now: str
    ) -> None:
        name = crd["metadata"]["name"]
        spec = crd["spec"]
        group, plural = spec["group"], spec["names"]["plural"]
        bucket = self.api.store.buckets.get((group, plural))
        served = self.api.registry.custom_types(name)
        remaining = list(bucket.objects.values()) if bucket is not None else []
        if remaining and served:
            rtype = served[0]
            for obj in remaining:
                meta = obj["metadata"]
                if not meta.get("deletionTimestamp"):
                    deleting.delete(
                        self.api,
                        rtype,
                        meta.get("namespace") or "",
                        meta["name"],
                        {"propagationPolicy": "Background"},
                    )
            if all(c.get("type") != "Terminating" for c in conditions or ()):
                status = dict(crd.get("status") or {})
                status["conditions"] = [
                    c for c in conditions or () if c.get("type") != "Terminating"
                ] + [
                    controlling.condition(
                        conditions,
                        "Terminating",
                        "True",
                        "InstanceDeletionInProgress",
                        "CustomResource deletion is in progress",
                        now,
                    )
                ]
                self._write_status(
                    (crds.CRD_GROUP, "customresourcedefinitions", "", name), crd, status
                )
            return
        self.api.store.drop_bucket(group, plural)
        finalizers = [
            f for f in crd["metadata"].get("finalizers") or () if f != crds.CRD_CLEANUP_FINALIZER
        ]
        updated = storing.copy(dict(crd))
        updated["metadata"]["finalizers"] = finalizers
        if not finalizers:
            del updated["metadata"]["finalizers"]
        self.api.update(crd_type, "", name, updated, self._opts)
