"""OpenAPI documents the Kubernetes API test server serves.

:func:`openapi_v2`, :func:`openapi_v3_index` and :func:`openapi_v3_group_version`
give kubectl (explain, apply, edit, diff, client-side validation) what it finds
on a real cluster: the definitions of :mod:`.modeldefs` (built-in kinds) and
of each CRD's schema (custom resources), the paths and operations of every
served resource with their query parameters, v3 documents per group version
addressed by hash. Documents are built once per set of served types and
cached. Called by :mod:`.documents` and :mod:`.typechecking`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from gitward.testing.kubeapi import modeldefs
from gitward.testing.kubeapi import types as kubetypes

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
        "$ref": f"#/definitions/{modeldefs.OBJECT_META}",
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
            "metadata": {"$ref": f"#/definitions/{modeldefs.LIST_META}"},
        },
        "x-kubernetes-group-version-kind": [list_gvk],
    }
    return {name: schema, f"{name}List": listing}


def _definition_name(rtype: kubetypes.ResourceType, list_kind: bool = False) -> str | None:
    if rtype.is_custom:
        name = _custom_definition_name(rtype)
        return f"{name}List" if list_kind else name
    kind = rtype.list_kind if list_kind else rtype.kind
    return modeldefs.definitions().by_gvk.get((rtype.group, rtype.version, kind))


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
    defs = modeldefs.definitions().defs
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
    if modeldefs.INT_OR_STRING in schemas:
        schemas[modeldefs.INT_OR_STRING] = {
            "description": schemas[modeldefs.INT_OR_STRING]["description"],
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        }
    if modeldefs.QUANTITY in schemas:
        schemas[modeldefs.QUANTITY] = {
            "description": schemas[modeldefs.QUANTITY]["description"],
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
