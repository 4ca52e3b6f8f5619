"""OpenAPI definitions of the built-in kinds, from the lightkube models.

Every ``lightkube.models`` class becomes an OpenAPI v2 definition (field names,
types, required fields, descriptions from the docstrings), built once per
process by :func:`definitions`. The models do not carry Go struct tags, so
the list/map extensions the real kube-apiserver schema has for the well-known
fields (patch merge keys and strategies, list types and map keys, atomic
structs, quantity maps, defaults) are tables here. Read by :mod:`.schemas`
(the type trees) and :mod:`.openapi` (the served documents).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
import types as pytypes
import typing
from datetime import datetime
from typing import Any

import msgspec

# --- extensions of the real schema that the Python models cannot carry ----------

# (definition short name, field) -> extensions as the real /openapi/v2 has them.
_M = "x-kubernetes-patch-merge-key"
_S = "x-kubernetes-patch-strategy"
_T = "x-kubernetes-list-type"
_K = "x-kubernetes-list-map-keys"


def _keyed(keys: tuple[str, ...], merge_key: str = "", strategy: str = "merge") -> dict[str, Any]:
    ext: dict[str, Any] = {_T: "map", _K: list(keys)}
    if merge_key:
        ext[_M] = merge_key
        ext[_S] = strategy
    return ext


_ATOMIC: dict[str, Any] = {_T: "atomic"}
_BY_NAME = _keyed(("name",), "name")
_BY_TYPE = _keyed(("type",), "type")
_EXTENSIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("core.v1.PodSpec", "volumes"): _keyed(("name",), "name", "merge,retainKeys"),
    ("core.v1.PodSpec", "initContainers"): _BY_NAME,
    ("core.v1.PodSpec", "containers"): _BY_NAME,
    ("core.v1.PodSpec", "ephemeralContainers"): _BY_NAME,
    ("core.v1.PodSpec", "imagePullSecrets"): _BY_NAME,
    ("core.v1.PodSpec", "hostAliases"): _keyed(("ip",), "ip"),
    ("core.v1.PodSpec", "topologySpreadConstraints"): _keyed(
        ("topologyKey", "whenUnsatisfiable"), "topologyKey"
    ),
    ("core.v1.PodSpec", "schedulingGates"): _BY_NAME,
    ("core.v1.PodSpec", "resourceClaims"): _keyed(("name",), "name", "merge,retainKeys"),
    ("core.v1.PodSpec", "tolerations"): _ATOMIC,
    ("core.v1.PodSpec", "readinessGates"): _ATOMIC,
    ("core.v1.PodSpec", "nodeSelector"): {"x-kubernetes-map-type": "atomic"},
    ("core.v1.Container", "ports"): _keyed(("containerPort", "protocol"), "containerPort"),
    ("core.v1.Container", "env"): _BY_NAME,
    ("core.v1.Container", "volumeMounts"): _keyed(("mountPath",), "mountPath"),
    ("core.v1.Container", "volumeDevices"): _keyed(("devicePath",), "devicePath"),
    ("core.v1.EphemeralContainer", "ports"): _keyed(("containerPort", "protocol"), "containerPort"),
    ("core.v1.EphemeralContainer", "env"): _BY_NAME,
    ("core.v1.EphemeralContainer", "volumeMounts"): _keyed(("mountPath",), "mountPath"),
    ("core.v1.EphemeralContainer", "volumeDevices"): _keyed(("devicePath",), "devicePath"),
    ("core.v1.ResourceRequirements", "claims"): _keyed(("name",)),
    ("core.v1.ServiceSpec", "ports"): _keyed(("port", "protocol"), "port"),
    ("core.v1.ServiceSpec", "selector"): {"x-kubernetes-map-type": "atomic"},
    ("core.v1.ServiceAccount", "secrets"): _BY_NAME,
    ("core.v1.PodStatus", "conditions"): _BY_TYPE,
    ("core.v1.PodStatus", "podIPs"): _keyed(("ip",), "ip"),
    ("core.v1.PodStatus", "hostIPs"): _keyed(("ip",), "ip"),
    ("core.v1.NamespaceStatus", "conditions"): _BY_TYPE,
    ("core.v1.PersistentVolumeClaimStatus", "conditions"): _BY_TYPE,
    ("core.v1.ServiceStatus", "conditions"): _keyed(("type",), "type"),
    ("core.v1.NodeSelector", "nodeSelectorTerms"): _ATOMIC,
    ("core.v1.ReplicationControllerSpec", "selector"): {"x-kubernetes-map-type": "atomic"},
    ("meta.v1.ObjectMeta", "finalizers"): {_T: "set", _S: "merge"},
    ("meta.v1.ObjectMeta", "ownerReferences"): _keyed(("uid",), "uid"),
    ("meta.v1.LabelSelector", "matchExpressions"): _ATOMIC,
    ("apps.v1.DeploymentStatus", "conditions"): _BY_TYPE,
    ("apps.v1.StatefulSetStatus", "conditions"): _BY_TYPE,
    ("apps.v1.DaemonSetStatus", "conditions"): _BY_TYPE,
    ("apps.v1.ReplicaSetStatus", "conditions"): _BY_TYPE,
    ("apps.v1.StatefulSetSpec", "volumeClaimTemplates"): _ATOMIC,
    ("batch.v1.JobStatus", "conditions"): {_T: "atomic", _M: "type", _S: "merge"},
    ("batch.v1.CronJobStatus", "active"): _ATOMIC,
    ("autoscaling.v2.HorizontalPodAutoscalerStatus", "conditions"): _BY_TYPE,
    ("policy.v1.PodDisruptionBudgetStatus", "conditions"): _BY_TYPE,
    ("apiextensions.v1.CustomResourceDefinitionStatus", "conditions"): _keyed(("type",)),
    ("apiextensions.v1.CustomResourceDefinitionSpec", "versions"): _ATOMIC,
}
# Structs the real schema marks x-kubernetes-map-type: atomic (+structType=atomic).
_ATOMIC_STRUCTS = frozenset(
    {
        "meta.v1.LabelSelector",
        "meta.v1.OwnerReference",
        "core.v1.LocalObjectReference",
        "core.v1.ObjectReference",
        "core.v1.TypedLocalObjectReference",
        "core.v1.ConfigMapKeySelector",
        "core.v1.SecretKeySelector",
        "core.v1.ObjectFieldSelector",
        "core.v1.ResourceFieldSelector",
        "core.v1.NodeSelector",
        "core.v1.NodeSelectorTerm",
        "core.v1.TopologySelectorTerm",
        "core.v1.ConfigMapEnvSource",
        "core.v1.SecretEnvSource",
    }
)
# Key fields whose default takes part in the list-map key (k:{...,"protocol":"TCP"}).
_DEFAULTS: dict[tuple[str, str], Any] = {
    ("core.v1.ContainerPort", "protocol"): "TCP",
    ("core.v1.ServicePort", "protocol"): "TCP",
}
# Map values that are Quantities in the real schema (the models say str).
_QUANTITY_MAPS = frozenset(
    {
        ("core.v1.ResourceRequirements", "limits"),
        ("core.v1.ResourceRequirements", "requests"),
        ("core.v1.ResourceQuotaSpec", "hard"),
        ("core.v1.ResourceQuotaStatus", "hard"),
        ("core.v1.ResourceQuotaStatus", "used"),
        ("core.v1.PodSpec", "overhead"),
        ("core.v1.PersistentVolumeClaimStatus", "capacity"),
        ("core.v1.PersistentVolumeClaimStatus", "allocatedResources"),
        ("core.v1.PersistentVolumeSpec", "capacity"),
        ("core.v1.VolumeResourceRequirements", "limits"),
        ("core.v1.VolumeResourceRequirements", "requests"),
    }
)
# Free-form maps whose values are schemas (JSONSchemaProps), not strings.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "dependencies"})

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"


def _prefix(stem: str) -> tuple[str, str]:
    """(definition prefix, short prefix) of a lightkube.models module."""
    special = {
        "meta_v1": "io.k8s.apimachinery.pkg.apis.meta.v1",
        "runtime": "io.k8s.apimachinery.pkg.runtime",
        "util_intstr": "io.k8s.apimachinery.pkg.util.intstr",
        "resource": "io.k8s.apimachinery.pkg.api.resource",
        "version": "io.k8s.apimachinery.pkg.version",
    }
    name, _, version = stem.rpartition("_")
    if stem in special:
        return special[stem], f"{name}.{version}"
    if name == "apiextensions":
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}", stem.replace(
            "_", "."
        )
    if name == "apiregistration":
        return f"io.k8s.kube-aggregator.pkg.apis.apiregistration.{version}", stem.replace("_", ".")
    return f"io.k8s.api.{name}.{version}", f"{name}.{version}"


_PARAM_RE = re.compile(r"^\s*\* \*\*(\w+)\*\* ``[^`]*`` - ?(.*)$")


def _describe(cls: type) -> tuple[str, dict[str, str]]:
    """The class description and per-field descriptions from a model docstring."""
    doc = cls.__doc__ or ""
    head, _, params = doc.partition("**parameters**")
    description = " ".join(line.strip() for line in head.strip().splitlines()).strip()
    fields: dict[str, str] = {}
    current = ""
    for line in params.splitlines():
        match = _PARAM_RE.match(line)
        if match:
            current = match.group(1)
            fields[current] = match.group(2).strip()
        elif current and line.strip():
            fields[current] = f"{fields[current]} {line.strip()}".strip()
    return description, fields


class Definitions:
    """Every lightkube model as an OpenAPI v2 definition (refs #/definitions/...)."""

    def __init__(self) -> None:
        import lightkube.models as models_pkg
        import lightkube.resources as resources_pkg

        self.defs: dict[str, dict[str, Any]] = {}
        self.short: dict[str, str] = {}  # definition name -> "apps.v1.Deployment"
        self.by_class: dict[type, str] = {}
        self.by_gvk: dict[tuple[str, str, str], str] = {}
        classes: list[tuple[type, str, str]] = []
        for info in pkgutil.iter_modules(models_pkg.__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"lightkube.models.{info.name}")
            prefix, short = _prefix(info.name)
            for attr, value in vars(module).items():
                if (
                    isinstance(value, type)
                    and issubclass(value, msgspec.Struct)
                    and value.__module__ == module.__name__
                ):
                    name = f"{prefix}.{attr}"
                    self.by_class[value] = name
                    self.short[name] = f"{short}.{attr}"
                    classes.append((value, name, f"{short}.{attr}"))
        for info in pkgutil.iter_modules(resources_pkg.__path__):
            module = importlib.import_module(f"lightkube.resources.{info.name}")
            for value in vars(module).values():
                api = getattr(value, "_api_info", None)
                if not isinstance(value, type) or api is None or api.action or api.parent:
                    continue
                for base in value.__mro__[1:]:
                    if base in self.by_class:
                        res = api.resource
                        gvk = (res.group, res.version, res.kind)
                        self.by_gvk[gvk] = self.by_class[base]
                        list_name = self.by_class[base] + "List"
                        if list_name in self.short:
                            self.by_gvk[(res.group, res.version, res.kind + "List")] = list_name
                        break
        self.defs[INT_OR_STRING] = {
            "description": "IntOrString is a type that can hold an int32 or a string.",
            "type": "string",
            "format": "int-or-string",
        }
        self.defs[QUANTITY] = {
            "description": "Quantity is a fixed-point representation of a number.",
            "type": "string",
        }
        self.defs[TIME] = {
            "description": "Time is a wrapper around time.Time which supports correct marshaling.",
            "type": "string",
            "format": "date-time",
        }
        self.defs["io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"] = {
            "description": "MicroTime is version of Time with microsecond level precision.",
            "type": "string",
            "format": "date-time",
        }
        for cls, name, short in classes:
            self.defs[name] = self._definition(cls, short)
        gvk_of = {v: k for k, v in self.by_gvk.items()}
        for name, definition in self.defs.items():
            if name in gvk_of:
                group, version, kind = gvk_of[name]
                definition["x-kubernetes-group-version-kind"] = [
                    {"group": group, "kind": kind, "version": version}
                ]

    def _definition(self, cls: type, short: str) -> dict[str, Any]:
        description, field_docs = _describe(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for info in msgspec.structs.fields(cls):
            prop = self._property(info.type, short, info.encode_name)
            doc = field_docs.get(info.name, "")
            if doc:
                if "$ref" in prop:
                    prop = {"$ref": prop["$ref"], "description": doc}
                else:
                    prop["description"] = doc
            extensions = _EXTENSIONS.get((short, info.encode_name))
            if extensions:
                prop.update(extensions)
            default = _DEFAULTS.get((short, info.encode_name))
            if default is not None:
                prop["default"] = default
            properties[info.encode_name] = prop
            if info.default is msgspec.NODEFAULT:
                required.append(info.encode_name)
        out: dict[str, Any] = {"description": description, "type": "object"}
        if properties:
            out["properties"] = properties
        if required:
            out["required"] = sorted(required)
        if short in _ATOMIC_STRUCTS:
            out["x-kubernetes-map-type"] = "atomic"
        return out

    def _property(self, hint: Any, owner: str, field_name: str) -> dict[str, Any]:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (typing.Union, pytypes.UnionType):
            rest = [a for a in args if a is not type(None)]
            if set(rest) == {int, str}:
                return {"$ref": f"#/definitions/{INT_OR_STRING}"}
            return self._property(rest[0], owner, field_name)
        if origin in (list, typing.List):  # noqa: UP006 - the models use typing.List
            return {"type": "array", "items": self._property(args[0], owner, field_name)}
        if hint is dict or origin is dict:
            if field_name in _SCHEMA_MAPS and owner.startswith("apiextensions"):
                ref = "#/definitions/io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"
                return {
                    "type": "object",
                    "additionalProperties": {"$ref": f"{ref}.JSONSchemaProps"},
                }
            if (owner, field_name) in _QUANTITY_MAPS:
                return {
                    "type": "object",
                    "additionalProperties": {"$ref": f"#/definitions/{QUANTITY}"},
                }
            return {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
        if hint is str:
            return {"type": "string"}
        if hint is bool:
            return {"type": "boolean"}
        if hint is int:
            return {"type": "integer", "format": "int32"}
        if hint is float:
            return {"type": "number", "format": "double"}
        if hint is datetime:
            return {"$ref": f"#/definitions/{TIME}"}
        if isinstance(hint, type) and hint in self.by_class:
            return {"$ref": f"#/definitions/{self.by_class[hint]}"}
        # typing.Any: RawExtension, JSON and friends accept any value.
        return {"x-kubernetes-preserve-unknown-fields": True}


_defs_lock = threading.Lock()
_defs: list[Definitions] = []


def definitions() -> Definitions:
    """Built once per process (about 0.2 s), by whichever thread asks first."""
    if not _defs:
        with _defs_lock:
            if not _defs:
                _defs.append(Definitions())
    return _defs[0]
