"""The registry of served resource types, and CustomResourceDefinitions.

:class:`Registry` answers "which type does this URL / this group and kind
name": the built-ins of :mod:`.catalog` plus the versions of every Established
CRD. Creating a CRD validates it (422 as kube-apiserver would), the CRD
controller in :mod:`.workloads` then marks it NamesAccepted and Established
and calls :meth:`Registry.serve_crd`; deleting it removes its objects first
(the ``customresourcecleanup`` finalizer) and then the types.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from gitward.testing.kubeapi import catalog, types, validating

CRD_GROUP = "apiextensions.k8s.io"
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class Registry:
    """Served types by URL coordinates and by kind; changes bump ``generation``."""

    def __init__(self) -> None:
        self._by_url: dict[tuple[str, str, str], types.ResourceType] = {}
        self._by_kind: dict[tuple[str, str], list[types.ResourceType]] = {}
        self._custom: dict[str, list[types.ResourceType]] = {}  # CRD name -> types
        self._printer_columns: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        # Bumped on every change so discovery documents can be cached per value.
        self.generation = 0
        for rtype in catalog.BUILTIN:
            self._add(rtype)

    def _add(self, rtype: types.ResourceType) -> None:
        self._by_url[(rtype.group, rtype.version, rtype.plural)] = rtype
        self._by_kind.setdefault((rtype.group, rtype.kind), []).append(rtype)
        self.generation += 1

    def _remove(self, rtype: types.ResourceType) -> None:
        self._by_url.pop((rtype.group, rtype.version, rtype.plural), None)
        same_kind = self._by_kind.get((rtype.group, rtype.kind), [])
        if rtype in same_kind:
            same_kind.remove(rtype)
        if not same_kind:
            self._by_kind.pop((rtype.group, rtype.kind), None)
        self.generation += 1

    def lookup(self, group: str, version: str, plural: str) -> types.ResourceType | None:
        return self._by_url.get((group, version, plural))

    def by_kind(self, group: str, kind: str) -> types.ResourceType | None:
        """The storage (first served) version of a kind."""
        found = self._by_kind.get((group, kind))
        return found[0] if found else None

    def all(self) -> Iterator[types.ResourceType]:
        return iter(tuple(self._by_url.values()))

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions, preferred first (core group is "")."""
        out: dict[str, list[str]] = {}
        for group, version, _ in self._by_url:
            versions = out.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        for versions in out.values():
            versions.sort(key=_version_priority)
        return out

    def serve_crd(self, crd: Mapping[str, Any]) -> list[types.ResourceType]:
        name = crd["metadata"]["name"]
        self.unserve_crd(name)
        spec = crd["spec"]
        names = spec["names"]
        served: list[types.ResourceType] = []
        ordered = sorted(
            spec["versions"], key=lambda v: (not v.get("storage"), _version_priority(v["name"]))
        )
        for version in ordered:
            if not version.get("served", True):
                continue
            subresources = version.get("subresources") or {}
            rtype = types.ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(s for s in ("status", "scale") if s in subresources),
                crd_schema=(version.get("schema") or {}).get("openAPIV3Schema")
                or {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            )
            self._add(rtype)
            served.append(rtype)
        self._custom[name] = served
        return served

    def unserve_crd(self, name: str) -> list[types.ResourceType]:
        removed = self._custom.pop(name, [])
        for rtype in removed:
            self._remove(rtype)
        return removed

    def custom_types(self, crd_name: str) -> list[types.ResourceType]:
        return list(self._custom.get(crd_name, []))

    def printer_columns(self, rtype: types.ResourceType) -> list[dict[str, Any]]:
        return list(self._printer_columns.get((rtype.group, rtype.version, rtype.plural), []))

    def set_printer_columns(self, crd: Mapping[str, Any]) -> None:
        spec = crd["spec"]
        for version in spec["versions"]:
            key = (spec["group"], version["name"], spec["names"]["plural"])
            self._printer_columns[key] = list(version.get("additionalPrinterColumns") or [])


def _version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if match is None:
        return (3, 0, 0, version)
    major = int(match.group(1))
    stage = {"alpha": 2, "beta": 1, None: 0}[match.group(2)]
    minor = int(match.group(3) or 0)
    return (stage, -major, -minor, version)


_CRD_TYPE = types.ResourceType(
    group=CRD_GROUP,
    version="v1",
    kind="CustomResourceDefinition",
    plural="customresourcedefinitions",
    singular="customresourcedefinition",
    namespaced=False,
)


def check_crd(crd: Mapping[str, Any], registry: Registry) -> None:
    """Raise 422 Invalid for a CRD kube-apiserver would refuse."""
    name = str(crd["metadata"].get("name") or "")
    spec = crd.get("spec")
    causes: list[validating.Cause] = []

    def required(field: str) -> None:
        causes.append(validating.Cause("FieldValueRequired", field, "Required value"))

    if not isinstance(spec, Mapping):
        required("spec")
        raise validating.invalid(_CRD_TYPE, name, causes)
    group = spec.get("group")
    names = spec.get("names")
    if not isinstance(group, str) or not group:
        required("spec.group")
    elif "." not in group:
        causes.append(
            validating.Cause(
                "FieldValueInvalid",
                "spec.group",
                f'Invalid value: "{group}": should be a domain with at least one dot',
            )
        )
    if not isinstance(names, Mapping):
        required("spec.names")
    else:
        if not names.get("plural"):
            required("spec.names.plural")
        if not names.get("kind"):
            required("spec.names.kind")
        if not names.get("listKind") and names.get("kind"):
            pass  # defaulted to <kind>List by the apiserver
        if isinstance(group, str) and names.get("plural") and name != f"{names['plural']}.{group}":
            causes.append(
                validating.Cause(
                    "FieldValueInvalid",
                    "metadata.name",
                    f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                )
            )
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        causes.append(
            validating.Cause(
                "FieldValueNotSupported",
                "spec.scope",
                f'Unsupported value: "{scope}": supported values: "Cluster", "Namespaced"',
            )
        )
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        causes.append(
            validating.Cause(
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    else:
        storage = [v for v in versions if isinstance(v, Mapping) and v.get("storage")]
        if len(storage) != 1:
            causes.append(
                validating.Cause(
                    "FieldValueInvalid",
                    "spec.versions",
                    "Invalid value: "
                    + _short(versions)
                    + ": must have exactly one version marked as storage version",
                )
            )
        for i, version in enumerate(versions):
            if not isinstance(version, Mapping) or not version.get("name"):
                required(f"spec.versions[{i}].name")
                continue
            schema = version.get("schema")
            if not isinstance(schema, Mapping) or not isinstance(
                schema.get("openAPIV3Schema"), Mapping
            ):
                required(f"spec.versions[{i}].schema.openAPIV3Schema")
    if not causes and isinstance(group, str) and isinstance(names, Mapping):
        existing = registry.by_kind(group, str(names.get("kind")))
        if existing is not None and not existing.is_custom:
            causes.append(
                validating.Cause(
                    "FieldValueInvalid",
                    "spec.names.kind",
                    "Invalid value: clashes with a built-in kind",
                )
            )
    if causes:
        raise validating.invalid(_CRD_TYPE, name, causes)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def with_defaults(crd: dict[str, Any]) -> dict[str, Any]:
    """Fill the spec fields kube-apiserver defaults (listKind, singular, conversion)."""
    spec = crd["spec"]
    names = spec["names"]
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    for version in spec["versions"]:
        version.setdefault("served", True)
    return crd
