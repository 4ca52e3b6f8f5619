"""An Argo CD ``Application`` → a gitward Application: source, destination,
sync policy, ignored differences. :func:`app_spec` also translates an
ApplicationSet's template (``appsets``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.config.importing import results
from gitward.config.importing.argocd import objects, sources

# Field managers Argo CD writes with (server-side apply, client-side apply):
# an imported Application may take their fields over without force.
MANAGERS = ("argocd-controller", "argocd-application-controller")
_IGNORE_FIELDS = ("group", "kind", "name", "namespace", "jsonPointers", "managedFieldsManagers")


def _sync_policy(
    policy: Mapping[str, Any], result: results.Imported, source: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"takeOverFrom": [*results.DEFAULT_TAKE_OVER, *MANAGERS]}
    automated = policy.get("automated")
    if isinstance(automated, Mapping) and automated.get("enabled", True):
        out["automated"] = {
            "prune": bool(automated.get("prune", False)),
            "selfHeal": bool(automated.get("selfHeal", False)),
            "allowEmpty": bool(automated.get("allowEmpty", False)),
        }
    for option in policy.get("syncOptions") or []:
        name, _, value = str(option).partition("=")
        if name == "CreateNamespace" and value.lower() == "true":
            out["createNamespace"] = True
        elif name == "ServerSideApply":
            pass  # gitward always applies server-side
        elif name == "PrunePropagationPolicy" and value.lower() == "foreground":
            pass  # gitward's propagation
        else:
            result.note(
                source,
                f"spec.syncPolicy.syncOptions[{option}]",
                "not an Application option in gitward (per-object sync-options annotations "
                "are honoured as they are)",
            )
    retry = policy.get("retry")
    if isinstance(retry, Mapping):
        translated: dict[str, Any] = {}
        limit = retry.get("limit")
        if isinstance(limit, int) and limit >= 0:
            translated["limit"] = limit
        elif limit is not None:
            result.note(source, "spec.syncPolicy.retry.limit", f"{limit}: gitward needs >= 0")
        backoff = retry.get("backoff")
        if isinstance(backoff, Mapping):
            translated["backoff"] = {
                key: backoff[key] for key in ("duration", "factor", "maxDuration") if key in backoff
            }
        out["retry"] = translated
    result.note_unhandled(
        source,
        "spec.syncPolicy",
        policy,
        {"automated", "syncOptions", "retry"},
        {"managedNamespaceMetadata": "namespaces gitward creates carry no extra metadata"},
    )
    return out


def app_spec(
    spec: Mapping[str, Any],
    result: results.Imported,
    source: str,
    finalizers: list[str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """(project, gitward Application spec) for an Argo CD Application spec."""
    out = sources.translate(spec, result, source)
    destination = spec.get("destination") or {}
    out["destination"] = {
        "target": objects.target_of(destination, result, source),
        "namespace": str(destination.get("namespace") or "default"),
    }
    out["syncPolicy"] = _sync_policy(spec.get("syncPolicy") or {}, result, source)
    if "resources-finalizer.argocd.argoproj.io" in (finalizers or []):
        out["syncPolicy"]["cascadeDelete"] = True
    ignores = []
    for index, rule in enumerate(spec.get("ignoreDifferences") or []):
        kept = {key: rule[key] for key in _IGNORE_FIELDS if key in rule}
        if rule.get("jqPathExpressions"):
            result.note(
                source,
                f"spec.ignoreDifferences[{index}].jqPathExpressions",
                "jq paths are not supported: rewrite them as jsonPointers",
            )
        if set(kept) - {"group", "kind", "name", "namespace"}:
            ignores.append(kept)
    if ignores:
        out["ignoreDifferences"] = ignores
    result.note_unhandled(
        source,
        "spec",
        spec,
        {"source", "sources", "destination", "syncPolicy", "ignoreDifferences", "project"},
        {
            "revisionHistoryLimit": "gitward keeps every operation in its store",
            "info": "informational links are not kept",
        },
    )
    return str(spec.get("project") or "default"), out


def application(document: Mapping[str, Any], result: results.Imported) -> dict[str, Any]:
    source = results.where(document)
    finalizers = list((document.get("metadata") or {}).get("finalizers") or [])
    project, spec = app_spec(document.get("spec") or {}, result, source, finalizers)
    return {
        "apiVersion": "gitward.dev/v1",
        "kind": "Application",
        "metadata": objects.metadata(document, result, source, project),
        "spec": spec,
    }
