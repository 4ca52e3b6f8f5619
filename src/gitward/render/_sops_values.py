"""SOPS's cryptography, re-implemented: metadata, data key recovery, values, MAC.

Private to ``render.sops``, which parses files and calls :func:`decrypt_tree`.
The rules follow getsops/sops (``aes/cipher.go``, ``sops.go``,
``stores/stores.go``, ``shamir/``) exactly, because a file encrypted by the
real ``sops`` must decrypt here byte for byte:

* every value is ``ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]``, sealed
  with AES-256-GCM under the file's data key; the additional data is the path
  of keys to the value joined with ``:`` plus a trailing ``:`` (list items
  share their list's path);
* which values are encrypted is decided per path by ``unencrypted_suffix``
  (default ``_unencrypted``), ``encrypted_suffix``, ``unencrypted_regex`` or
  ``encrypted_regex`` (at most one), matched against every key of the path;
* the MAC is the upper-case hex SHA-512 over the plaintext of every value in
  tree order (only encrypted ones, after a fixed prefix, when
  ``mac_only_encrypted``), stored sealed with ``lastmodified`` (RFC 3339) as
  additional data; nulls and comments take no part;
* the data key is age-encrypted once per recipient; with several key groups it
  is split by Shamir's scheme over GF(2^8) and recombined from the groups.

Nothing here logs, and no error message carries a decrypted value or a key.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import hashlib
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyrage
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gitward import errors

# sha256("sops"): sops seeds the MAC with it when mac_only_encrypted is set, so
# the two MAC flavours of one tree never coincide.
_MAC_ONLY_ENCRYPTED_SEED = bytes.fromhex(
    "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69"
)
_ENC = re.compile(r"ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]", re.DOTALL)
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_FLOAT_TEXT = re.compile(
    r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(?i:inf|infinity)|(?i:nan)"
)
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_INT64 = (-(2**63), 2**63 - 1)
_EXACT_FLOAT_INT = 2**53
KEY_TYPES = ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms")
_RULE_NAMES = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)


class Comment:
    """A comment met in a tree (dotenv ``#`` lines): walked over, never hashed."""

    __slots__ = ()


COMMENT = Comment()


class Spelled(str):
    """A scalar kept as the text written whose MAC bytes differ from that text:
    a YAML timestamp (sops hashes Go's ``MarshalText`` of the parsed time) or
    ``!!binary`` (sops hashes the decoded bytes)."""

    __slots__ = ("mac",)
    mac: bytes

    @classmethod
    def of(cls, text: str, mac: bytes) -> Spelled:
        spelled = cls(text)
        spelled.mac = mac
        return spelled


# --- Go-compatible spellings -----------------------------------------------------


def go_float(value: float) -> str:
    """``strconv.FormatFloat(value, 'f', -1, 64)``: shortest round-trip, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(decimal.Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _to_bytes(value: Any) -> bytes:
    """sops's ``ToBytes``: what a plaintext value contributes to the MAC."""
    if isinstance(value, Spelled):
        return value.mac
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return str(value).encode()
        return go_float(float(value)).encode()  # Go decodes it as a float64
    if isinstance(value, float):
        return go_float(value).encode()
    if isinstance(value, bytes):
        return value
    raise TypeError(type(value).__name__)


def lastmodified_text(value: Any, source: str) -> str:
    """``time.Parse(RFC3339)`` then ``Format(RFC3339)``: the MAC's additional data."""
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(value))
        except ValueError:
            raise errors.DecryptionError(
                f"{source}: sops.lastmodified {str(value)!r} is not an RFC 3339 time"
            ) from None
    if moment.tzinfo is None:
        raise errors.DecryptionError(f"{source}: sops.lastmodified has no time zone")
    offset = moment.utcoffset() or datetime.timedelta()
    if offset:
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    else:
        zone = "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + zone


# --- metadata --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stanza:
    """The data key (or a Shamir part of it) age-encrypted to one recipient."""

    recipient: str
    enc: str


@dataclass(frozen=True, slots=True)
class Rules:
    """Which paths hold encrypted values (sops's ``shouldBeEncrypted``)."""

    unencrypted_suffix: str = "_unencrypted"
    encrypted_suffix: str = ""
    unencrypted_regex: re.Pattern[str] | None = None
    encrypted_regex: re.Pattern[str] | None = None
    mac_only_encrypted: bool = False

    def encrypted(self, path: Sequence[str]) -> bool:
        result = True
        if self.unencrypted_suffix and any(k.endswith(self.unencrypted_suffix) for k in path):
            result = False
        if self.encrypted_suffix:
            result = any(k.endswith(self.encrypted_suffix) for k in path)
        if self.unencrypted_regex is not None and any(
            self.unencrypted_regex.search(k) for k in path
        ):
            result = False
        if self.encrypted_regex is not None:
            result = any(self.encrypted_regex.search(k) for k in path)
        return result


@dataclass(frozen=True, slots=True)
class Metadata:
    """The ``sops`` section of one file, checked and typed."""

    mac: str
    lastmodified: str  # formatted as the MAC's additional data
    rules: Rules
    groups: tuple[tuple[Stanza, ...], ...]  # age stanzas per key group
    other_key_types: tuple[str, ...]  # key types present that are not age
    shamir_threshold: int

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(sorted({s.recipient for group in self.groups for s in group}))


def _go_bool(value: Any) -> bool | None:
    """``strconv.ParseBool``; None when malformed (no exception: a decrypted
    value must not ride along in an exception's context)."""
    if isinstance(value, bool):
        return value
    text = str(value)
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    return None


def _regex(value: str, name: str, source: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error as exc:
        raise errors.DecryptionError(
            f"{source}: sops.{name} {value!r} is not a regular expression we can use: {exc}"
        ) from None


def _stanzas(group: Mapping[str, Any], source: str) -> tuple[tuple[Stanza, ...], list[str]]:
    stanzas: list[Stanza] = []
    for entry in group.get("age") or []:
        if not isinstance(entry, Mapping):
            raise errors.DecryptionError(f"{source}: a sops.age entry is not a mapping")
        recipient, enc = entry.get("recipient"), entry.get("enc")
        if not isinstance(recipient, str) or not isinstance(enc, str) or not enc:
            raise errors.DecryptionError(
                f"{source}: a sops.age entry lacks its recipient or enc field"
            )
        stanzas.append(Stanza(recipient=recipient, enc=enc))
    others = [name for name in KEY_TYPES if name != "age" and group.get(name)]
    return tuple(stanzas), others


def parse_metadata(sops: Mapping[str, Any], source: str) -> Metadata:
    """The typed ``sops`` section; :class:`errors.DecryptionError` when malformed."""
    mac = sops.get("mac")
    if not isinstance(mac, str) or not mac:
        raise errors.DecryptionError(f"{source}: the sops section has no mac")
    if "lastmodified" not in sops:
        raise errors.DecryptionError(f"{source}: the sops section has no lastmodified")
    lastmodified = lastmodified_text(sops["lastmodified"], source)
    rules_given = {name: sops[name] for name in _RULE_NAMES if sops.get(name)}
    if len(rules_given) > 1:
        raise errors.DecryptionError(
            f"{source}: the sops section sets more than one of {', '.join(sorted(rules_given))}"
        )
    if {"unencrypted_comment_regex", "encrypted_comment_regex"} & set(rules_given):
        raise errors.DecryptionError(
            f"{source}: comment-based encryption rules (encrypted_comment_regex,"
            " unencrypted_comment_regex) are not supported; re-encrypt the file with a"
            " key-based rule such as encrypted_regex"
        )
    mac_only = _go_bool(sops.get("mac_only_encrypted", False))
    if mac_only is None:
        raise errors.DecryptionError(f"{source}: sops.mac_only_encrypted must be true or false")
    # Without any rule sops leaves `*_unencrypted` keys in the clear.
    default_suffix = "" if rules_given else "_unencrypted"
    regexes = {
        name: _regex(str(rules_given[name]), name, source)
        for name in ("unencrypted_regex", "encrypted_regex")
        if name in rules_given
    }
    rules = Rules(
        unencrypted_suffix=str(rules_given.get("unencrypted_suffix", default_suffix)),
        encrypted_suffix=str(rules_given.get("encrypted_suffix", "")),
        unencrypted_regex=regexes.get("unencrypted_regex"),
        encrypted_regex=regexes.get("encrypted_regex"),
        mac_only_encrypted=mac_only,
    )
    top_level = any(sops.get(name) for name in KEY_TYPES)
    groups: list[tuple[Stanza, ...]] = []
    others: list[str] = []
    if top_level:
        stanzas, found = _stanzas(sops, source)
        groups.append(stanzas)
        others.extend(found)
    else:
        key_groups = sops.get("key_groups")
        if not isinstance(key_groups, list) or not key_groups:
            raise errors.DecryptionError(f"{source}: the sops section names no keys")
        for group in key_groups:
            if not isinstance(group, Mapping):
                raise errors.DecryptionError(f"{source}: a sops.key_groups entry is not a mapping")
            stanzas, found = _stanzas(group, source)
            groups.append(stanzas)
            others.extend(found)
    try:
        threshold = int(sops.get("shamir_threshold") or 0)
    except (TypeError, ValueError):
        raise errors.DecryptionError(f"{source}: sops.shamir_threshold is not a number") from None
    return Metadata(
        mac=mac,
        lastmodified=lastmodified,
        rules=rules,
        groups=tuple(groups),
        other_key_types=tuple(sorted(set(others))),
        shamir_threshold=threshold or len(groups),
    )


# --- data key --------------------------------------------------------------------


def _gf_mult(a: int, b: int) -> int:
    # GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, as sops's shamir.
    result = 0
    while b:
        if b & 1:
            result ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return result


def _gf_inverse(a: int) -> int:
    result = 1
    for _ in range(254):  # a^254 == a^-1 in GF(2^8)
        result = _gf_mult(result, a)
    return result


def shamir_combine(parts: Sequence[bytes], source: str) -> bytes:
    """The secret of Shamir ``parts`` (each ends with its x coordinate)."""
    length = len(parts[0])
    xs = [part[-1] for part in parts]
    if length < 2 or any(len(p) != length for p in parts) or len(set(xs)) != len(xs):
        raise errors.DecryptionError(f"{source}: the key groups' data key parts do not combine")
    secret = bytearray()
    for index in range(length - 1):
        value = 0
        for i, part in enumerate(parts):
            basis = 1
            for j in range(len(parts)):
                if i != j:
                    basis = _gf_mult(basis, _gf_mult(xs[j], _gf_inverse(xs[i] ^ xs[j])))
            value ^= _gf_mult(part[index], basis)
        secret.append(value)
    return bytes(secret)


def data_key(metadata: Metadata, identities: Sequence[Any], source: str) -> bytes | None:
    """The file's data key, or None when no identity opens enough key groups."""
    parts: list[bytes] = []
    for group in metadata.groups:
        for stanza in group:
            try:
                parts.append(pyrage.decrypt(stanza.enc.encode(), list(identities)))
                break
            except pyrage.DecryptError:
                continue
        if len(parts) >= metadata.shamir_threshold:
            break
    if len(metadata.groups) == 1:
        return parts[0] if parts else None
    if len(parts) < metadata.shamir_threshold:
        return None
    return shamir_combine(parts, source)


# --- values ----------------------------------------------------------------------


def _b64(text: str, what: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise errors.DecryptionError(
            f"{where}: the {what} of the encrypted value is not base64"
        ) from None


def _open(text: str, cipher: AESGCM, aad: str, where: str) -> tuple[bytes, str]:
    match = _ENC.match(text)
    if match is None:
        raise errors.DecryptionError(f"{where}: expected an ENC[AES256_GCM,...] value")
    data = _b64(match.group(1), "data", where)
    iv = _b64(match.group(2), "iv", where)
    tag = _b64(match.group(3), "tag", where)
    if len(iv) < 8 or len(tag) != 16:
        raise errors.DecryptionError(f"{where}: the encrypted value has a malformed iv or tag")
    try:
        plain = cipher.decrypt(iv, data + tag, aad.encode("utf-8", "surrogateescape"))
    except InvalidTag:
        raise errors.DecryptionError(
            f"{where}: the value does not decrypt with the file's data key (it was modified,"
            " moved to another key, or encrypted with another key)"
        ) from None
    return plain, match.group(4)


def decrypt_value(text: str, cipher: AESGCM, aad: str, where: str) -> tuple[Any, bytes]:
    """The plaintext of one ``ENC[...]`` value and its MAC contribution.

    Comments come back as :data:`COMMENT`. Empty strings stay empty, as sops
    never encrypts them.
    """
    if text == "":
        return "", b""
    plain, kind = _open(text, cipher, aad, where)
    if kind == "comment":
        return COMMENT, b""
    # Malformed plaintext is reported without an exception context: a
    # UnicodeDecodeError or ValueError would carry the secret along.
    if kind in ("str", "bytes", "time"):
        text_value = plain.decode("utf-8", "replace")
        if "\ufffd" in text_value and text_value.encode("utf-8") != plain:
            raise errors.DecryptionError(f"{where}: the decrypted {kind} is not UTF-8")
        return text_value, plain
    decoded = plain.decode("ascii", "replace")
    if kind == "int":
        if not _GO_INT.fullmatch(decoded):
            raise errors.DecryptionError(f"{where}: the decrypted int is malformed")
        number = int(decoded)
        return number, str(number).encode()
    if kind == "float":
        if not _GO_FLOAT_TEXT.fullmatch(decoded):
            raise errors.DecryptionError(f"{where}: the decrypted float is malformed")
        real = float(decoded)
        # Integers sops stored as floats (JSON numbers) stay integers, as
        # `sops --decrypt` prints them: Kubernetes refuses 3.0 for an int32.
        # Beyond 2^53 the digits are a float's rounding, not an integer.
        exact = _GO_INT.fullmatch(decoded) and abs(real) <= _EXACT_FLOAT_INT
        number_or_real: Any = int(decoded) if exact else real
        return number_or_real, go_float(real).encode()
    if kind == "bool":
        flag = _go_bool(decoded)
        if flag is None:
            raise errors.DecryptionError(f"{where}: the decrypted bool is malformed")
        return flag, b"True" if flag else b"False"
    raise errors.DecryptionError(f"{where}: unknown encrypted value type {kind!r}")


# --- the tree --------------------------------------------------------------------


@dataclass(slots=True)
class _Walk:
    cipher: AESGCM
    rules: Rules
    source: str
    hasher: Any

    def value(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, Mapping):
            return self.mapping(value, path)
        if isinstance(value, list):
            # List items share the list's path: sops's walkSlice adds no index.
            out = [self.value(item, path) for item in value]
            return [item for item in out if item is not COMMENT]
        if value is None or value is COMMENT:
            return value
        return self.leaf(value, path)

    def mapping(self, mapping: Mapping[Any, Any], path: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in mapping.items():
            if not isinstance(key, str):
                raise errors.DecryptionError(
                    f"{self.source}: key {key!r} under {_path(path)} is not a string"
                    " (sops encrypts only string keys)"
                )
            value = self.value(item, (*path, key))
            if value is not COMMENT:
                out[key] = value
        return out

    def leaf(self, value: Any, path: tuple[str, ...]) -> Any:
        encrypted = self.rules.encrypted(path)
        where = f"{self.source}: value at {_path(path)}"
        if encrypted:
            if not isinstance(value, str):
                raise errors.DecryptionError(
                    f"{where}: expected an encrypted value, found a {type(value).__name__}"
                )
            plain, mac_bytes = decrypt_value(value, self.cipher, ":".join(path) + ":", where)
        else:
            plain = str(value) if isinstance(value, Spelled) else value
            try:
                mac_bytes = _to_bytes(value)
            except TypeError:
                raise errors.DecryptionError(
                    f"{where}: a {type(value).__name__} cannot be part of a sops file"
                ) from None
        if plain is not COMMENT and (encrypted or not self.rules.mac_only_encrypted):
            self.hasher.update(mac_bytes)
        return plain


def _path(path: Sequence[str]) -> str:
    return repr(":".join(path)) if path else "the top level"


def decrypt_tree(
    branches: Sequence[Mapping[str, Any]], metadata: Metadata, key: bytes, source: str
) -> list[dict[str, Any]]:
    """Every branch (document) decrypted, the ``sops`` key left out; MAC checked."""
    hasher = hashlib.sha512()
    if metadata.rules.mac_only_encrypted:
        hasher.update(_MAC_ONLY_ENCRYPTED_SEED)
    cipher = AESGCM(key)
    walk = _Walk(cipher=cipher, rules=metadata.rules, source=source, hasher=hasher)
    out = [
        walk.mapping({k: v for k, v in branch.items() if k != "sops"}, ()) for branch in branches
    ]
    computed = hasher.hexdigest().upper()
    stored: Any
    try:
        stored, _ = decrypt_value(
            metadata.mac, cipher, metadata.lastmodified, f"{source}: sops.mac"
        )
    except errors.DecryptionError:
        stored = None
    if not isinstance(stored, str) or not hmac.compare_digest(stored, computed):
        raise errors.DecryptionError(
            f"{source}: MAC mismatch: the file was modified after encryption"
        )
    return out
