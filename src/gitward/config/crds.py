"""Applications, ApplicationSets and Projects as Kubernetes custom resources.

The CRDs ``applications.gitward.dev``, ``applicationsets.gitward.dev`` and
``projects.gitward.dev`` are generated here from the same pydantic models that
validate the files in Git (:mod:`gitward.config.applications`), so the shapes
cannot drift: the
install chart's ``crds/`` directory is written by
``python -m gitward.install.generating`` from :func:`definitions`, and a test
fails when the committed files differ.

A cluster object differs from a file in Git in one place only: Kubernetes
owns ``metadata`` (no custom fields there), so the Project of an Application
is ``spec.project`` in the cluster where Git has ``metadata.project``.
:func:`application_from_object` and :func:`project_from_object` turn a cluster
object into the config models, raising :class:`gitward.errors.ConfigError`
naming ``namespace/name``.

Called by the install generator and by the agent's cluster-objects trigger.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from gitward.config import applications, appsets

GROUP = "gitward.dev"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
APPLICATIONS = "applications"
PROJECTS = "projects"
APPLICATIONSETS = "applicationsets"

# Keywords a structural schema (apiextensions.k8s.io/v1) may carry; the rest
# of what pydantic emits (title, $defs, const, ...) is translated or dropped.
# Defaults are dropped on purpose: the agent applies them when it parses, and
# a default the API server wrote into stored objects would pin today's value.
_KEPT = ("description", "type", "enum", "minimum", "maximum", "pattern", "maxLength", "format")

_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Written by the gitward agent; read by kubectl, the UI and the API.",
    "properties": {
        "sync": {"type": "string", "description": "Synced, OutOfSync or Unknown."},
        "health": {
            "type": "string",
            "description": "Healthy, Progressing, Degraded, Suspended, Missing or Unknown.",
        },
        "revision": {"type": "string", "description": "The commit last synced."},
        "observedGeneration": {"type": "integer"},
        "message": {"type": "string"},
        "conditions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "status"],
                "properties": {
                    "type": {"type": "string"},
                    "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                    "lastTransitionTime": {"type": "string", "format": "date-time"},
                },
            },
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
        "lastOperation": {
            "type": "object",
            "description": "The last sync attempt.",
            "properties": {
                "id": {"type": "string"},
                "phase": {"type": "string"},
                "revision": {"type": "string"},
                "trigger": {"type": "string"},
                "message": {"type": "string"},
                "startedAt": {"type": "string", "format": "date-time"},
                "finishedAt": {"type": "string", "format": "date-time"},
            },
        },
    },
}


def structural(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of ``model`` (camelCase field names)."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    defs = schema.pop("$defs", {})
    converted: dict[str, Any] = _convert(schema, defs)
    return converted


def _convert(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = dict(defs[str(node["$ref"]).rsplit("/", 1)[-1]])
        if "description" in node:
            target["description"] = node["description"]
        return _convert(target, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(node["anyOf"])
        types = sorted(str(o.get("type")) for o in options)
        if types in (["number", "string"], ["integer", "string"]):
            out: dict[str, Any] = {"x-kubernetes-int-or-string": True}
        elif len(options) == 1:
            out = _convert(options[0], defs)
        else:
            out = {"x-kubernetes-preserve-unknown-fields": True}
        if nullable:
            out["nullable"] = True
        if "description" in node:
            out["description"] = " ".join(str(node["description"]).split())
        return out
    out = {key: node[key] for key in _KEPT if key in node}
    if "description" in out:
        out["description"] = " ".join(str(out["description"]).split())
    if "const" in node:
        out["enum"] = [node["const"]]
    if node.get("type") == "number":
        # JSON numbers: an integer such as `factor: 2` must be accepted too.
        out["type"] = "number"
    if "properties" in node:
        out["type"] = "object"
        out["properties"] = {
            name: _convert(child, defs) for name, child in node["properties"].items()
        }
        if node.get("required"):
            out["required"] = list(node["required"])
    elif node.get("type") == "object":
        extra = node.get("additionalProperties", True)
        if isinstance(extra, Mapping) and extra:
            out["additionalProperties"] = _convert(extra, defs)
        else:
            out["x-kubernetes-preserve-unknown-fields"] = True
    if "items" in node:
        out["items"] = _convert(node["items"], defs)
    return out


def _crd(
    plural: str,
    kind: str,
    short_names: list[str],
    spec: dict[str, Any],
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "gitward"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "listKind": f"{kind}List",
                "shortNames": short_names,
                "categories": ["gitward"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": copy.deepcopy(_STATUS_SCHEMA),
                            },
                        }
                    },
                }
            ],
        },
    }


def definitions() -> list[dict[str, Any]]:
    """The two CustomResourceDefinitions, ready to apply."""
    app_spec = structural(applications.ApplicationSpec)
    app_spec["properties"] = {
        "project": {
            "type": "string",
            "description": "Project the Application belongs to (metadata.project in Git).",
        },
        **app_spec["properties"],
    }
    age: dict[str, Any] = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    app_columns = [
        {"name": "Sync", "type": "string", "jsonPath": ".status.sync"},
        {"name": "Health", "type": "string", "jsonPath": ".status.health"},
        {"name": "Revision", "type": "string", "jsonPath": ".status.revision"},
        age,
        {"name": "Project", "type": "string", "jsonPath": ".spec.project", "priority": 1},
        {"name": "Target", "type": "string", "jsonPath": ".spec.destination.target", "priority": 1},
    ]
    project_columns = [
        {"name": "Accepted", "type": "string", "jsonPath": ".status.conditions[0].status"},
        age,
    ]
    project_spec = structural(applications.ProjectSpec)
    return [
        _crd(APPLICATIONS, "Application", ["gwapp", "gwapps"], app_spec, app_columns),
        _crd(PROJECTS, "Project", ["gwproj", "gwprojs"], project_spec, project_columns),
        _crd(
            APPLICATIONSETS,
            "ApplicationSet",
            ["gwappset", "gwappsets"],
            _appset_spec(),
            project_columns,
        ),
    ]


def _appset_spec() -> dict[str, Any]:
    # Generators nest (matrix, merge) and templates hold placeholders where
    # typed fields go, neither of which a structural schema can say: the
    # agent validates them (engine.generating) and an invalid set gets an
    # Accepted=False condition naming the field.
    free: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "type": "object",
        "description": "An ApplicationSet: generators and an Application template.",
        "required": ["generators", "template"],
        "properties": {
            "project": {
                "type": "string",
                "description": "Default Project of the generated Applications.",
            },
            "generators": {
                "type": "array",
                "description": "list, targets, gitDirectories, gitFiles, matrix or merge.",
                "items": free,
            },
            "template": {**free, "description": "Application metadata and spec; {{parameters}}."},
            "strategy": {**free, "description": "rollingSync: steps of label selectors."},
            "syncPolicy": structural(appsets.SetSyncPolicy),
        },
    }


def _where(obj: Mapping[str, Any], kind: str) -> str:
    meta = obj.get("metadata") or {}
    return f"{kind} {meta.get('namespace', '')}/{meta.get('name', '')} (cluster object)"


def _metadata(obj: Mapping[str, Any], project: str | None) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    out: dict[str, Any] = {
        "name": meta.get("name", ""),
        # Kubernetes' own bookkeeping annotations would only add noise.
        "labels": dict(meta.get("labels") or {}),
        "annotations": {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if not k.startswith("kubectl.kubernetes.io/")
        },
    }
    if project is not None:
        out["project"] = project
    return out


def application_from_object(obj: Mapping[str, Any]) -> applications.Application:
    """The Application a cluster object declares; ConfigError names namespace/name."""
    spec = dict(obj.get("spec") or {})
    project = spec.pop("project", None) or "default"
    document = {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": _metadata(obj, str(project)),
        "spec": spec,
    }
    return applications.parse(document, _where(obj, "Application"))


def appset_from_object(obj: Mapping[str, Any]) -> appsets.ApplicationSet:
    """The ApplicationSet a cluster object declares; ConfigError names namespace/name."""
    spec = dict(obj.get("spec") or {})
    project = spec.pop("project", None) or "default"
    document = {
        "apiVersion": API_VERSION,
        "kind": "ApplicationSet",
        "metadata": _metadata(obj, str(project)),
        "spec": spec,
    }
    return appsets.parse(document, _where(obj, "ApplicationSet"))


def project_from_object(obj: Mapping[str, Any]) -> applications.Project:
    """The Project a cluster object declares; ConfigError names namespace/name."""
    document = {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": _metadata(obj, None),
        "spec": dict(obj.get("spec") or {}),
    }
    return applications.parse_project(document, _where(obj, "Project"))


def _fit(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` shaped for ``schema``: durations (int-or-string) that are not whole
    seconds become strings such as ``"1.5s"`` (the API server refuses floats there)."""
    if schema.get("x-kubernetes-int-or-string") and isinstance(value, float):
        return int(value) if value.is_integer() else f"{value:g}s"
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            child = properties.get(key) or (extra if isinstance(extra, Mapping) else {})
            out[key] = _fit(item, child)
        return out
    if isinstance(value, list):
        items = schema.get("items") or {}
        return [_fit(item, items) for item in value]
    return value


def application_object(
    app: applications.Application,
    namespace: str,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The cluster object declaring ``app`` (the inverse of :func:`application_from_object`)."""
    schema = definitions()[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = app.spec.model_dump(by_alias=True, exclude_defaults=True, mode="json")
    metadata: dict[str, Any] = {"name": app.name, "namespace": namespace}
    if labels or app.metadata.labels:
        metadata["labels"] = {**app.metadata.labels, **(labels or {})}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": metadata,
        "spec": _fit({"project": app.metadata.project, **spec}, schema["properties"]["spec"]),
    }
