"""What makes a rendered document a Kubernetes object gitward may hand to a target.

Called by ``render.directory.manifests_from`` for every document a renderer
reads (plain files, Kustomize and Helm output), where the file, the document
index and its line are known, and by ``render.rendering`` for whatever a
renderer or a post-render transform returns (user renderers included).

A document that is not an object fails the render instead of being skipped:
skipping it made its live object look "no longer in Git", and prune deleted it
(issue 11: a ``Kind: ConfigMap`` typo removed a live ConfigMap). The same goes
for a missing or empty ``metadata.name``.

Names and namespaces become URL path segments of API requests, so they are
checked as the API server checks them before anything is sent: a ConfigMap
named ``../../../namespaces/kube-system/configmaps/victim`` is refused here,
naming the document. The rules per kind follow Kubernetes' validation:
Namespaces are DNS-1123 labels, Services DNS-1035 labels, RBAC objects path
segments (``system:controller:x`` is a valid ClusterRole name), everything else
(custom resources included, as the apiextensions server does) a DNS-1123
subdomain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gitward import errors

# Annotations that make an object a hook; a hook may be named by the API
# server from ``metadata.generateName`` (a Job run before each sync).
HOOK_ANNOTATIONS = ("gitward.dev/hook", "argocd.argoproj.io/hook", "helm.sh/hook")

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(rf"^{_LABEL}$")
_DNS1123_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_MAX = 63
_SUBDOMAIN_MAX = 253

_RBAC_GROUP = "rbac.authorization.k8s.io"
_PATH_SEGMENT_KINDS = frozenset(
    {
        (_RBAC_GROUP, "Role"),
        (_RBAC_GROUP, "ClusterRole"),
        (_RBAC_GROUP, "RoleBinding"),
        (_RBAC_GROUP, "ClusterRoleBinding"),
    }
)


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _path_segment_problem(value: str) -> str:
    if value in (".", ".."):
        return f"may not be {value!r}"
    for bad in ("/", "%"):
        if bad in value:
            return f"may not contain {bad!r}"
    return ""


def name_problem(group: str, kind: str, name: str) -> str:
    """Why ``name`` is not a valid name for an object of ``group``/``kind`` ('' if it is)."""
    problem = _path_segment_problem(name)
    if problem:
        return problem
    if (group, kind) in _PATH_SEGMENT_KINDS:
        return ""
    if group == "" and kind == "Namespace":
        return _label_problem(name, _DNS1123_LABEL, "a DNS-1123 label")
    if group == "" and kind == "Service":
        return _label_problem(name, _DNS1035_LABEL, "a DNS-1035 label (starting with a letter)")
    if len(name) > _SUBDOMAIN_MAX:
        return f"must be at most {_SUBDOMAIN_MAX} characters"
    if not _DNS1123_SUBDOMAIN.match(name):
        return (
            "must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.',"
            " starting and ending with a letter or digit)"
        )
    return ""


def _label_problem(value: str, pattern: re.Pattern[str], what: str) -> str:
    if len(value) > _LABEL_MAX:
        return f"must be at most {_LABEL_MAX} characters"
    if not pattern.match(value):
        return f"must be {what}: lowercase letters, digits and '-'"
    return ""


def namespace_problem(namespace: str) -> str:
    """Why ``namespace`` is not a valid namespace name ('' if it is)."""
    return _label_problem(namespace, _DNS1123_LABEL, "a DNS-1123 label")


def is_hook(metadata: Mapping[str, Any]) -> bool:
    annotations = metadata.get("annotations")
    return isinstance(annotations, Mapping) and any(a in annotations for a in HOOK_ANNOTATIONS)


def check_object(body: Any, where: str) -> None:
    """Raise :class:`gitward.errors.RenderError` naming ``where`` unless ``body``
    is a Kubernetes object with a valid identity.

    ``where`` names the document (``path/in/repo.yaml#2 (line 14)``).
    """
    if not isinstance(body, Mapping):
        raise errors.RenderError(
            f"{where}: not a Kubernetes object (a {type(body).__name__}, not a mapping)"
        )
    missing = [f for f in ("apiVersion", "kind") if not isinstance(body.get(f), str) or not body[f]]
    if missing:
        near = sorted(
            k
            for k in body
            if isinstance(k, str)
            and k.lower() in ("apiversion", "kind")
            and k not in ("apiVersion", "kind")
        )
        hint = f" (found {', '.join(near)}: field names are case-sensitive)" if near else ""
        raise errors.RenderError(
            f"{where}: not a Kubernetes object: {' and '.join(missing)} missing{hint}"
        )
    api_version, kind = str(body["apiVersion"]), str(body["kind"])
    what = f"{where}: {kind}"
    metadata = body.get("metadata")
    if not isinstance(metadata, Mapping):
        raise errors.RenderError(f"{what}: metadata is missing or not a mapping")
    name = metadata.get("name")
    if name is None or name == "":
        generate = metadata.get("generateName")
        if isinstance(generate, str) and generate and is_hook(metadata):
            problem = _path_segment_problem(generate)
            if problem:
                raise errors.RenderError(f"{what}: metadata.generateName {problem}")
        elif isinstance(generate, str) and generate:
            raise errors.RenderError(
                f"{what}: metadata.name is missing; generateName ({generate!r}) is only"
                f" allowed on hooks (annotation {HOOK_ANNOTATIONS[0]},"
                f" {HOOK_ANNOTATIONS[1]} or {HOOK_ANNOTATIONS[2]}), because an object"
                " without a fixed name cannot be compared, tracked or pruned"
            )
        else:
            raise errors.RenderError(f"{what}: metadata.name is missing or empty")
    elif not isinstance(name, str):
        raise errors.RenderError(f"{what}: metadata.name must be a string, not {name!r}")
    else:
        problem = name_problem(_group(api_version), kind, name)
        if problem:
            raise errors.RenderError(f"{what} name {name!r} is invalid: it {problem}")
    namespace = metadata.get("namespace")
    if namespace is not None and namespace != "":
        if not isinstance(namespace, str):
            raise errors.RenderError(f"{what}: metadata.namespace must be a string")
        problem = namespace_problem(namespace)
        if problem:
            raise errors.RenderError(
                f"{what}: metadata.namespace {namespace!r} is invalid: it {problem}"
            )
