"""Type trees of the Kubernetes API test server's resources.

The semantics modules (:mod:`.applying`, :mod:`.fieldsets`, :mod:`.patching`,
:mod:`.pruning`, :mod:`.typechecking`) ask :func:`node_for` for the type tree
of a resource: which maps are atomic, which lists are sets, associative (with
their keys) or atomic, and the strategic-merge patch strategy of each list.

Built-in kinds take their tree from the definitions of :mod:`.modeldefs`
(the lightkube models plus the extensions the real schema carries). Custom
resources take theirs from the CRD's ``openAPIV3Schema`` exactly as
kube-apiserver does (schemaconv): an explicit ``x-kubernetes-list-type`` wins,
a patch strategy ``merge`` with a key makes an associative list, every other
list is atomic. The served OpenAPI documents are :mod:`.openapi`'s.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any

from gitward.testing.kubeapi import modeldefs
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
    return _TreeBuilder(modeldefs.definitions().defs)


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
    defs = modeldefs.definitions()
    name = defs.by_gvk.get((group, version, kind))
    if name is None:
        return UNTYPED_NODE
    with _tree_lock:
        return _builtin_tree().build({"$ref": f"#/definitions/{name}"})


def _custom_node(schema: Mapping[str, Any]) -> Node:
    builder = _TreeBuilder(modeldefs.definitions().defs)
    top = builder.build(schema)
    node = Node(MAP)
    if top.kind == MAP:
        node.fields.update(top.fields)
        node.elem = top.elem
    else:
        node.elem = UNTYPED_NODE
    node.fields["apiVersion"] = _SCALAR_NODE
    node.fields["kind"] = _SCALAR_NODE
    node.fields["metadata"] = builder.build({"$ref": f"#/definitions/{modeldefs.OBJECT_META}"})
    return node
