"""Reading a SOPS-encrypted YAML file the way sops itself read it (go-yaml v3).

Private to ``render.sops``. The additional data of every encrypted value is its
key path, and the MAC hashes every unencrypted value, so keys and plain
scalars must be understood exactly as sops understood them when it encrypted
the file: YAML 1.2 core resolution as go-yaml v3 does it (``yes`` and ``on``
stay strings, ``017`` is octal, ``1_000`` is an int, timestamps are
``time.Time``), and ``<<`` as an ordinary key (sops walks yaml.Node trees,
where a merge key is just a key; it is merged after decryption). The text has
already passed ``render.loading``'s guards (size, depth, aliases, duplicate
keys) before it reaches this parser.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from gitward.render import _sops_values

_PLAIN = "tag:gitward.dev,2026:sops-plain"
_WORDS: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_STAMP = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:([Tt ])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
_UINT64 = 2**64 - 1


def _timestamp(text: str) -> _sops_values.Spelled | None:
    """go-yaml v3's timestamp forms; the MAC spelling is Go's RFC 3339 (nano)."""
    match = _STAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, sep, hour, minute, second, fraction, zone = match.groups()
    if sep is not None and (sep == " ") == (zone is not None):
        return None  # `T` needs a zone, a space forbids one
    try:
        datetime.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    canonical = (
        f"{int(year):04d}-{int(month):02d}-{int(day):02d}T"
        f"{int(hour or 0):02d}:{int(minute or 0):02d}:{int(second or 0):02d}"
    )
    digits = (fraction or "")[:9].rstrip("0")
    if digits:
        canonical += "." + digits
    canonical += "Z" if zone in (None, "Z", "+00:00", "-00:00") else zone
    return _sops_values.Spelled.of(text, canonical.encode())


def _int(text: str) -> int | None:
    match = _INT.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    if digits[:2].lower() in ("0x", "0o", "0b"):
        value = int(digits, 0)
    elif digits.startswith("0"):
        value = int(digits, 8)  # Go's base-0 rule: a leading 0 is octal
    else:
        value = int(digits)
    value = -value if sign == "-" else value
    return value if -(2**63) <= value <= _UINT64 else None


def resolve_plain(text: str) -> Any:
    """The value go-yaml v3 gives an untagged plain scalar."""
    if text in _WORDS or text == "<<":
        return _WORDS.get(text, text)
    first = text[0]
    if first == ".":
        return float(text) if _DOT_FLOAT.fullmatch(text) else text
    if first.isdigit() or first in "+-":
        stamp = _timestamp(text)
        if stamp is not None:
            return stamp
        plain = text.replace("_", "")
        number = _int(plain)
        if number is not None:
            return number
        if _FLOAT.fullmatch(plain):
            return float(plain)
    return text


class _Loader(yaml.CSafeLoader):
    """CSafeLoader resolving scalars as go-yaml v3 and keeping ``<<`` as a key."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else "tag:yaml.org,2002:str"
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]

    def flatten_mapping(self, node: Any) -> None:
        return None

    def construct_plain(self, node: yaml.ScalarNode) -> Any:
        return resolve_plain(str(node.value))

    def construct_binary(self, node: yaml.ScalarNode) -> Any:
        text = "".join(str(node.value).split())
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise yaml.constructor.ConstructorError(
                None, None, "invalid base64 in a !!binary value", node.start_mark
            ) from None
        return _sops_values.Spelled.of(text, raw)

    def construct_text(self, node: yaml.ScalarNode) -> Any:
        return str(node.value)


_Loader.add_constructor(_PLAIN, _Loader.construct_plain)
_Loader.add_constructor("tag:yaml.org,2002:binary", _Loader.construct_binary)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_text)
# sops writes merge keys back as `!!merge <<:`; they stay keys until decrypted.
_Loader.add_constructor("tag:yaml.org,2002:merge", _Loader.construct_text)


def load(text: str) -> list[Any]:
    """Every document of ``text`` (``None`` for empty ones). Raises ``yaml.YAMLError``."""
    loader: Any = _Loader(text)
    try:
        documents: list[Any] = []
        while loader.check_data():
            documents.append(loader.get_data())
        return documents
    finally:
        loader.dispose()


def merge_keys(value: Any) -> Any:
    """``value`` with YAML ``<<`` merge keys applied (explicit keys win, the
    first of several merged mappings wins), as Kubernetes reads the file."""
    if isinstance(value, list):
        return [merge_keys(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    merged: dict[str, Any] = {}
    sources = value.get("<<")
    if isinstance(sources, Mapping):
        sources = [sources]
    if isinstance(sources, list) and all(isinstance(s, Mapping) for s in sources):
        for source in reversed(sources):
            merged.update(merge_keys(source))
        rest = {k: v for k, v in value.items() if k != "<<"}
    else:
        rest = dict(value)
    for key, item in rest.items():
        merged[key] = merge_keys(item)
    return merged
