"""Request bodies of the Kubernetes API test server: JSON, YAML and protobuf.

Create and update bodies (:func:`decode_body`) and server-side apply
configurations (:func:`decode_apply`) are decoded here into plain objects,
with the 400 and 415 answers kube-apiserver gives for what it cannot read.
Called by the HTTP layer (:mod:`.serving`) and the write handlers
(:mod:`.handling`).
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from gitward.testing.kubeapi import protobufs, validating


def decode_apply(raw: bytes) -> dict[str, Any]:
    # kubectl and gitward send the applied configuration as JSON (YAML's
    # subset): decoded as JSON it costs a tenth of the YAML loader's time. Like
    # kube-apiserver, anything that is not JSON is read as YAML.
    if raw.lstrip()[:1] == b"{":
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(decoded, dict):
                return decoded
    try:
        doc = yaml.load(raw, Loader=_SafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise validating.bad_request(f"error decoding YAML: {_first_line(exc)}") from exc
    if not isinstance(doc, dict):
        raise validating.bad_request(
            "error decoding YAML: the applied configuration must be an object"
        )
    return doc


class _SafeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML loader that keeps timestamps as the strings clients sent."""


_SafeLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_BODY_TYPES = frozenset(
    {"", "application/json", "application/yaml", "application/x-yaml", "text/yaml"}
)


def decode_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """Decode a create/update body (JSON or YAML) into an object, 400 when malformed."""
    if content_type == protobufs.MEDIA_TYPE:
        return protobufs.decode(raw)
    if content_type not in _BODY_TYPES:
        raise validating.unsupported_media_type(content_type, sorted(_BODY_TYPES - {""}))
    if not raw.strip():
        raise validating.bad_request("the request body is empty")
    if content_type in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            doc: Any = yaml.load(raw, Loader=_SafeLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise validating.bad_request(f"error decoding YAML: {_first_line(exc)}") from exc
    else:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise validating.bad_request(
                f"couldn't get version/kind; json parse error: {exc}"
            ) from exc
    if not isinstance(doc, dict):
        raise validating.bad_request(
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{type(doc).__name__} into Go value of type struct"
        )
    return doc


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
