"""Choosing the newest tag of an image: semver range, numerical, alphabetical.

The same three orders Flux's ImagePolicy offers, with one tag filter:

* ``filter``: a regular expression (Python syntax, searched anywhere: anchor
  it with ``^...$``). Tags that do not match are ignored. When it has a
  capture group (the group named ``extract``, else the first group), the
  ordering reads that group instead of the whole tag, so
  ``^main-[0-9a-f]+-(?P<extract>\\d+)$`` orders ``main-<sha>-<timestamp>``
  tags by timestamp;
* ``exclude``: regular expressions; a tag matching any of them is ignored
  (``-rc``, ``latest``...);
* the order: ``semver`` (the highest version the range allows; the range
  object comes from the caller, so image policies accept exactly the range
  syntax Application refs do), ``numerical`` (integer or decimal value) or
  ``alphabetical``; ``ascending`` picks the largest, ``descending`` the
  smallest.

Ties between tags of equal rank go to the larger tag name, so the choice
never depends on the order the registry listed them in. Called by
``engine.imaging``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Protocol

import semver

from gitward import errors


class Order(StrEnum):
    SEMVER = "semver"
    NUMERICAL = "numerical"
    ALPHABETICAL = "alphabetical"


class Range(Protocol):
    """A semver range (``gitward.source.resolving.Constraint`` is one)."""

    def allows(self, version: semver.Version) -> bool: ...


class PolicyError(errors.ConfigError):
    """An image policy is malformed (bad regular expression, missing range)."""


@dataclass(frozen=True, slots=True)
class TagPolicy:
    """How to pick a tag; build with :func:`build` to validate."""

    order: Order
    semver_range: Range | None = None
    filter: re.Pattern[str] | None = None
    exclude: tuple[re.Pattern[str], ...] = ()
    descending: bool = False


def build(
    order: Order | str,
    *,
    semver_range: Range | None = None,
    filter: str = "",
    exclude: Iterable[str] = (),
    descending: bool = False,
    where: str = "image policy",
) -> TagPolicy:
    """A validated :class:`TagPolicy`; :class:`PolicyError` naming ``where`` otherwise."""
    try:
        chosen = Order(order)
    except ValueError:
        raise PolicyError(
            f"{where}: order {order!r} is not one of {', '.join(o.value for o in Order)}"
        ) from None
    if chosen is Order.SEMVER and semver_range is None:
        raise PolicyError(f"{where}: a semver policy needs a range")
    if chosen is not Order.SEMVER and semver_range is not None:
        raise PolicyError(f"{where}: a semver range only applies to the semver order")
    return TagPolicy(
        order=chosen,
        semver_range=semver_range,
        filter=_compile(filter, where, "filter") if filter else None,
        exclude=tuple(_compile(p, where, "exclude") for p in exclude),
        descending=descending,
    )


def _compile(pattern: str, where: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise PolicyError(f"{where}: {what} pattern {pattern!r} is invalid: {exc}") from None


def parse_version(text: str) -> semver.Version | None:
    """The version a tag denotes (``v1.2.3`` or ``1.2.3``), None otherwise."""
    if text[:1] in ("v", "V"):
        text = text[1:]
    try:
        return semver.Version.parse(text)
    except ValueError:
        return None


def _key_text(policy: TagPolicy, tag: str) -> str | None:
    """The text the order reads for ``tag``; None when the tag is filtered out."""
    if any(pattern.search(tag) for pattern in policy.exclude):
        return None
    if policy.filter is None:
        return tag
    match = policy.filter.search(tag)
    if match is None:
        return None
    if "extract" in policy.filter.groupindex:
        return match.group("extract")
    if policy.filter.groups:
        return match.group(1)
    return tag


def eligible(policy: TagPolicy, tags: Iterable[str]) -> list[str]:
    """The tags the policy may choose from, ranked: the best last."""
    ranked = [(key, tag) for tag in tags if (key := _rank(policy, tag)) is not None]
    ranked.sort()
    return [tag for _, tag in ranked]


def choose(policy: TagPolicy, tags: Iterable[str]) -> str | None:
    """The newest tag by ``policy``, or None when no tag qualifies."""
    best: tuple[object, str] | None = None
    for tag in tags:
        key = _rank(policy, tag)
        if key is None:
            continue
        if best is None or (key, tag) > best:
            best = (key, tag)
    return None if best is None else best[1]


def _rank(policy: TagPolicy, tag: str) -> object | None:
    text = _key_text(policy, tag)
    if text is None:
        return None
    if policy.order is Order.SEMVER:
        version = parse_version(text)
        assert policy.semver_range is not None
        if version is None or not policy.semver_range.allows(version):
            return None
        return _SemverKey(version)
    if policy.order is Order.NUMERICAL:
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        if not number.is_finite():
            return None
        return -number if policy.descending else number
    return _Reversed(text) if policy.descending else text


@dataclass(frozen=True, slots=True)
class _SemverKey:
    version: semver.Version

    def __lt__(self, other: _SemverKey) -> bool:
        return self.version.compare(other.version) < 0

    def __gt__(self, other: _SemverKey) -> bool:
        return self.version.compare(other.version) > 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SemverKey) and self.version.compare(other.version) == 0

    def __hash__(self) -> int:
        return hash(str(self.version.finalize_version()))


@dataclass(frozen=True, slots=True)
class _Reversed:
    text: str

    def __lt__(self, other: _Reversed) -> bool:
        return self.text > other.text

    def __gt__(self, other: _Reversed) -> bool:
        return self.text < other.text
