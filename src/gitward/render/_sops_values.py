"""SOPS's cryptography, re-implemented: values and the MAC (the metadata and the
data key are ``render._sops_metadata``).

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
import decimal
import hashlib
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitward import errors
from gitward.render import _sops_metadata

if TYPE_CHECKING:
    # Imported where a file is decrypted: most renders decrypt nothing.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
_INT64 = (-(2**63), 2**63 - 1)
_EXACT_FLOAT_INT = 2**53


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
    from cryptography.exceptions import InvalidTag

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
        flag = _sops_metadata.go_bool(decoded)
        if flag is None:
            raise errors.DecryptionError(f"{where}: the decrypted bool is malformed")
        return flag, b"True" if flag else b"False"
    raise errors.DecryptionError(f"{where}: unknown encrypted value type {kind!r}")


# --- the tree --------------------------------------------------------------------


@dataclass(slots=True)
class _Walk:
    cipher: AESGCM
    rules: _sops_metadata.Rules
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
    branches: Sequence[Mapping[str, Any]],
    metadata: _sops_metadata.Metadata,
    key: bytes,
    source: str,
) -> list[dict[str, Any]]:
    """Every branch (document) decrypted, the ``sops`` key left out; MAC checked."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
