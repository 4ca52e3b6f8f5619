"""Value types of request bodies, checked against the served OpenAPI schemas.

A ConfigMap value written as an unquoted YAML number, a replica count written
as a string: kube-apiserver refuses these, in three different voices, and
clients branch on the difference:

* built-in kinds fail to decode into their Go types (400 BadRequest,
  ``json: cannot unmarshal number into Go struct field ConfigMap.data of type string``);
* server-side apply fails to build its typed patch (400,
  ``failed to create typed patch object ...: .data.k: expected string, got numeric``);
* custom resources fail schema validation (422 Invalid with one cause per field,
  ``spec.size in body must be of type integer: "string"``).

Schemas come from :mod:`.openapi` (built-in OpenAPI v3 components, or the
CRD's openAPIV3Schema). Called by :mod:`.handling` on every write.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from gitward.testing.kubeapi import openapi, types, validating

Schema = Mapping[str, Any]


class _Mismatch:
    __slots__ = ("expected", "go_path", "go_type", "got", "path", "struct", "value")

    def __init__(
        self, path: str, expected: str, got: str, value: Any, go_type: str, struct: str
    ) -> None:
        self.go_path = ""
        self.path = path
        self.expected = expected
        self.got = got
        self.value = value
        self.go_type = go_type
        self.struct = struct


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


@functools.lru_cache(maxsize=256)
def _components(group_version: str, rtype: types.ResourceType) -> tuple[Schema, str]:
    doc = openapi.openapi_v3_group_version(group_version, [rtype])
    components: Schema = doc.get("components", {}).get("schemas", {})
    for name, schema in components.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            if (gvk.get("group"), gvk.get("version"), gvk.get("kind")) == (
                rtype.group,
                rtype.version,
                rtype.kind,
            ):
                return components, name
    return components, ""


class _Walker:
    def __init__(self, components: Schema) -> None:
        self.components = components

    def _resolve(self, schema: Schema, struct: str) -> tuple[Schema, str]:
        """Follow $ref and single allOf wrappers; returns the schema and its struct name."""
        for _ in range(16):
            ref = schema.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[-1]
                struct = name.rsplit(".", 1)[-1]
                schema = self.components.get(name, {})
                if name.endswith(".Quantity"):
                    return {"x-kubernetes-int-or-string": True}, struct
                continue
            all_of = schema.get("allOf")
            if isinstance(all_of, list) and len(all_of) == 1 and not schema.get("type"):
                schema = all_of[0]
                continue
            break
        return schema, struct

    def _go_type(self, schema: Schema) -> str:
        kind = schema.get("type")
        if kind == "integer":
            return str(schema.get("format") or "int")
        if kind == "number":
            return "float64"
        if kind == "boolean":
            return "bool"
        if kind == "array":
            items, struct = self._resolve(schema.get("items") or {}, "")
            return "[]" + (f"v1.{struct}" if items.get("properties") else self._go_type(items))
        if kind == "object":
            extra = schema.get("additionalProperties")
            if isinstance(extra, Mapping):
                inner, _ = self._resolve(extra, "")
                return f"map[string]{self._go_type(inner)}"
            return "struct"
        return "string"

    def walk(
        self, value: Any, schema: Schema, path: str, struct: str, go_path: str
    ) -> Iterator[_Mismatch]:
        schema, struct = self._resolve(schema, struct)
        if value is None or not schema:
            return
        if schema.get("x-kubernetes-int-or-string"):
            if _json_type(value) not in ("integer", "string", "number"):
                mismatch = _Mismatch(
                    path, "integer or string", _json_type(value), value, "string", struct
                )
                mismatch.go_path = go_path
                yield mismatch
            return
        expected = schema.get("type")
        got = _json_type(value)
        if (
            isinstance(expected, str)
            and expected != got
            and not (expected == "number" and got == "integer")
        ):
            mismatch = _Mismatch(path, expected, got, value, self._go_type(schema), struct)
            # Go names struct fields only: no map keys, no list indices.
            mismatch.go_path = go_path
            yield mismatch
            return
        if isinstance(value, dict):
            properties = schema.get("properties") or {}
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                child_path = f"{path}.{key}" if path else str(key)
                if child_path == "metadata.managedFields":
                    continue  # server-owned; its fieldsV1 schema is free-form upstream
                child_go = f"{go_path}.{key}" if go_path else str(key)
                if key in properties:
                    yield from self.walk(item, properties[key], child_path, struct, child_go)
                elif isinstance(extra, Mapping):
                    yield from self.walk(item, extra, child_path, struct, go_path)
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, Mapping):
                for i, item in enumerate(value):
                    yield from self.walk(item, items, f"{path}[{i}]", struct, go_path)


def _mismatches(rtype: types.ResourceType, obj: Mapping[str, Any]) -> list[_Mismatch]:
    if rtype.crd_schema is not None:
        return list(_Walker({}).walk(obj, rtype.crd_schema, "", rtype.kind, ""))
    components, name = _components(rtype.group_version, rtype)
    if not name:
        return []
    root = {"$ref": f"#/components/schemas/{name}"}
    return list(_Walker(components).walk(obj, root, "", rtype.kind, ""))


_GO_JSON = {
    "integer": "number",
    "number": "number",
    "boolean": "bool",
    "array": "array",
    "object": "object",
    "string": "string",
}
_SMD = {
    "integer": "numeric",
    "number": "numeric",
    "boolean": "boolean",
    "array": "list",
    "object": "map",
    "string": "string",
    "integer or string": "string or numeric",
}


def check_decoded(rtype: types.ResourceType, obj: Mapping[str, Any]) -> None:
    """Built-in kinds: 400 as Go's JSON decoding reports the first mismatch."""
    if rtype.crd_schema is not None:
        return
    found = _mismatches(rtype, obj)
    if found:
        first = found[0]
        raise validating.bad_request(
            f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
            f"json: cannot unmarshal {_GO_JSON[first.got]} into Go struct field "
            f"{first.struct}.{first.go_path} of type {first.go_type}"
        )


def check_applied(rtype: types.ResourceType, applied: Mapping[str, Any]) -> None:
    """Server-side apply: 400 when the applied configuration does not fit the schema."""
    found = _mismatches(rtype, applied)
    if found:
        problems = ", ".join(
            f".{m.path}: expected {_SMD.get(m.expected, m.expected)}, got {_SMD[m.got]}"
            for m in found
        )
        raise validating.bad_request(
            f"failed to create typed patch object ({rtype.group}/{rtype.version}, "
            f"Kind={rtype.kind}): {problems}"
        )


def check_custom(rtype: types.ResourceType, obj: Mapping[str, Any]) -> None:
    """Custom resources: 422 Invalid listing every field of the wrong type."""
    if rtype.crd_schema is None:
        return
    found = _mismatches(rtype, obj)
    if found:
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise validating.invalid(
            rtype,
            name,
            [
                validating.Cause(
                    "FieldValueTypeInvalid",
                    m.path,
                    f'Invalid value: "{m.got}": {m.path} in body must be of type '
                    f'{m.expected}: "{m.got}"',
                )
                for m in found
            ],
        )
