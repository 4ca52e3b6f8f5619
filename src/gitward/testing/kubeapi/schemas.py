"""Type knowledge and OpenAPI documents of the Kubernetes API test server.

Two consumers read this module:

* the semantics modules (:mod:`.applying`, :mod:`.fieldsets`, :mod:`.patching`)
  ask :func:`node_for` for the type tree of a resource: which maps are atomic,
  which lists are sets, associative (with their keys) or atomic, and the
  strategic-merge patch strategy of each list;
* the server (H1) serves :func:`openapi_v2`, :func:`openapi_v3_index` and
  :func:`openapi_v3_group_version` so that kubectl (explain, apply, edit, diff,
  client-side validation) finds what it finds on a real cluster.

Built-in definitions come from the ``lightkube.models`` classes (field names,
types, required fields and descriptions), plus the list/map extensions the real
kube-apiserver schema carries for the well-known fields (``_EXTENSIONS``), since
the models do not record Go struct tags. Custom resources take their tree from
the CRD's ``openAPIV3Schema`` exactly as kube-apiserver does (schemaconv): an
explicit ``x-kubernetes-list-type`` wins, a patch strategy ``merge`` with a key
makes an associative list, every other list is atomic.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import pkgutil
import re
import threading
import types as pytypes
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
import orjson

from gitward.testing.kubeapi import types as kubetypes

# --- the type tree -------------------------------------------------------------

SCALAR = 0
MAP = 1
LIST = 2
UNTYPED = 3


class Node:
    """One type in a resource's schema tree (recursive types share nodes).

    ``kind`` is SCALAR, MAP (a struct with ``fields`` and/or a free-form map
    whose values are ``elem``), LIST (``elem`` items; ``list_type`` "atomic",
    "set" or "map" with ``keys``) or UNTYPED (shape deduced from the value:
    maps granular, lists atomic, as structured-merge-diff's deduced type).
    """

    __slots__ = (
        "atomic",
        "elem",
        "field_strategies",
        "fields",
        "key_defaults",
        "keys",
        "kind",
        "list_type",
        "merge_key",
        "patch_strategy",
    )

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.fields: dict[str, Node] = {}
        # Patch strategies of struct fields that are not lists ("replace", "retainKeys").
        self.field_strategies: dict[str, str] = {}
        self.elem: Node | None = None
        self.atomic = False
        self.list_type = "atomic"
        self.keys: tuple[str, ...] = ()
        self.key_defaults: dict[str, Any] = {}
        self.patch_strategy = ""
        self.merge_key = ""

    def child(self, name: str) -> Node:
        """The type of map entry ``name`` (untyped when the schema does not say)."""
        found = self.fields.get(name)
        if found is not None:
            return found
        return self.elem if self.elem is not None else UNTYPED_NODE

    def is_named_field(self, name: str) -> bool:
        return name in self.fields


UNTYPED_NODE = Node(UNTYPED)
_SCALAR_NODE = Node(SCALAR)


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

_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"


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


class _Definitions:
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
        self.defs[_INT_OR_STRING] = {
            "description": "IntOrString is a type that can hold an int32 or a string.",
            "type": "string",
            "format": "int-or-string",
        }
        self.defs[_QUANTITY] = {
            "description": "Quantity is a fixed-point representation of a number.",
            "type": "string",
        }
        self.defs[_TIME] = {
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
                return {"$ref": f"#/definitions/{_INT_OR_STRING}"}
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
                    "additionalProperties": {"$ref": f"#/definitions/{_QUANTITY}"},
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
            return {"$ref": f"#/definitions/{_TIME}"}
        if isinstance(hint, type) and hint in self.by_class:
            return {"$ref": f"#/definitions/{self.by_class[hint]}"}
        # typing.Any: RawExtension, JSON and friends accept any value.
        return {"x-kubernetes-preserve-unknown-fields": True}


_defs_lock = threading.Lock()
_defs: list[_Definitions] = []


def _definitions() -> _Definitions:
    """Built once per process (about 0.2 s), by whichever thread asks first."""
    if not _defs:
        with _defs_lock:
            if not _defs:
                _defs.append(_Definitions())
    return _defs[0]


# --- schema -> type tree ---------------------------------------------------------


class _TreeBuilder:
    def __init__(self, defs: Mapping[str, Mapping[str, Any]]) -> None:
        self.defs = defs
        self.by_ref: dict[str, Node] = {}

    def build(self, schema: Mapping[str, Any]) -> Node:
        ref = schema.get("$ref")
        if ref is None and len(schema.get("allOf") or ()) == 1:
            ref = schema["allOf"][0].get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in self.by_ref:
                return self.by_ref[name]
            target = self.defs.get(name)
            if target is None:
                return UNTYPED_NODE
            if target.get("type") == "object" or "properties" in target:
                node = Node(MAP)
                self.by_ref[name] = node  # before recursing: types may be recursive
                self._fill_map(node, target)
                return node
            node = self.build(target)
            self.by_ref[name] = node
            return node
        kind = schema.get("type")
        if kind == "array":
            return self._list(schema)
        if kind == "object" or "properties" in schema or "additionalProperties" in schema:
            node = Node(MAP)
            self._fill_map(node, schema)
            return node
        if kind in ("string", "integer", "number", "boolean") or schema.get(
            "x-kubernetes-int-or-string"
        ):
            return _SCALAR_NODE
        return UNTYPED_NODE

    def _fill_map(self, node: Node, schema: Mapping[str, Any]) -> None:
        for name, prop in (schema.get("properties") or {}).items():
            node.fields[name] = self.build(prop)
            strategy = prop.get("x-kubernetes-patch-strategy")
            if strategy and prop.get("type") != "array":
                node.field_strategies[name] = str(strategy)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            node.elem = self.build(extra)
        elif extra is True or schema.get("x-kubernetes-preserve-unknown-fields") or not node.fields:
            node.elem = UNTYPED_NODE
        node.atomic = schema.get("x-kubernetes-map-type") == "atomic"

    def _list(self, schema: Mapping[str, Any]) -> Node:
        node = Node(LIST)
        items = schema.get("items")
        node.elem = self.build(items) if isinstance(items, Mapping) else UNTYPED_NODE
        node.patch_strategy = str(schema.get("x-kubernetes-patch-strategy") or "")
        node.merge_key = str(schema.get("x-kubernetes-patch-merge-key") or "")
        list_type = schema.get("x-kubernetes-list-type")
        if list_type is None:
            # kube-openapi's schemaconv: a merge strategy stands for a list type.
            if "merge" in node.patch_strategy.split(","):
                list_type = "map" if node.merge_key else "set"
            else:
                list_type = "atomic"
        node.list_type = str(list_type)
        if node.list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or (
                [node.merge_key] if node.merge_key else []
            )
            node.keys = tuple(str(k) for k in keys)
            item_schema = self._resolve(items) if isinstance(items, Mapping) else {}
            for key in node.keys:
                prop = (item_schema.get("properties") or {}).get(key) or {}
                if "default" in prop:
                    node.key_defaults[key] = prop["default"]
        return node

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self.defs.get(ref.rsplit("/", 1)[-1], {})
        return schema


@functools.cache
def _builtin_tree() -> _TreeBuilder:
    return _TreeBuilder(_definitions().defs)


_tree_lock = threading.Lock()
_custom_nodes: dict[tuple[str, str, str, int], tuple[Mapping[str, Any], Node]] = {}


def node_for(rtype: kubetypes.ResourceType) -> Node:
    """The type tree of a resource (cached; custom resources per CRD schema object)."""
    if rtype.crd_schema is None:
        return _builtin_node(rtype.group, rtype.version, rtype.kind)
    key = (rtype.group, rtype.version, rtype.kind, id(rtype.crd_schema))
    cached = _custom_nodes.get(key)
    if cached is not None and cached[0] is rtype.crd_schema:
        return cached[1]
    with _tree_lock:
        node = _custom_node(rtype.crd_schema)
        if len(_custom_nodes) > 512:
            _custom_nodes.clear()
        # Keep the schema alive with the entry so its id cannot be reused.
        _custom_nodes[key] = (rtype.crd_schema, node)
    return node


@functools.cache
def _builtin_node(group: str, version: str, kind: str) -> Node:
    defs = _definitions()
    name = defs.by_gvk.get((group, version, kind))
    if name is None:
        return UNTYPED_NODE
    with _tree_lock:
        return _builtin_tree().build({"$ref": f"#/definitions/{name}"})


def _custom_node(schema: Mapping[str, Any]) -> Node:
    builder = _TreeBuilder(_definitions().defs)
    top = builder.build(schema)
    node = Node(MAP)
    if top.kind == MAP:
        node.fields.update(top.fields)
        node.elem = top.elem
    else:
        node.elem = UNTYPED_NODE
    node.fields["apiVersion"] = _SCALAR_NODE
    node.fields["kind"] = _SCALAR_NODE
    node.fields["metadata"] = builder.build({"$ref": f"#/definitions/{_OBJECT_META}"})
    return node


# --- OpenAPI documents ---------------------------------------------------------------


def _reverse_group(group: str) -> str:
    return ".".join(reversed(group.split(".")))


def _custom_definition_name(rtype: kubetypes.ResourceType) -> str:
    return f"{_reverse_group(rtype.group)}.{rtype.version}.{rtype.kind}"


def _custom_definitions(rtype: kubetypes.ResourceType) -> dict[str, dict[str, Any]]:
    schema = dict(rtype.crd_schema or {})
    properties = dict(schema.get("properties") or {})
    gvk = {"group": rtype.group, "kind": rtype.kind, "version": rtype.version}
    properties["apiVersion"] = {
        "type": "string",
        "description": "APIVersion defines the versioned schema of this representation "
        "of an object.",
    }
    properties["kind"] = {
        "type": "string",
        "description": "Kind is a string value representing the REST resource this "
        "object represents.",
    }
    properties["metadata"] = {
        "$ref": f"#/definitions/{_OBJECT_META}",
        "description": "Standard object's metadata.",
    }
    schema["properties"] = properties
    schema.setdefault("type", "object")
    schema["x-kubernetes-group-version-kind"] = [gvk]
    name = _custom_definition_name(rtype)
    list_gvk = dict(gvk, kind=rtype.list_kind)
    listing = {
        "description": f"{rtype.list_kind} is a list of {rtype.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": properties["apiVersion"],
            "kind": properties["kind"],
            "items": {"type": "array", "items": {"$ref": f"#/definitions/{name}"}},
            "metadata": {"$ref": f"#/definitions/{_LIST_META}"},
        },
        "x-kubernetes-group-version-kind": [list_gvk],
    }
    return {name: schema, f"{name}List": listing}


def _definition_name(rtype: kubetypes.ResourceType, list_kind: bool = False) -> str | None:
    if rtype.is_custom:
        name = _custom_definition_name(rtype)
        return f"{name}List" if list_kind else name
    kind = rtype.list_kind if list_kind else rtype.kind
    return _definitions().by_gvk.get((rtype.group, rtype.version, kind))


def _reachable(roots: Sequence[str], defs: Mapping[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen or name not in defs:
            continue
        seen[name] = None
        stack.extend(_refs(defs[name]))
    return sorted(seen)


def _refs(schema: Any) -> list[str]:
    found: list[str] = []
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value.rsplit("/", 1)[-1])
            else:
                found.extend(_refs(value))
    elif isinstance(schema, list):
        for item in schema:
            found.extend(_refs(item))
    return found


_COMMON_META = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
)


def _patch_definition() -> dict[str, Any]:
    return {
        "description": "Patch is provided to give a concrete name and type to the Kubernetes "
        "PATCH request body.",
        "type": "object",
    }


def _collect(types: Sequence[kubetypes.ResourceType]) -> dict[str, dict[str, Any]]:
    """Definitions (v2 refs) needed for ``types``, custom resources included."""
    defs = _definitions().defs
    extra: dict[str, dict[str, Any]] = {
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": _patch_definition()
    }
    roots: list[str] = list(_COMMON_META)
    for rtype in types:
        if rtype.is_custom:
            extra.update(_custom_definitions(rtype))
            continue
        for list_kind in (False, True):
            name = _definition_name(rtype, list_kind)
            if name is not None:
                roots.append(name)
    for schema in extra.values():
        roots.extend(_refs(schema))
    merged: dict[str, dict[str, Any]] = {name: defs[name] for name in _reachable(roots, defs)}
    merged.update(extra)
    return dict(sorted(merged.items()))


# Query parameters of write operations: kubectl's QueryParamVerifier looks for
# fieldValidation (and dryRun) on the PATCH operation of a kind's path.
def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "type": kind,
        "uniqueItems": True,
    }


_DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted.")
_FIELD_MANAGER = _query(
    "fieldManager", "fieldManager is a name associated with the actor making these changes."
)
_FIELD_VALIDATION = _query(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request containing "
    "unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.",
)
_FORCE = _query("force", 'Force is going to "force" Apply requests.', "boolean")
_PRETTY = _query("pretty", "If 'true', then the output is pretty printed.")
_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


def _operations(
    rtype: kubetypes.ResourceType, definition: str, list_definition: str | None
) -> dict[str, dict[str, Any]]:
    """The v2 path items of one resource: collection, item, and status subresource."""
    gvk = {"group": rtype.group, "kind": rtype.kind, "version": rtype.version}
    base = "/api/v1" if not rtype.group else f"/apis/{rtype.group}/{rtype.version}"
    scope = f"{base}/namespaces/{{namespace}}" if rtype.namespaced else base
    tag = (rtype.group or "core").split(".")[0] + "_" + rtype.version
    ref = {"$ref": f"#/definitions/{definition}"}
    namespace_param = {
        "name": "namespace",
        "in": "path",
        "required": True,
        "type": "string",
        "uniqueItems": True,
        "description": "object name and auth scope, such as for teams and projects",
    }
    name_param = dict(namespace_param, name="name", description=f"name of the {rtype.kind}")
    scope_params = [namespace_param] if rtype.namespaced else []
    body = {"name": "body", "in": "body", "required": True, "schema": ref}
    patch_body = {
        "name": "body",
        "in": "body",
        "required": True,
        "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"},
    }
    patch_types = [t for t in _PATCH_TYPES if not (rtype.is_custom and "strategic" in t)]
    ok = {"200": {"description": "OK", "schema": ref}}

    def op(action: str, verb: str, **extra: Any) -> dict[str, Any]:
        return {
            "operationId": f"{verb}{rtype.kind}",
            "tags": [tag],
            "consumes": ["*/*"],
            "produces": ["application/json", "application/yaml"],
            "schemes": ["https"],
            "responses": ok,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            **extra,
        }

    write = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
    collection: dict[str, Any] = {
        "post": op("post", "create", parameters=[body, *write]),
        "parameters": [*scope_params, _PRETTY],
    }
    if list_definition is not None:
        list_ok = {
            "200": {"description": "OK", "schema": {"$ref": f"#/definitions/{list_definition}"}}
        }
        collection["get"] = op("list", "list", responses=list_ok)
    item: dict[str, Any] = {
        "get": op("get", "read"),
        "put": op("put", "replace", parameters=[body, *write]),
        "patch": op(
            "patch", "patch", consumes=patch_types, parameters=[patch_body, *write, _FORCE]
        ),
        "delete": op("delete", "delete", parameters=[_DRY_RUN]),
        "parameters": [name_param, *scope_params, _PRETTY],
    }
    paths = {f"{scope}/{rtype.plural}": collection, f"{scope}/{rtype.plural}/{{name}}": item}
    if "status" in rtype.subresources:
        status = {
            "get": op("get", "read", operationId=f"read{rtype.kind}Status"),
            "put": op(
                "put",
                "replace",
                operationId=f"replace{rtype.kind}Status",
                parameters=[body, *write],
            ),
            "patch": op(
                "patch",
                "patch",
                operationId=f"patch{rtype.kind}Status",
                consumes=patch_types,
                parameters=[patch_body, *write, _FORCE],
            ),
            "parameters": [name_param, *scope_params, _PRETTY],
        }
        paths[f"{scope}/{rtype.plural}/{{name}}/status"] = status
    return paths


def _paths_v2(types: Sequence[kubetypes.ResourceType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for rtype in types:
        name = _definition_name(rtype)
        if name is None:
            continue
        paths.update(_operations(rtype, name, _definition_name(rtype, True)))
    return dict(sorted(paths.items()))


def _cache_key(types: Sequence[kubetypes.ResourceType]) -> tuple[Any, ...]:
    return tuple((t, id(t.crd_schema)) for t in types)


class _DocumentCache:
    """Documents built once per set of served types (kubectl asks on every call)."""

    def __init__(self, size: int = 96) -> None:
        self._entries: dict[tuple[Any, ...], tuple[Sequence[kubetypes.ResourceType], Any]] = {}
        self._size = size
        self._lock = threading.Lock()

    def get(self, kind: str, types: Sequence[kubetypes.ResourceType], build: Any) -> Any:
        key = (kind, *_cache_key(types))
        found = self._entries.get(key)
        if found is not None:
            return found[1]
        value = build()
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries.pop(next(iter(self._entries)))
            # Holding ``types`` keeps every CRD schema alive, so ids stay unique.
            self._entries[key] = (tuple(types), value)
        return value


_cache = _DocumentCache()


def openapi_v2(types: Sequence[kubetypes.ResourceType]) -> dict[str, Any]:
    """``/openapi/v2``: swagger 2.0 with definitions and paths for ``types``."""

    def build() -> dict[str, Any]:
        return {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.37.1"},
            "paths": _paths_v2(types),
            "definitions": _collect(types),
        }

    result: dict[str, Any] = _cache.get("v2", types, build)
    return result


def _group_version_of(rtype: kubetypes.ResourceType) -> str:
    return f"api/{rtype.version}" if not rtype.group else f"apis/{rtype.group}/{rtype.version}"


_NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "definitions"})


def _to_v3(schema: Any) -> Any:
    """v2 schema -> v3: refs move to components, $ref with siblings goes in allOf."""
    if isinstance(schema, Mapping):
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = "#/components/schemas/" + value.rsplit("/", 1)[-1]
            elif key in _NAMED_SCHEMAS and isinstance(value, Mapping):
                # Keys here are field names (JSONSchemaProps has one called "$ref").
                out[key] = {name: _to_v3(sub) for name, sub in value.items()}
            else:
                out[key] = _to_v3(value)
        if "$ref" in out and len(out) > 1:
            ref = out.pop("$ref")
            out["allOf"] = [{"$ref": ref}]
        return out
    if isinstance(schema, list):
        return [_to_v3(item) for item in schema]
    return schema


def _v3_operation(operation: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    parameters: list[Any] = []
    request: dict[str, Any] | None = None
    for param in operation.get("parameters", []):
        if param.get("in") == "body":
            content_types = operation.get("consumes", ["*/*"])
            schema = _to_v3(param["schema"])
            request = {"content": {t: {"schema": schema} for t in content_types}, "required": True}
        else:
            parameters.append(_v3_parameter(param))
    for key, value in operation.items():
        if key in ("parameters", "consumes", "produces", "schemes"):
            continue
        if key == "responses":
            out[key] = {
                code: {
                    "description": response["description"],
                    "content": {
                        t: {"schema": _to_v3(response["schema"])}
                        for t in operation.get("produces", ["application/json"])
                    },
                }
                for code, response in value.items()
            }
        else:
            out[key] = value
    if parameters:
        out["parameters"] = parameters
    if request is not None:
        out["requestBody"] = request
    return out


def _v3_parameter(param: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in param.items() if k not in ("type", "uniqueItems")}
    out["schema"] = {"type": param.get("type", "string"), "uniqueItems": True}
    return out


def _build_v3(group_version: str, types: Sequence[kubetypes.ResourceType]) -> dict[str, Any]:
    selected = [t for t in types if _group_version_of(t) == group_version]
    paths: dict[str, Any] = {}
    for path, item in _paths_v2(selected).items():
        converted: dict[str, Any] = {}
        for method, operation in item.items():
            if method == "parameters":
                converted[method] = [_v3_parameter(p) for p in operation]
            else:
                converted[method] = _v3_operation(operation)
        paths[path] = converted
    schemas = {name: _to_v3(schema) for name, schema in _collect(selected).items()}
    # OpenAPI v3 can say what v2 could not: these take a string or a number.
    if _INT_OR_STRING in schemas:
        schemas[_INT_OR_STRING] = {
            "description": schemas[_INT_OR_STRING]["description"],
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        }
    if _QUANTITY in schemas:
        schemas[_QUANTITY] = {
            "description": schemas[_QUANTITY]["description"],
            "oneOf": [{"type": "string"}, {"type": "number"}],
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _hash(document: Any) -> str:
    return hashlib.sha512(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest().upper()


def openapi_v3_group_version(
    group_version: str, types: Sequence[kubetypes.ResourceType]
) -> dict[str, Any]:
    """``/openapi/v3/api/v1`` or ``/openapi/v3/apis/{group}/{version}`` (no leading slash
    needed: "apis/apps/v1", "/apis/apps/v1" and "apps/v1" name the same document)."""
    key = group_version.strip("/")
    if key.startswith("openapi/v3/"):
        key = key[len("openapi/v3/") :]
    if not key.startswith(("api/", "apis/")):
        key = f"apis/{key}" if "/" in key else f"api/{key}"

    def build() -> dict[str, Any]:
        return _build_v3(key, types)

    result: dict[str, Any] = _cache.get(f"v3:{key}", types, build)
    return result


def openapi_v3_index(types: Sequence[kubetypes.ResourceType]) -> dict[str, Any]:
    """``/openapi/v3``: one entry per served group version, with a content hash."""

    def build() -> dict[str, Any]:
        paths: dict[str, Any] = {}
        for group_version in sorted({_group_version_of(t) for t in types}):
            document = openapi_v3_group_version(group_version, types)
            paths[group_version] = {
                "serverRelativeURL": f"/openapi/v3/{group_version}?hash={_hash(document)}"
            }
        return {"paths": paths}

    result: dict[str, Any] = _cache.get("v3index", types, build)
    return result
