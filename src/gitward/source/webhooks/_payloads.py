"""Typed, checked access to a decoded webhook payload and its headers.

Every provider module reads payload fields through :class:`Obj`, so a missing
field or a wrong type becomes one :class:`~gitward.source.webhooks.events.WebhookRejected`
naming the provider and the field path (``repository.clone_url``), never a
``KeyError`` or ``TypeError`` from deep inside a parser. Values are never
echoed in messages: they come from an untrusted sender and may be huge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import cast
from urllib.parse import parse_qs

import orjson

from gitward import errors
from gitward.source.webhooks import events, urls

_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
# What git check-ref-format refuses in a component: control characters, space,
# ~ ^ : ? * [ \ and DEL; plus "..", "@{", "//", a leading "-" is allowed by git.
_BAD_REF = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]|\.\.|@\{|//|/\.|\.lock(?:/|$)")
_MAX_FORM_FIELDS = 64


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` keyed by lowercased name (HTTP header names are case-insensitive)."""
    return {name.lower(): value for name, value in headers.items()}


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class Obj:
    """One JSON object of a payload, with its path for messages."""

    __slots__ = ("_data", "_path", "_provider")

    def __init__(self, provider: events.Provider, data: Mapping[str, object], path: str) -> None:
        self._provider = provider
        self._data = data
        self._path = path

    def _name(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def reject(self, key: str, problem: str) -> events.WebhookRejected:
        """The error for field ``key`` of this object (for checks the accessors cannot do)."""
        return events.WebhookRejected(
            f"{self._provider} webhook payload: field {self._name(key)} {problem}"
        )

    def _required(self, key: str) -> object:
        value = self._data.get(key)
        if value is None:
            raise self.reject(key, "is missing")
        return value

    def _typed(self, key: str, value: object, kind: type, kind_name: str) -> None:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.reject(key, f"must be {kind_name}, not {_type_name(value)}")

    def has(self, key: str) -> bool:
        return self._data.get(key) is not None

    def obj(self, key: str) -> Obj:
        value = self._required(key)
        self._typed(key, value, dict, "an object")
        assert isinstance(value, dict)
        return Obj(self._provider, value, self._name(key))

    def opt_obj(self, key: str) -> Obj | None:
        return self.obj(key) if self.has(key) else None

    def text(self, key: str) -> str:
        value = self._required(key)
        self._typed(key, value, str, "a string")
        assert isinstance(value, str)
        return value

    def opt_text(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def flag(self, key: str) -> bool:
        value = self._required(key)
        self._typed(key, value, bool, "a boolean")
        assert isinstance(value, bool)
        return value

    def opt_flag(self, key: str) -> bool | None:
        return self.flag(key) if self.has(key) else None

    def integer(self, key: str) -> int:
        value = self._required(key)
        self._typed(key, value, int, "an integer")
        assert isinstance(value, int)
        return value

    def opt_integer(self, key: str) -> int | None:
        return self.integer(key) if self.has(key) else None

    def _array(self, key: str) -> list[object]:
        value = self._required(key)
        self._typed(key, value, list, "an array")
        assert isinstance(value, list)
        return value

    def objs(self, key: str) -> list[Obj]:
        items = []
        for index, value in enumerate(self._array(key)):
            name = f"{key}[{index}]"
            self._typed(name, value, dict, "an object")
            assert isinstance(value, dict)
            items.append(Obj(self._provider, value, self._name(name)))
        return items

    def texts(self, key: str) -> list[str]:
        values = self._array(key)
        # File lists run to thousands of entries: check them in one pass and
        # look for the culprit only when there is one.
        if all(type(value) is str for value in values):
            return cast(list[str], values)
        for index, value in enumerate(values):
            self._typed(f"{key}[{index}]", value, str, "a string")
        raise AssertionError("unreachable: a non-string entry was found above")

    def sha(self, key: str) -> str:
        """A commit id (40 or 64 hex digits), lowercased."""
        value = self.text(key)
        if not _SHA.fullmatch(value):
            raise self.reject(key, "is not a commit id (40 or 64 hexadecimal digits)")
        return value.lower()

    def ref(self, key: str, prefix: str = "") -> str:
        """A full ref name: ``prefix`` + the field, checked like ``git check-ref-format``."""
        return check_ref(self, key, prefix + self.text(key))

    def repo_urls(self, keys: Iterable[str]) -> set[str]:
        """Normalised forms of the URL fields ``keys`` present in this object."""
        found = set()
        for key in keys:
            value = self.opt_text(key)
            if value:
                found |= normalised(value)
        return found


def check_ref(where: Obj, key: str, ref: str) -> str:
    """``ref`` if it is a well-formed full ref name, else a rejection naming ``key``."""
    if (
        not ref.startswith("refs/")
        or len(ref) > 1024
        or ref.endswith(("/", ".", ".lock"))
        or ref == "refs/"
        or _BAD_REF.search(ref)
    ):
        raise where.reject(key, "is not a valid ref name")
    return ref


def normalised(url: str) -> set[str]:
    """``{normalise_url(url)}``, or nothing for a URL that has no usable key."""
    try:
        return {urls.normalise_url(url)}
    except errors.InputError:
        return set()


def require_urls(provider: events.Provider, found: set[str], fields: str) -> frozenset[str]:
    if not found:
        raise events.WebhookRejected(
            f"{provider} webhook payload: no usable repository URL in {fields}"
        )
    return frozenset(found)


def decode(provider: events.Provider, headers: Mapping[str, str], body: bytes) -> Obj:
    """The payload's top-level object: JSON, or the ``payload`` field of a
    form-encoded body (GitHub, Gitea and Gogs offer that content type).

    ``headers`` must be lowercased (:func:`lower_headers`).
    """
    content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    document: bytes | str = body
    if content_type == "application/x-www-form-urlencoded":
        document = _form_payload(provider, body)
    try:
        data = orjson.loads(document)
    except orjson.JSONDecodeError:
        raise events.WebhookRejected(f"{provider} webhook payload is not valid JSON") from None
    if not isinstance(data, dict):
        raise events.WebhookRejected(
            f"{provider} webhook payload must be a JSON object, not {_type_name(data)}"
        )
    return Obj(provider, data, "")


def _form_payload(provider: events.Provider, body: bytes) -> str:
    try:
        fields = parse_qs(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise events.WebhookRejected(
            f"{provider} webhook form body is not valid URL-encoded UTF-8"
        ) from None
    values = fields.get("payload", [])
    if len(values) != 1:
        raise events.WebhookRejected(
            f"{provider} webhook form body must carry exactly one payload field"
        )
    return values[0]
