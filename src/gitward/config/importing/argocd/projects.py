"""An Argo CD ``AppProject`` → a gitward Project."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.config.importing import results
from gitward.config.importing.argocd import objects


def project(document: Mapping[str, Any], result: results.Imported) -> dict[str, Any]:
    source = results.where(document)
    spec = document.get("spec") or {}
    out: dict[str, Any] = {}
    if spec.get("description"):
        out["description"] = spec["description"]
    if "sourceRepos" in spec:
        out["sourceRepos"] = list(spec.get("sourceRepos") or [])
    if "destinations" in spec:
        out["destinations"] = [
            {
                "target": "*"
                if destination.get("server") == "*" or destination.get("name") == "*"
                else objects.target_of(destination, result, source),
                "namespace": str(destination.get("namespace") or "*"),
            }
            for destination in spec.get("destinations") or []
        ]
    if "clusterResourceWhitelist" in spec:
        out["clusterResourceWhitelist"] = [
            {"group": str(item.get("group", "")), "kind": str(item.get("kind", ""))}
            for item in spec.get("clusterResourceWhitelist") or []
        ]
    else:
        out["clusterResourceWhitelist"] = []  # Argo CD: none unless listed
    result.note_unhandled(
        source,
        "spec",
        spec,
        {"description", "sourceRepos", "destinations", "clusterResourceWhitelist"},
        {
            "roles": "API access is by gitward tokens with per-Project roles",
            "syncWindows": "gitward has no sync windows",
            "namespaceResourceBlacklist": "Projects limit cluster-scoped kinds only",
            "namespaceResourceWhitelist": "Projects limit cluster-scoped kinds only",
            "clusterResourceBlacklist": "write the allowed kinds in clusterResourceWhitelist",
            "orphanedResources": "gitward warns about objects carrying its label only",
            "signatureKeys": "name the keys in gitward.yaml signingKeys and set signatureKeyRef",
            "sourceNamespaces": "Applications in any namespace are not a gitward concept",
        },
    )
    return {
        "apiVersion": "gitward.dev/v1",
        "kind": "Project",
        "metadata": objects.metadata(document, result, source, None),
        "spec": out,
    }
