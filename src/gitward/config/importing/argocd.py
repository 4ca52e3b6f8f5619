"""Argo CD ``Application``, ``AppProject`` and ``ApplicationSet`` → gitward.

Called by ``translating``. Every field is either translated or noted (see
``results.Note``): each mapping is walked key by key, and a key without a
translation below is reported with the reason, never dropped silently.
Argo CD's own objects stay in the cluster it manages: an imported
Application adopts the live objects at its next sync (``docs/migrating.md``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from gitward.config.importing import results

# Field managers Argo CD writes with (server-side apply, client-side apply):
# an imported Application may take their fields over without force.
MANAGERS = ("argocd-controller", "argocd-application-controller")
_IGNORE_FIELDS = ("group", "kind", "name", "namespace", "jsonPointers", "managedFieldsManagers")


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


def _source(spec: Mapping[str, Any], result: results.Imported, source: str) -> dict[str, Any]:
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
    out = _source(spec, result, source)
    destination = spec.get("destination") or {}
    out["destination"] = {
        "target": target_of(destination, result, source),
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


def _metadata(
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


def application(document: Mapping[str, Any], result: results.Imported) -> dict[str, Any]:
    source = results.where(document)
    finalizers = list((document.get("metadata") or {}).get("finalizers") or [])
    project, spec = app_spec(document.get("spec") or {}, result, source, finalizers)
    return {
        "apiVersion": "gitward.dev/v1",
        "kind": "Application",
        "metadata": _metadata(document, result, source, project),
        "spec": spec,
    }


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
                else target_of(destination, result, source),
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
        "metadata": _metadata(document, result, source, None),
        "spec": out,
    }


# --- ApplicationSets --------------------------------------------------------------------

_FAST = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_GO_FIELD = re.compile(r"^\.([A-Za-z_][\w.]*)$")


def _rename(kinds: set[str]) -> Callable[[str], str | None]:
    """How a parameter of Argo CD's generators is spelled in gitward (None: no equivalent)."""

    def rename(name: str) -> str | None:
        segment = re.fullmatch(r"path\[(\d+)\]", name)
        if segment:
            return f"path.segments[{segment.group(1)}]"
        if "git" in kinds and name == "path":
            return "path.path"
        if "clusters" in kinds:
            if name in ("name", "nameNormalized"):
                return "target.name"
            if name.startswith("metadata.labels."):
                return "target.labels." + name[len("metadata.labels.") :]
            if name == "server" or name.startswith("metadata.annotations."):
                return None
        if not re.fullmatch(r"[A-Za-z_][\w.]*(\[\d+\])?", name):
            return None
        return name

    return rename


def _placeholders(value: Any, rename: Callable[[str], str | None], go: bool, bad: set[str]) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if go:
                field = _GO_FIELD.match(inner)
                if field is None:
                    bad.add(match.group(0))
                    return match.group(0)
                inner = field.group(1)
            renamed = rename(inner)
            if renamed is None:
                bad.add(match.group(0))
                return match.group(0)
            return "{{" + renamed + "}}"

        return _FAST.sub(replace, value)
    if isinstance(value, Mapping):
        return {k: _placeholders(v, rename, go, bad) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, rename, go, bad) for v in value]
    return value


def _generator(
    generator: Mapping[str, Any], result: results.Imported, source: str, kinds: set[str]
) -> dict[str, Any] | None:
    if "list" in generator:
        kinds.add("list")
        return {"list": {"elements": list(generator["list"].get("elements") or [])}}
    if "clusters" in generator:
        kinds.add("clusters")
        selector = (generator["clusters"] or {}).get("selector") or {}
        return {"targets": {"selector": dict(selector)}}
    if "git" in generator:
        kinds.add("git")
        git = generator["git"]
        base = {"repoURL": git.get("repoURL"), "ref": str(git.get("revision") or "HEAD")}
        if git.get("files"):
            return {"gitFiles": {**base, "files": [dict(f) for f in git["files"]]}}
        return {
            "gitDirectories": {
                **base,
                "directories": [dict(d) for d in git.get("directories") or []],
            }
        }
    for name in ("matrix", "merge"):
        if name in generator:
            inner = [
                _generator(g, result, source, kinds)
                for g in (generator[name] or {}).get("generators") or []
            ]
            if any(g is None for g in inner):
                return None
            out: dict[str, Any] = {"generators": inner}
            if name == "merge":
                out["mergeKeys"] = list(generator[name].get("mergeKeys") or [])
            return {name: out}
    result.note(
        source,
        f"spec.generators[{', '.join(generator)}]",
        "this generator has no gitward equivalent (list, clusters, git, matrix, merge do)",
    )
    return None


def application_set(document: Mapping[str, Any], result: results.Imported) -> dict[str, Any] | None:
    """The gitward ApplicationSet (issue 16's shape), or None (noted) when a
    generator or a template placeholder has no equivalent."""
    source = results.where(document)
    spec = document.get("spec") or {}
    kinds: set[str] = set()
    generators = [_generator(g, result, source, kinds) for g in spec.get("generators") or []]
    if not generators or any(g is None for g in generators):
        result.note(source, "spec.generators", "ApplicationSet not translated")
        return None
    template = spec.get("template") or {}
    _, app = app_spec(template.get("spec") or {}, result, source)
    meta = dict(template.get("metadata") or {})
    bad: set[str] = set()
    rename = _rename(kinds)
    go = bool(spec.get("goTemplate"))
    translated = _placeholders({"metadata": meta, "spec": app}, rename, go, bad)
    if bad:
        result.note(
            source,
            "spec.template",
            f"placeholders without a gitward equivalent: {', '.join(sorted(bad))}; "
            "ApplicationSet not translated",
        )
        return None
    translated["metadata"]["project"] = str(
        (template.get("spec") or {}).get("project") or "default"
    )
    out: dict[str, Any] = {"generators": generators, "template": translated}
    policy = spec.get("syncPolicy") or {}
    if policy.get("preserveResourcesOnDeletion") is False:
        out["syncPolicy"] = {"cascadeDelete": True}
    if policy.get("applicationsSync") in ("create-update", "create-only"):
        out.setdefault("syncPolicy", {})["applicationsSync"] = "create-update"
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "RollingSync":
        steps = (strategy.get("rollingSync") or {}).get("steps") or []
        out["strategy"] = {
            "rollingSync": {
                "steps": [
                    {
                        "matchExpressions": list(step.get("matchExpressions") or []),
                        **({"maxUpdate": step["maxUpdate"]} if "maxUpdate" in step else {}),
                    }
                    for step in steps
                ]
            }
        }
    result.note_unhandled(
        source,
        "spec",
        spec,
        {"generators", "template", "goTemplate", "syncPolicy", "strategy"},
        {
            "goTemplateOptions": "gitward templates always fail on a missing parameter",
            "templatePatch": "patch the template itself",
            "ignoreApplicationDifferences": "generated Applications are not edited by hand",
            "preservedFields": "generated Applications are not edited by hand",
        },
    )
    return {
        "apiVersion": "gitward.dev/v1",
        "kind": "ApplicationSet",
        "metadata": _metadata(document, result, source, None),
        "spec": out,
    }
