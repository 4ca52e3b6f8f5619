"""Decoding of the Kubernetes protobuf request bodies that kubectl's generators send.

``kubectl create namespace|configmap|secret|serviceaccount`` post typed objects
as ``application/vnd.kubernetes.protobuf`` (the ``k8s\\0`` envelope around a
``runtime.Unknown``), and client-go never falls back to JSON for them. This
module turns those few types into the JSON-shaped dicts the rest of the server
works with, using their field numbers from k8s.io/api's generated.proto.
Other kinds answer 415 (clients that send JSON or YAML work for every kind).
Called by :func:`decoding.decode_body`.

It also encodes the protobuf OpenAPI v2 document client-go asks for when
OpenAPI v3 has no entry for a kind (an unknown or brand-new kind): a valid
gnostic ``Document`` without definitions, so kubectl goes on to report the kind
as unknown instead of failing to parse. The full documents are served as JSON
(v2) and through OpenAPI v3, which kubectl 1.37 uses for everything else.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from gitward.testing.kubeapi import validating

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
OPENAPI_V2_MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
# What the answer is labelled: Go's mime parser rejects the "@" of the Accept form.
OPENAPI_V2_RESPONSE_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_MAGIC = b"k8s\x00"

# Field number -> (JSON name, type). Types: str, bool, int, bytes (base64 in
# JSON), time, [x] for repeated x, {str: x} for maps, or a message name.
_Spec = dict[int, tuple[str, Any]]

_MESSAGES: dict[str, _Spec] = {
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "rawbytes"), 4: ("contentType", "str")},
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "ObjectMeta": {
        1: ("name", "str"),
        2: ("generateName", "str"),
        3: ("namespace", "str"),
        5: ("uid", "str"),
        6: ("resourceVersion", "str"),
        7: ("generation", "int"),
        8: ("creationTimestamp", "time"),
        11: ("labels", {"str": "str"}),
        12: ("annotations", {"str": "str"}),
        13: ("ownerReferences", ["OwnerReference"]),
        14: ("finalizers", ["str"]),
    },
    "OwnerReference": {
        1: ("kind", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
        5: ("apiVersion", "str"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    "Namespace": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NamespaceSpec"),
        3: ("status", "NamespaceStatus"),
    },
    "NamespaceSpec": {1: ("finalizers", ["str"])},
    "NamespaceStatus": {1: ("phase", "str")},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", {"str": "str"}),
        3: ("binaryData", {"str": "bytes"}),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", {"str": "bytes"}),
        3: ("type", "str"),
        4: ("stringData", {"str": "str"}),
        5: ("immutable", "bool"),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
        2: ("secrets", ["ObjectReference"]),
        3: ("imagePullSecrets", ["LocalObjectReference"]),
        4: ("automountServiceAccountToken", "bool"),
    },
    "ObjectReference": {
        1: ("kind", "str"),
        2: ("namespace", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
        5: ("apiVersion", "str"),
        6: ("resourceVersion", "str"),
        7: ("fieldPath", "str"),
    },
    "LocalObjectReference": {1: ("name", "str")},
}

_TOP_LEVEL = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount")}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _scalar(kind: Any, value: int | bytes) -> Any:
    if kind == "str":
        return value.decode() if isinstance(value, bytes) else str(value)
    if kind == "bytes":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else ""
    if kind == "rawbytes":
        return value
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return value if isinstance(value, int) else 0
    if kind == "time":
        stamp = _message("Time", value) if isinstance(value, bytes) else {}
        if not stamp.get("seconds"):
            return None
        moment = datetime.datetime.fromtimestamp(stamp["seconds"], datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(kind, str) and isinstance(value, bytes):
        return _message(kind, value)
    raise ValueError(f"unexpected value for {kind}")


def _message(name: str, data: bytes) -> dict[str, Any]:
    spec = _MESSAGES[name]
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in spec:
            continue
        field, kind = spec[number]
        if isinstance(kind, list):
            out.setdefault(field, []).append(_scalar(kind[0], value))
        elif isinstance(kind, dict):
            if not isinstance(value, bytes):
                raise ValueError(f"map entry {field} is not length-delimited")
            entry = dict(_fields(value))
            key = _scalar("str", entry.get(1, b""))
            out.setdefault(field, {})[key] = _scalar(next(iter(kind.values())), entry.get(2, b""))
        else:
            out[field] = _scalar(kind, value)
    # Go's JSON encoding omits empty optional fields; do the same.
    return {k: v for k, v in out.items() if v not in ("", 0, False, None) or isinstance(v, dict)}


def decode(raw: bytes) -> dict[str, Any]:
    """The JSON-shaped object inside a Kubernetes protobuf envelope (400/415 if not served)."""
    if not raw.startswith(_MAGIC):
        raise validating.bad_request("protobuf body lacks the k8s envelope")
    try:
        unknown = _message("Unknown", raw[len(_MAGIC) :])
        type_meta = unknown.get("typeMeta") or {}
        key = (type_meta.get("apiVersion", ""), type_meta.get("kind", ""))
        if key not in _TOP_LEVEL:
            raise validating.unsupported_media_type(
                MEDIA_TYPE, ["application/json", "application/yaml"]
            )
        obj = _message(key[1], unknown.get("raw", b""))
    except (ValueError, UnicodeDecodeError) as exc:
        raise validating.bad_request(f"error decoding protobuf body: {exc}") from exc
    return {"apiVersion": key[0], "kind": key[1], **obj}


def _length_delimited(number: int, payload: bytes) -> bytes:
    out = bytearray([number << 3 | 2])
    length = len(payload)
    while length >= 0x80:
        out.append(length & 0x7F | 0x80)
        length >>= 7
    out.append(length)
    return bytes(out) + payload


def openapi_v2_document() -> bytes:
    """gnostic openapi_v2.Document{swagger: "2.0", info: {title, version}}."""
    info = _length_delimited(1, b"Kubernetes") + _length_delimited(2, b"v1.37.1")
    return _length_delimited(1, b"2.0") + _length_delimited(2, info)
