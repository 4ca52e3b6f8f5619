"""Discovery documents: ``/api``, ``/apis``, group versions, aggregated v2, ``/version``.

Built from the :class:`crds.Registry` on request (and cached per registry
generation by :mod:`.serving`), in the shapes kube-apiserver 1.37 answers:
legacy ``APIVersions``/``APIGroupList``/``APIResourceList``, and the aggregated
``apidiscovery.k8s.io/v2`` ``APIGroupDiscoveryList`` kubectl prefers.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from gitward.testing.kubeapi import crds, types

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

VERSION_INFO = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.1-gitward",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _storage_hash(rtype: types.ResourceType) -> str:
    digest = hashlib.sha256(f"{rtype.group_version}/{rtype.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _sub_verbs(sub: str) -> list[str]:
    return ["get", "patch", "update"]


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_entry(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: crds.Registry) -> dict[str, Any]:
    groups = [
        _group_entry(name, versions)
        for name, versions in sorted(registry.groups().items(), key=lambda kv: _group_order(kv[0]))
        if name
    ]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: crds.Registry, group: str) -> dict[str, Any] | None:
    versions = registry.groups().get(group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def _group_order(group: str) -> tuple[int, str]:
    # kube-apiserver lists built-in groups first, then CRD groups by name.
    builtin = (
        "",
        "apps",
        "batch",
        "autoscaling",
        "networking.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
    )
    return (builtin.index(group), "") if group in builtin else (len(builtin), group)


def _of_group_version(
    registry: crds.Registry, group: str, version: str
) -> list[types.ResourceType]:
    return sorted(
        (t for t in registry.all() if t.group == group and t.version == version),
        key=lambda t: t.plural,
    )


def api_resource_list(registry: crds.Registry, group: str, version: str) -> dict[str, Any] | None:
    served = _of_group_version(registry, group, version)
    if not served:
        return None
    resources: list[dict[str, Any]] = []
    for rtype in served:
        entry: dict[str, Any] = {
            "name": rtype.plural,
            "singularName": rtype.singular,
            "namespaced": rtype.namespaced,
            "kind": rtype.kind,
            "verbs": list(rtype.verbs),
        }
        if rtype.short_names:
            entry["shortNames"] = list(rtype.short_names)
        if rtype.categories:
            entry["categories"] = list(rtype.categories)
        entry["storageVersionHash"] = _storage_hash(rtype)
        resources.append(entry)
        for sub in rtype.subresources:
            sub_entry: dict[str, Any] = {
                "name": f"{rtype.plural}/{sub}",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": "Scale" if sub == "scale" else rtype.kind,
                "verbs": _sub_verbs(sub),
            }
            if sub == "scale":
                sub_entry["group"] = "autoscaling"
                sub_entry["version"] = "v1"
            resources.append(sub_entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _discovery_resource(rtype: types.ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rtype.plural,
        "responseKind": {"group": rtype.group, "version": rtype.version, "kind": rtype.kind},
        "scope": "Namespaced" if rtype.namespaced else "Cluster",
        "singularResource": rtype.singular,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    subs = []
    for sub in rtype.subresources:
        kind = (
            {"group": "autoscaling", "version": "v1", "kind": "Scale"}
            if sub == "scale"
            else {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
        )
        subs.append({"subresource": sub, "responseKind": kind, "verbs": _sub_verbs(sub)})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(
    registry: crds.Registry, *, core: bool, api_version: str = "apidiscovery.k8s.io/v2"
) -> dict[str, Any]:
    """``APIGroupDiscoveryList`` of the core group (``/api``) or all named groups (``/apis``)."""
    items = []
    for group, versions in sorted(registry.groups().items(), key=lambda kv: _group_order(kv[0])):
        if bool(group) == core:
            continue
        version_entries = [
            {
                "version": version,
                "resources": [
                    _discovery_resource(t) for t in _of_group_version(registry, group, version)
                ],
                "freshness": "Current",
            }
            for version in versions
        ]
        metadata: dict[str, Any] = {"name": group} if group else {}
        metadata["creationTimestamp"] = None
        items.append({"metadata": metadata, "versions": version_entries})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": api_version,
        "metadata": {},
        "items": items,
    }


def group_versions(registry: crds.Registry) -> Iterable[tuple[str, str]]:
    for group, versions in registry.groups().items():
        for version in versions:
            yield group, version
