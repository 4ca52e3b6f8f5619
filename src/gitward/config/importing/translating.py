"""The entry point of ``gitward import``: foreign documents → :class:`results.Imported`.

Called by ``engine.importing`` with every document read from files or a
cluster. Documents of kinds that are neither Argo CD's nor Flux's are
ignored (a directory of mixed manifests imports cleanly); unknown versions of
known kinds are translated with a note. Every gitward document produced is
validated by the same schema the agent uses, so what is written loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gitward import errors
from gitward.config import applications, appsets
from gitward.config.importing import argocd, flux, results

ARGOCD_GROUP = "argoproj.io"
FLUX_GROUPS = {
    "source.toolkit.fluxcd.io": flux.SOURCES,
    "kustomize.toolkit.fluxcd.io": ("Kustomization",),
    "helm.toolkit.fluxcd.io": ("HelmRelease",),
}
KINDS: tuple[tuple[str, str], ...] = (
    (ARGOCD_GROUP, "Application"),
    (ARGOCD_GROUP, "ApplicationSet"),
    (ARGOCD_GROUP, "AppProject"),
    *((group, kind) for group, kinds in FLUX_GROUPS.items() for kind in kinds),
)


def _group_kind(document: Mapping[str, Any]) -> tuple[str, str]:
    api_version = str(document.get("apiVersion") or "")
    return api_version.rpartition("/")[0], str(document.get("kind") or "")


def translate(documents: Iterable[Mapping[str, Any]]) -> results.Imported:
    """Translate every Argo CD and Flux document; the rest is ignored."""
    result = results.Imported()
    known = [d for d in documents if isinstance(d, Mapping) and _group_kind(d) in KINDS]
    sources: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for document in known:
        group, kind = _group_kind(document)
        if group == "source.toolkit.fluxcd.io":
            meta = document.get("metadata") or {}
            sources[(kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))] = (
                document
            )
    used: set[tuple[str, str, str]] = set()
    for document in known:
        group, kind = _group_kind(document)
        if group == ARGOCD_GROUP:
            _argocd(document, kind, result)
        elif kind == "Kustomization":
            _keep(flux.kustomization(document, sources, result), result, document)
            used.add(_ref_key(document, (document.get("spec") or {}).get("sourceRef")))
        elif kind == "HelmRelease":
            spec = document.get("spec") or {}
            chart = (spec.get("chart") or {}).get("spec") or {}
            _keep(flux.helm_release(document, sources, result), result, document)
            used.add(_ref_key(document, chart.get("sourceRef") or spec.get("chartRef")))
    for key, document in sources.items():
        if key not in used:
            result.note(
                results.where(document),
                "metadata.name",
                "no Kustomization or HelmRelease uses it: nothing to translate",
            )
    return result


def _ref_key(document: Mapping[str, Any], ref: Any) -> tuple[str, str, str]:
    ref = ref if isinstance(ref, Mapping) else {}
    namespace = ref.get("namespace") or (document.get("metadata") or {}).get("namespace") or ""
    return (str(ref.get("kind") or "GitRepository"), str(namespace), str(ref.get("name") or ""))


def _argocd(document: Mapping[str, Any], kind: str, result: results.Imported) -> None:
    if kind == "Application":
        _keep(argocd.application(document, result), result, document)
    elif kind == "AppProject":
        _keep(argocd.project(document, result), result, document)
    else:
        _keep(argocd.application_set(document, result), result, document)


def _keep(
    translated: dict[str, Any] | None, result: results.Imported, document: Mapping[str, Any]
) -> None:
    """Validate ``translated`` with gitward's own schema and keep it, or note why not."""
    if translated is None:
        return
    kind = translated["kind"]
    origin = results.where(document)
    try:
        if kind == "Application":
            applications.parse(translated, origin)
            result.applications.append(translated)
        elif kind == "Project":
            applications.parse_project(translated, origin)
            result.projects.append(translated)
        else:
            appsets.parse(translated, origin)
            result.application_sets.append(translated)
    except errors.ConfigError as exc:
        result.note(origin, "(document)", f"the translation is not a valid gitward {kind}: {exc}")
