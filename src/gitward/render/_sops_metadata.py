"""SOPS's metadata and data key, re-implemented (private to ``render.sops``).

The ``sops`` mapping of a file: its key groups (one age stanza per recipient,
other key types recognised so they can be named), the rules that decide which
values are encrypted (at most one of the suffix and regex rules),
``lastmodified`` (the MAC's additional data, re-spelled as Go's RFC 3339) and
the sealed MAC. The data key is opened with the agent's age identities; with
several key groups it is split by Shamir's scheme over GF(2^8) (getsops/sops
``shamir/``) and recombined here. Nothing here logs, and no error message
carries a key.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyrage

from gitward import errors

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
KEY_TYPES = ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms")
_RULE_NAMES = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)


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


def go_bool(value: Any) -> bool | None:
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
    mac_only = go_bool(sops.get("mac_only_encrypted", False))
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
