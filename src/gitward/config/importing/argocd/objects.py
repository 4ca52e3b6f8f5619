"""What every Argo CD kind translates alike: its metadata (Argo CD's own
annotations dropped, with a note) and a destination (``server`` or ``name``)
as a gitward target. Used by ``applications``, ``projects`` and ``appsets``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gitward.config.importing import results


def target_of(destination: Mapping[str, Any], result: results.Imported, source: str) -> str:
    """The gitward target for an Argo CD destination (``server`` or ``name``),
    declared in the imported ``gitward.yaml`` entries as a reference."""
    name = str(destination.get("name") or "")
    server = str(destination.get("server") or "")
    if name == results.IN_CLUSTER or (not name and server == results.IN_CLUSTER_SERVER):
        result.add_target(results.IN_CLUSTER, {"inCluster": True})
        return results.IN_CLUSTER
    if not name:
        host = re.sub(r"^https?://", "", server).split("/")[0].split(":")[0]
        name = re.sub(r"[^a-z0-9-]+", "-", host.lower()).strip("-") or "cluster"
        result.note(
            source,
            "spec.destination.server",
            f"cluster {server} became target {name!r}: set its kubeconfig and context in "
            "gitward.yaml (Argo CD's cluster Secret is not read)",
        )
    elif name not in result.targets:
        result.note(
            source,
            "spec.destination.name",
            f"target {name!r}: its kubeconfig context is assumed to be called {name!r}; "
            "adjust gitward.yaml",
        )
    result.add_target(name, {"kubeconfig": "", "context": name})
    return name


def metadata(
    document: Mapping[str, Any], result: results.Imported, source: str, project: str | None
) -> dict[str, Any]:
    meta = document.get("metadata") or {}
    out: dict[str, Any] = {"name": meta.get("name")}
    if project is not None:
        out["project"] = project
    if meta.get("labels"):
        out["labels"] = dict(meta["labels"])
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if "argoproj.io" not in k
    }
    for key in meta.get("annotations") or {}:
        if "argoproj.io" in key:
            result.note(
                source, f"metadata.annotations[{key}]", "Argo CD's own annotation: not kept"
            )
    if annotations:
        out["annotations"] = annotations
    return out
