"""Flux ``GitRepository``, ``OCIRepository``, ``HelmRepository``, ``Kustomization``
and ``HelmRelease`` → gitward Applications (and ``gitward.yaml`` entries).

Called by ``translating`` with every Flux source indexed by (kind, namespace,
name), so a Kustomization or HelmRelease finds the repository its
``sourceRef`` names. Flux reconciles continuously and prunes when asked, so
imported Applications are automated with ``selfHeal``. Sources become
repository credentials entries (references to environment variables named
after the Secret, never its value); fields without an equivalent are noted.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from gitward.config.importing import results

SOURCES = ("GitRepository", "OCIRepository", "HelmRepository")
KUSTOMIZE_MANAGER = "kustomize-controller"
HELM_MANAGER = "helm-controller"

Sources = Mapping[tuple[str, str, str], Mapping[str, Any]]


def _ref(ref: Mapping[str, Any], result: results.Imported, source: str) -> str:
    for key in ("commit", "name", "semver", "tag", "branch"):  # Flux's precedence
        if ref.get(key):
            value = str(ref[key])
            return value.removeprefix("refs/heads/") if key == "name" else value
    return "HEAD"


def git_repository(document: Mapping[str, Any], result: results.Imported) -> dict[str, str]:
    """(repoURL, ref) of a GitRepository; its Secret becomes a credentials entry."""
    source = results.where(document)
    spec = document.get("spec") or {}
    meta = document.get("metadata") or {}
    url = str(spec.get("url") or "")
    secret = (spec.get("secretRef") or {}).get("name")
    if secret:
        variable = results.env_name(str(meta.get("namespace") or ""), str(secret))
        if url.startswith("ssh://") or "@" in url.split("://")[-1].split("/")[0]:
            entry = {
                "url": url,
                "sshKeyFile": f"/run/secrets/{secret}/identity",
                "knownHostsFile": f"/run/secrets/{secret}/known_hosts",
            }
            how = f"the Secret's identity and known_hosts as files under /run/secrets/{secret}/"
        else:
            entry = {"url": url, "username": "git", "passwordEnv": f"{variable}_PASSWORD"}
            how = f"its username in gitward.yaml and its password in ${variable}_PASSWORD"
        result.add_repository(entry)
        result.note(source, "spec.secretRef", f"Secret {secret!r} is referenced: provide {how}")
    if spec.get("verify"):
        result.note(
            source,
            "spec.verify",
            "name the keys in gitward.yaml signingKeys and set spec.source.verify.keyRef",
        )
    result.note_unhandled(
        source,
        "spec",
        spec,
        {"url", "ref", "secretRef", "verify", "interval", "timeout", "suspend"},
        {
            "ignore": "gitward renders the Application's path only; .sourceignore is not read",
            "include": "include other repositories as Applications of their own",
            "recurseSubmodules": "submodules are not fetched",
            "proxySecretRef": "proxies are configured in the agent's environment",
        },
    )
    return {"repoURL": url, "ref": _ref(spec.get("ref") or {}, result, source)}


def _source_of(
    document: Mapping[str, Any],
    ref: Mapping[str, Any],
    sources: Sources,
    result: results.Imported,
) -> dict[str, str] | None:
    source = results.where(document)
    namespace = str(ref.get("namespace") or (document.get("metadata") or {}).get("namespace") or "")
    kind = str(ref.get("kind") or "GitRepository")
    found = sources.get((kind, namespace, str(ref.get("name") or "")))
    if kind != "GitRepository":
        result.note(
            source,
            "spec.sourceRef",
            f"{kind} {namespace}/{ref.get('name')}: manifests come from Git only in gitward "
            "(OCI and Helm repositories serve charts, used through HelmReleases)",
        )
        return None
    if found is None:
        result.note(
            source,
            "spec.sourceRef",
            f"GitRepository {namespace}/{ref.get('name')} is not among the imported manifests",
        )
        return None
    return git_repository(found, result)


def _chart_source(
    document: Mapping[str, Any],
    spec: Mapping[str, Any],
    chart: Mapping[str, Any],
    sources: Sources,
    result: results.Imported,
) -> tuple[dict[str, str], bool] | None:
    """(gitward source, whether it is Git) of a HelmRelease's chart."""
    source = results.where(document)
    namespace = str((document.get("metadata") or {}).get("namespace") or "")
    if spec.get("chartRef"):
        ref = spec["chartRef"]
        if ref.get("kind") != "OCIRepository":
            result.note(source, "spec.chartRef", f"{ref.get('kind')}: not translated")
            return None
        oci = sources.get(
            ("OCIRepository", str(ref.get("namespace") or namespace), ref.get("name"))
        )
        if oci is None:
            result.note(source, "spec.chartRef", "its OCIRepository is not among the manifests")
            return None
        return _oci_chart(oci, result), False
    ref = chart.get("sourceRef") or {}
    if ref.get("kind") != "HelmRepository":
        repository = _source_of(document, ref, sources, result)
        return (repository, True) if repository is not None else None
    key = ("HelmRepository", str(ref.get("namespace") or namespace), str(ref.get("name") or ""))
    helm_repository = sources.get(key)
    if helm_repository is None:
        result.note(
            source, "spec.chart.spec.sourceRef", "its HelmRepository is not among the manifests"
        )
        return None
    repo_spec = helm_repository.get("spec") or {}
    url = str(repo_spec.get("url") or "").rstrip("/")
    name = str(chart.get("chart") or "")
    version = str(chart.get("version") or "")
    version = "" if version == "*" else version
    _credentials(helm_repository, url + "*", result)
    if repo_spec.get("type") == "oci" or url.startswith("oci://"):
        return {"repoURL": f"{url}/{name}", "version": version}, False
    return {"repoURL": url, "chart": name, "version": version}, False


def _oci_chart(document: Mapping[str, Any], result: results.Imported) -> dict[str, str]:
    spec = document.get("spec") or {}
    url = str(spec.get("url") or "")
    ref = spec.get("ref") or {}
    _credentials(document, url + "*", result)
    if ref.get("digest"):
        return {"repoURL": f"{url}@{ref['digest']}", "version": ""}
    return {"repoURL": url, "version": str(ref.get("semver") or ref.get("tag") or "")}


def _credentials(document: Mapping[str, Any], url_glob: str, result: results.Imported) -> None:
    secret = ((document.get("spec") or {}).get("secretRef") or {}).get("name")
    if not secret:
        return
    namespace = str((document.get("metadata") or {}).get("namespace") or "")
    variable = results.env_name(namespace, str(secret))
    result.add_repository({"url": url_glob, "username": "", "passwordEnv": f"{variable}_PASSWORD"})
    result.note(
        results.where(document),
        "spec.secretRef",
        f"Secret {secret!r} is referenced: put its username in gitward.yaml and its "
        f"password in ${variable}_PASSWORD",
    )


def _target(result: results.Imported, source: str, document: Mapping[str, Any]) -> str:
    spec = document.get("spec") or {}
    secret = ((spec.get("kubeConfig") or {}).get("secretRef") or {}).get("name")
    if secret:
        name = str(secret).lower()
        result.add_target(name, {"kubeconfig": f"/run/secrets/{secret}/value", "context": ""})
        result.note(
            source,
            "spec.kubeConfig",
            f"target {name!r}: write the Secret's kubeconfig to /run/secrets/{secret}/value",
        )
        return name
    result.add_target(results.IN_CLUSTER, {"inCluster": True})
    return results.IN_CLUSTER


def _policy(spec: Mapping[str, Any], manager: str, prune: bool) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "automated": {"prune": prune, "selfHeal": True},
        "takeOverFrom": [*results.DEFAULT_TAKE_OVER, manager],
    }
    if spec.get("interval"):
        policy["interval"] = spec["interval"]
    if spec.get("retryInterval"):
        policy["retry"] = {"backoff": {"duration": spec["retryInterval"], "factor": 1}}
    if spec.get("timeout"):
        policy["healthTimeout"] = spec["timeout"]
    if spec.get("force"):
        policy["force"] = True
    return policy


def _depends(spec: Mapping[str, Any]) -> list[str]:
    return [str(d.get("name")) for d in spec.get("dependsOn") or [] if d.get("name")]


def kustomization(
    document: Mapping[str, Any], sources: Sources, result: results.Imported
) -> dict[str, Any] | None:
    source = results.where(document)
    spec = document.get("spec") or {}
    repository = _source_of(document, spec.get("sourceRef") or {}, sources, result)
    if repository is None:
        result.note(source, "spec", "Kustomization not translated")
        return None
    path = posixpath.normpath(str(spec.get("path") or ".")).strip("/")
    namespace = str(spec.get("targetNamespace") or "")
    kustomize: dict[str, Any] = {}
    if namespace:
        kustomize["namespace"] = namespace
    for name in ("namePrefix", "nameSuffix"):
        if spec.get(name):
            kustomize[name] = spec[name]
    images = []
    for image in spec.get("images") or []:
        name = f"{image.get('name')}={image.get('newName', image.get('name'))}"
        if image.get("digest"):
            images.append(f"{name}@{image['digest']}")
        elif image.get("newTag"):
            images.append(f"{name}:{image['newTag']}")
        else:
            images.append(name)
    if images:
        kustomize["images"] = images
    common = spec.get("commonMetadata") or {}
    if common.get("labels"):
        kustomize["commonLabels"] = dict(common["labels"])
    if common.get("annotations"):
        kustomize["commonAnnotations"] = dict(common["annotations"])
    app_spec: dict[str, Any] = {
        "source": {**repository, "path": "" if path == "." else path},
        "destination": {
            "target": _target(result, source, document),
            "namespace": namespace
            or str((document.get("metadata") or {}).get("namespace") or "default"),
        },
        "syncPolicy": _policy(spec, KUSTOMIZE_MANAGER, bool(spec.get("prune", False))),
    }
    if kustomize:
        app_spec["render"] = {"kustomize": kustomize}
        result.note(
            source,
            "spec",
            "targetNamespace/images/commonMetadata/namePrefix are applied through Kustomize: "
            "the path must hold a kustomization.yaml (Flux generates one when missing)",
        )
    decryption = spec.get("decryption") or {}
    if decryption:
        secret = str((decryption.get("secretRef") or {}).get("name") or "sops-age")
        app_spec["decryption"] = {"keyRef": secret}
        result.decryption_keys.setdefault(
            secret, {"ageKeyEnv": results.env_name("SOPS_AGE", secret)}
        )
        result.note(
            source,
            "spec.decryption.secretRef",
            f"the age keys of Secret {secret!r} go in ${results.env_name('SOPS_AGE', secret)}",
        )
    post_build = _post_build(spec.get("postBuild") or {}, document, result)
    if post_build:
        app_spec["postBuild"] = post_build
    if _depends(spec):
        app_spec["dependsOn"] = _depends(spec)
    if spec.get("suspend"):
        app_spec["suspend"] = True
    result.note_unhandled(
        source,
        "spec",
        spec,
        {
            "postBuild",
            "sourceRef",
            "path",
            "targetNamespace",
            "namePrefix",
            "nameSuffix",
            "images",
            "commonMetadata",
            "interval",
            "retryInterval",
            "timeout",
            "force",
            "prune",
            "decryption",
            "dependsOn",
            "suspend",
            "kubeConfig",
            "wait",
        },
        {
            "patches": "put the patches in a kustomization.yaml overlay",
            "components": "list the components in a kustomization.yaml overlay",
            "healthChecks": "gitward assesses the health of every object it applies",
            "serviceAccountName": "impersonation is done per target (its kubeconfig)",
        },
    )
    return _application(document, app_spec)


def helm_release(
    document: Mapping[str, Any], sources: Sources, result: results.Imported
) -> dict[str, Any] | None:
    source = results.where(document)
    spec = document.get("spec") or {}
    chart = ((spec.get("chart") or {}).get("spec")) or {}
    found = _chart_source(document, spec, chart, sources, result)
    if found is None:
        result.note(source, "spec.chart", "HelmRelease not translated")
        return None
    repository, in_git = found
    path = posixpath.normpath(str(chart.get("chart") or ".")).strip("/") if in_git else ""
    helm: dict[str, Any] = {}
    value_files = []
    for values_file in chart.get("valuesFiles") or []:
        # Flux names values files from the repository root (Git) or the chart's
        # root (a chart archive); gitward from the chart.
        in_repo = posixpath.normpath(values_file).strip("/")
        value_files.append(posixpath.relpath(in_repo, path or ".") if in_git else in_repo)
    if value_files:
        helm["valueFiles"] = value_files
    if spec.get("values"):
        helm["values"] = dict(spec["values"])
    helm["releaseName"] = str(
        spec.get("releaseName") or (document.get("metadata") or {}).get("name")
    )
    install = spec.get("install") or {}
    upgrade = spec.get("upgrade") or {}
    if install.get("crds") == "Skip" or upgrade.get("crds") == "Skip":
        helm["includeCRDs"] = False
    metadata_namespace = _namespace_of(document)
    source_spec = {**repository, "path": "" if path == "." else path} if in_git else repository
    app_spec: dict[str, Any] = {
        "source": source_spec,
        "render": {"helm": helm},
        "destination": {
            "target": _target(result, source, document),
            "namespace": str(spec.get("targetNamespace") or metadata_namespace),
        },
        "syncPolicy": _policy(spec, HELM_MANAGER, True),
    }
    if install.get("createNamespace"):
        app_spec["syncPolicy"]["createNamespace"] = True
    drift = spec.get("driftDetection") or {}
    if drift.get("mode") not in (None, "enabled"):
        app_spec["syncPolicy"]["automated"]["selfHeal"] = False
        result.note(
            source,
            "spec.driftDetection",
            "Flux only corrects drift when enabled; gitward's selfHeal is set off",
        )
    if _depends(spec):
        app_spec["dependsOn"] = _depends(spec)
    if spec.get("suspend"):
        app_spec["suspend"] = True
    for key in ("version", "reconcileStrategy", "interval"):
        if chart.get(key) and key != "interval":
            result.note(
                source,
                f"spec.chart.spec.{key}",
                "the chart is read from Git at the Application's ref",
            )
    result.note_unhandled(
        source,
        "spec",
        spec,
        {
            "chart",
            "values",
            "valuesFiles",
            "releaseName",
            "targetNamespace",
            "install",
            "upgrade",
            "interval",
            "timeout",
            "dependsOn",
            "suspend",
            "kubeConfig",
            "driftDetection",
            "storageNamespace",
        },
        {
            "valuesFrom": "values from ConfigMaps/Secrets: move them into a values file",
            "postRenderers": "put the patches in a Kustomize overlay of the rendered chart",
            "test": "gitward never runs Helm test hooks",
            "rollback": "a failed sync is retried; `gitward app rollback` rolls back",
            "uninstall": "cascadeDelete controls deletion",
            "serviceAccountName": "impersonation is done per target (its kubeconfig)",
            "maxHistory": "gitward keeps every operation in its store",
        },
    )
    return _application(document, app_spec)


def _application(document: Mapping[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    meta = document.get("metadata") or {}
    out_meta: dict[str, Any] = {"name": meta.get("name")}
    if meta.get("labels"):
        out_meta["labels"] = dict(meta["labels"])
    return {
        "apiVersion": "gitward.dev/v1",
        "kind": "Application",
        "metadata": out_meta,
        "spec": spec,
    }


def _post_build(
    post_build: Mapping[str, Any], document: Mapping[str, Any], result: results.Imported
) -> dict[str, Any]:
    """Flux's variable substitution → ``spec.postBuild`` (and ``variables`` entries)."""
    out: dict[str, Any] = {}
    if post_build.get("substitute"):
        out["substitute"] = {str(k): str(v) for k, v in post_build["substitute"].items()}
    names = []
    namespace = str((document.get("metadata") or {}).get("namespace") or "default")
    for item in post_build.get("substituteFrom") or []:
        kind, name = str(item.get("kind") or ""), str(item.get("name") or "")
        entry = f"{namespace}-{name}".lower()
        result.variables.setdefault(
            entry,
            {"target": results.IN_CLUSTER, "namespace": namespace, "kind": kind, "name": name},
        )
        names.append(entry)
        if item.get("optional"):
            result.note(
                results.where(document),
                f"spec.postBuild.substituteFrom[{name}].optional",
                "gitward fails the render when the object is missing",
            )
    if names:
        out["substituteFrom"] = names
    return out


def _namespace_of(document: Mapping[str, Any]) -> str:
    return str((document.get("metadata") or {}).get("namespace") or "default")
