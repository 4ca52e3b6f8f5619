"""An Argo CD Application's ``source`` or ``sources`` → gitward's source(s) and
render options (Helm, Kustomize, directory or Jsonnet). Used by
``applications``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.config.importing import results


def _helm(helm: Mapping[str, Any], result: results.Imported, source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    prefix = "spec.source.helm"
    if helm.get("releaseName"):
        out["releaseName"] = helm["releaseName"]
    if helm.get("valueFiles"):
        out["valueFiles"] = list(helm["valueFiles"])
    values: dict[str, Any] = {}
    if isinstance(helm.get("values"), str) and helm["values"].strip():
        import yaml

        loaded = yaml.safe_load(helm["values"])
        if isinstance(loaded, Mapping):
            values.update(loaded)
        else:
            result.note(source, f"{prefix}.values", "not a YAML mapping; not translated")
    if isinstance(helm.get("valuesObject"), Mapping):
        values.update(helm["valuesObject"])
    if values:
        out["values"] = values
    sets = []
    for parameter in helm.get("parameters") or []:
        value = str(parameter.get("value", ""))
        sets.append(f"{parameter.get('name')}={value}")
        if parameter.get("forceString"):
            result.note(
                source,
                f"{prefix}.parameters[{parameter.get('name')}].forceString",
                "gitward's set follows --set typing; quote the value in values instead",
            )
    if sets:
        out["set"] = sets
    if helm.get("skipCrds"):
        out["includeCRDs"] = False
    if helm.get("kubeVersion"):
        out["kubeVersion"] = helm["kubeVersion"]
    if helm.get("apiVersions"):
        out["apiVersions"] = list(helm["apiVersions"])
    result.note_unhandled(
        source,
        prefix,
        helm,
        {
            "releaseName",
            "valueFiles",
            "values",
            "valuesObject",
            "parameters",
            "skipCrds",
            "kubeVersion",
            "apiVersions",
            "version",
        },
        {
            "fileParameters": "values from files by key: put them in a values file",
            "ignoreMissingValueFiles": "gitward refuses a missing values file",
            "passCredentials": "renders have no network: dependencies are vendored",
            "namespace": "the release namespace is the destination namespace",
            "skipTests": "gitward never runs Helm test hooks (planned as skips)",
        },
    )
    return out


def _kustomize(
    kustomize: Mapping[str, Any], result: results.Imported, source: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("namePrefix", "nameSuffix", "namespace", "commonLabels", "commonAnnotations"):
        if kustomize.get(name):
            out[name] = kustomize[name]
    if kustomize.get("images"):
        out["images"] = [str(image) for image in kustomize["images"]]
    result.note_unhandled(
        source,
        "spec.source.kustomize",
        kustomize,
        {*out, "version", "images"},
        {
            "patches": "put the patches in a kustomization.yaml overlay",
            "components": "list the components in a kustomization.yaml overlay",
            "replicas": "set replicas in a kustomization.yaml overlay",
        },
    )
    return out


def _directory(
    directory: Mapping[str, Any], result: results.Imported, source: str
) -> tuple[str, dict[str, Any]]:
    prefix = "spec.source.directory"
    walk = {key: directory[key] for key in ("recurse", "include", "exclude") if key in directory}
    if "recurse" not in walk:
        walk["recurse"] = False  # Argo CD's default
    for key in ("include", "exclude"):
        if isinstance(walk.get(key), str):
            walk[key] = [walk[key]] if walk[key] else []
    result.note_unhandled(source, prefix, directory, {"recurse", "include", "exclude", "jsonnet"})
    jsonnet = directory.get("jsonnet")
    if not isinstance(jsonnet, Mapping) or not jsonnet:
        return "directory", walk
    options: dict[str, Any] = dict(walk)
    for argo_name, name in (("tlas", "tlas"), ("extVars", "extVars")):
        arguments: dict[str, Any] = {}
        for item in jsonnet.get(argo_name) or []:
            value: Any = item.get("value", "")
            if item.get("code"):
                import json

                try:
                    value = json.loads(str(value))
                except ValueError:
                    result.note(
                        source,
                        f"{prefix}.jsonnet.{argo_name}[{item.get('name')}]",
                        "Jsonnet code that is not a JSON value: not translated",
                    )
                    continue
            arguments[str(item.get("name"))] = value
        if arguments:
            options[name] = arguments
    if jsonnet.get("libs"):
        options["libs"] = list(jsonnet["libs"])
    result.note_unhandled(source, f"{prefix}.jsonnet", jsonnet, {"tlas", "extVars", "libs"})
    return "jsonnet", options


def _one_source(
    argo: Mapping[str, Any], result: results.Imported, source: str, prefix: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(gitward source, render options) of one Argo CD source."""
    if argo.get("chart"):
        # A chart from a Helm repository: gitward's chart source.
        translated: dict[str, Any] = {
            "repoURL": argo.get("repoURL", ""),
            "chart": str(argo["chart"]),
            "version": str(argo.get("targetRevision") or ""),
        }
        if translated["version"] in ("*", "HEAD"):
            translated["version"] = ""
    else:
        translated = {
            "repoURL": argo.get("repoURL", ""),
            "ref": str(argo.get("targetRevision") or "HEAD"),
            "path": str(argo.get("path") or ""),
        }
    if argo.get("ref"):
        # Argo CD's `ref` names a source for `$name/...` values files: gitward's `name`.
        translated["name"] = str(argo["ref"])
    render: dict[str, Any] = {}
    if isinstance(argo.get("helm"), Mapping):
        render["helm"] = _helm(argo["helm"], result, source)
    if isinstance(argo.get("kustomize"), Mapping):
        render["kustomize"] = _kustomize(argo["kustomize"], result, source)
    if isinstance(argo.get("directory"), Mapping):
        kind, options = _directory(argo["directory"], result, source)
        render[kind] = options
    if len(render) > 1:
        chosen = next(iter(render))
        result.note(source, prefix, f"several render types: only {chosen} is kept")
        render = {chosen: render[chosen]}
    result.note_unhandled(
        source,
        prefix,
        argo,
        {"repoURL", "targetRevision", "path", "chart", "helm", "kustomize", "directory", "ref"},
        {"plugin": "config management plugins do not exist in gitward"},
    )
    return translated, render


def translate(spec: Mapping[str, Any], result: results.Imported, source: str) -> dict[str, Any]:
    """source (or sources) and render of an Application spec."""
    if spec.get("sources"):
        entries = []
        for index, argo in enumerate(spec["sources"]):
            translated, render = _one_source(argo, result, source, f"spec.sources[{index}]")
            if render:
                translated["render"] = render
            entries.append(translated)
        return {"sources": entries}
    translated, render = _one_source(spec.get("source") or {}, result, source, "spec.source")
    out: dict[str, Any] = {"source": translated}
    if render:
        out["render"] = render
    return out
