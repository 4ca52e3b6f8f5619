"""Resolving what an Application names (branch, tag, ref, sha, semver range) to a commit.

Called by :class:`gitward.source.base.Sources` on a fetched mirror.

Order, first match wins (the same names git's ``rev-parse`` accepts, then
semver, then abbreviated ids):

1. ``""`` or ``HEAD``: the upstream default branch.
2. A full commit id (40 hex digits).
3. A full ref name (``refs/heads/main``, ``refs/pull/7/head``).
4. ``refs/<name>``, ``refs/tags/<name>``, ``refs/heads/<name>``, in git's
   order: a tag wins over a branch of the same name, as with ``git rev-parse``.
5. A semver constraint over the tags (see :class:`Constraint`): the highest
   matching version wins. Tags may carry a ``v`` prefix (``v1.4.2``); tags
   that are not full semver versions are ignored.
6. An abbreviated commit id (4 to 39 hex digits, unique in the mirror).

Annotated tags are peeled to their commit. The :class:`Revision` returned names
the full ref that matched (``refs/tags/v1.4.2``) or the commit id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2

from gitward import errors
from gitward.model import operations

if TYPE_CHECKING:
    # Imported where a version is made (~4 ms): a branch or a commit needs none.
    import semver

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_SHORT_SHA = re.compile(r"^[0-9a-f]{4,39}$")
# Something only a constraint would contain (a bare "1" is not a range; a ref
# or abbreviated id is far more likely).
_CONSTRAINT_HINT = re.compile(r"[<>=~^!*xX,|.]|\s-\s")
_COMPARATOR = re.compile(r"^(?P<op>>=|<=|!=|==|=>|=<|>|<|=|~>|~|\^)?\s*(?P<version>\S+)$")
_PARTIAL = re.compile(
    r"^v?(?P<major>0|[1-9]\d*|[xX*])"
    r"(?:\.(?P<minor>0|[1-9]\d*|[xX*]))?"
    r"(?:\.(?P<patch>0|[1-9]\d*|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?"
    r"(?:\+[0-9A-Za-z.-]+)?$"
)


# --- semver constraints --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Comparator:
    op: str  # one of > >= < <= = !=
    version: semver.Version
    # For "!=" of a partial version (!=1.2): the end of the excluded range.
    upper: semver.Version | None = None

    def allows(self, version: semver.Version) -> bool:
        cmp = version.compare(self.version)
        if self.upper is not None:
            return cmp < 0 or version.compare(self.upper) >= 0
        return {
            ">": cmp > 0,
            ">=": cmp >= 0,
            "<": cmp < 0,
            "<=": cmp <= 0,
            "=": cmp == 0,
            "!=": cmp != 0,
        }[self.op]


@dataclass(frozen=True, slots=True)
class _Group:
    """Comparators that must all hold (a space- or comma-separated list)."""

    comparators: tuple[_Comparator, ...]
    allows_prerelease: bool

    def allows(self, version: semver.Version) -> bool:
        if version.prerelease and not self.allows_prerelease:
            return False
        return all(c.allows(version) for c in self.comparators)


@dataclass(frozen=True, slots=True)
class Constraint:
    """A semver range, with the syntax Helm and Flux accept (Masterminds semver).

    * comparisons ``>=1.2 <2``, ``>1.2.3``, ``!=1.3.0``, ``=1.2.3``; separated by
      spaces or commas (all must hold), alternatives with ``||``;
    * ``~1.2`` (>=1.2.0 <1.3.0), ``~1`` (>=1.0.0 <2.0.0);
    * ``^1.2`` (>=1.2.0 <2.0.0), ``^0.2.3`` (>=0.2.3 <0.3.0), ``^0.0.3`` (=0.0.3);
    * wildcards ``1.2.x``, ``1.x``, ``*``; a partial version ``1.2`` means ``1.2.x``;
    * hyphen ranges ``1.2 - 1.4.5`` (>=1.2.0 <=1.4.5);
    * an optional ``v`` prefix everywhere.

    Prerelease versions (``1.3.0-rc.1``) match only an alternative in which
    some comparison names a prerelease (``>=1.3.0-0``), so a stable range
    never picks a release candidate.
    """

    text: str
    groups: tuple[_Group, ...]

    @classmethod
    def parse(cls, text: str) -> Constraint | None:
        """The constraint ``text`` denotes, or None if it is not one."""
        stripped = text.strip()
        if not stripped or not _CONSTRAINT_HINT.search(stripped):
            return None
        groups = []
        for alternative in stripped.split("||"):
            group = _parse_group(alternative)
            if group is None:
                return None
            groups.append(group)
        return cls(text=stripped, groups=tuple(groups))

    def allows(self, version: semver.Version) -> bool:
        return any(group.allows(version) for group in self.groups)


def _parse_group(text: str) -> _Group | None:
    text = text.strip()
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    if hyphen:
        low, high = _partial(hyphen.group(1)), _partial(hyphen.group(2))
        if low is None or high is None:
            return None
        bounds = (*_expand(">=", low), *_expand("<=", high))
        return _Group(bounds, bool(low[3] or high[3]))
    # Join an operator separated from its version by spaces (">= 1.2").
    text = re.sub(r"(>=|<=|!=|==|=>|=<|~>|>|<|=|~|\^)\s+", r"\1", text)
    tokens = [t for t in re.split(r"[\s,]+", text) if t]
    if not tokens:
        return None
    comparators: list[_Comparator] = []
    prerelease = False
    for token in tokens:
        match = _COMPARATOR.match(token)
        if match is None:
            return None
        partial = _partial(match.group("version"))
        if partial is None:
            return None
        op = {"==": "=", "=>": ">=", "=<": "<=", "~>": "~", None: "="}.get(
            match.group("op"), match.group("op")
        )
        assert op is not None
        comparators.extend(_expand(op, partial))
        prerelease = prerelease or bool(partial[3])
    return _Group(tuple(comparators), prerelease)


# (major, minor, patch, prerelease); None for a missing or wildcard part.
_Partial = tuple[int | None, int | None, int | None, str]


def _partial(text: str) -> _Partial | None:
    match = _PARTIAL.match(text)
    if match is None:
        return None

    def number(name: str) -> int | None:
        value = match.group(name)
        return None if value is None or value in ("x", "X", "*") else int(value)

    major, minor, patch = number("major"), number("minor"), number("patch")
    # "1.x.3" is meaningless: everything after a wildcard must be one too.
    if major is None and (minor is not None or patch is not None):
        return None
    if minor is None and patch is not None:
        return None
    return major, minor, patch, match.group("pre") or ""


def _v(major: int, minor: int = 0, patch: int = 0, pre: str = "") -> semver.Version:
    import semver

    return semver.Version(major, minor, patch, pre or None)


def _expand(op: str, partial: _Partial) -> list[_Comparator]:
    major, minor, patch, pre = partial
    if major is None:  # "*": any version ("!=*" and "<*": none)
        return [_Comparator("<", _v(0, 0, 0, "0"))] if op in ("!=", "<") else []
    if op in ("~", "^"):
        low = _v(major, minor or 0, patch or 0, pre)
        if op == "~":
            high = _v(major + 1) if minor is None else _v(major, minor + 1)
        elif major > 0 or minor is None:
            high = _v(major + 1)
        elif minor > 0 or patch is None:
            high = _v(0, minor + 1)
        else:
            high = _v(0, 0, patch + 1)
        return [_Comparator(">=", low), _Comparator("<", high)]
    if minor is not None and patch is not None:
        return [_Comparator(op, _v(major, minor, patch, pre))]
    # A partial version is the range of versions it covers.
    low = _v(major, minor or 0, 0)
    high = _v(major + 1) if minor is None else _v(major, minor + 1)
    if op == "=":
        return [_Comparator(">=", low), _Comparator("<", high)]
    if op == "!=":
        return [_Comparator("!=", low, upper=high)]
    if op == ">":
        return [_Comparator(">=", high)]
    if op == ">=":
        return [_Comparator(">=", low)]
    if op == "<":
        return [_Comparator("<", low)]
    return [_Comparator("<", high)]  # "<="


def parse_tag(name: str) -> semver.Version | None:
    """The version a tag name denotes (``v1.2.3`` or ``1.2.3``), None otherwise."""
    import semver

    text = name[1:] if name[:1] in ("v", "V") else name
    try:
        return semver.Version.parse(text)
    except ValueError:
        return None


def highest(constraint: Constraint, tags: Iterable[str]) -> tuple[str, semver.Version] | None:
    """The tag with the highest version the constraint allows.

    Ties (``v1.2.3`` and ``1.2.3``, or different build metadata) go to the
    larger tag name, so the choice does not depend on listing order.
    """
    best: tuple[semver.Version, str] | None = None
    for tag in tags:
        version = parse_tag(tag)
        if version is None or not constraint.allows(version):
            continue
        if best is None or (version.compare(best[0]), tag) > (0, best[1]):
            best = (version, tag)
    return None if best is None else (best[1], best[0])


# --- refs ---------------------------------------------------------------------


def resolve(repo: pygit2.Repository, ref: str, *, url: str) -> operations.Revision:
    """The commit ``ref`` names in ``repo`` (a mirror of ``url``, redacted).

    Raises :class:`gitward.errors.RevisionNotFound` naming the ref and URL.
    """
    name = ref.strip()
    if name in ("", "HEAD"):
        try:
            target = repo.references["HEAD"].resolve()
        except (KeyError, pygit2.GitError):
            raise errors.RevisionNotFound(
                f"{url} has no default branch (HEAD) in the last fetch; name a ref"
            ) from None
        return _revision(repo, target.target, str(target.name), ref, url)
    if _FULL_SHA.match(name):
        return _revision(repo, pygit2.Oid(hex=name), name, ref, url)
    if name.startswith("refs/"):
        found = _lookup(repo, name)
        if found is not None:
            return _revision(repo, found.target, name, ref, url)
        raise errors.RevisionNotFound(f"ref {ref!r} not found in {url}")
    for candidate in (f"refs/{name}", f"refs/tags/{name}", f"refs/heads/{name}"):
        found = _lookup(repo, candidate)
        if found is not None:
            return _revision(repo, found.target, candidate, ref, url)
    constraint = Constraint.parse(name)
    if constraint is not None:
        tags = [r.removeprefix("refs/tags/") for r in repo.references if r.startswith("refs/tags/")]
        chosen = highest(constraint, tags)
        if chosen is None:
            versions = sorted(v for v in map(parse_tag, tags) if v is not None)
            latest = f"; highest version tag is {versions[-1]}" if versions else "; no semver tags"
            raise errors.RevisionNotFound(f"no tag of {url} matches semver range {ref!r}{latest}")
        tag_ref = f"refs/tags/{chosen[0]}"
        return _revision(repo, repo.references[tag_ref].target, tag_ref, ref, url)
    if _SHORT_SHA.match(name):
        try:
            obj = repo.revparse_single(name)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            detail = "is ambiguous" if "ambiguous" in str(exc) else "not found"
            raise errors.RevisionNotFound(f"commit {ref!r} {detail} in {url}") from None
        return _revision(repo, obj.id, str(obj.id), ref, url)
    raise errors.RevisionNotFound(f"ref {ref!r} not found in {url} (no branch, tag or commit)")


def open_mirror(path: Path) -> pygit2.Repository:
    return pygit2.Repository(str(path))


def on_demand_refspec(ref: str) -> tuple[str, bool] | None:
    """How to fetch ``ref`` when the mirror lacks it, and whether to keep fetching it.

    A full commit id is fetched once into ``refs/gitward/pinned/<sha>`` (servers
    allow wanting reachable commits); a ``refs/...`` name outside branches and
    tags is fetched under its own name and kept current. Anything else (a
    branch, tag or range) came with the regular fetch or does not exist.
    """
    if _FULL_SHA.match(ref):
        return f"+{ref}:refs/gitward/pinned/{ref}", False
    if (
        ref.startswith("refs/")
        and not ref.startswith(("refs/heads/", "refs/tags/", "refs/gitward/"))
        and "*" not in ref
        and pygit2.reference_is_valid_name(ref)
    ):
        return f"+{ref}:{ref}", True
    return None


def _lookup(repo: pygit2.Repository, name: str) -> pygit2.Reference | None:
    try:
        reference = repo.references.get(name)
    except (ValueError, pygit2.GitError):  # an invalid ref name is simply absent
        return None
    if reference is None:
        return None
    resolved: pygit2.Reference = reference.resolve()
    return resolved


def _revision(
    repo: pygit2.Repository, oid: pygit2.Oid | str, matched: str, ref: str, url: str
) -> operations.Revision:
    try:
        obj = repo[oid]
        commit = obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        raise errors.RevisionNotFound(
            f"{ref!r} does not name a commit in {url} (as of the last fetch)"
        ) from None
    author = commit.author
    message = commit.message
    offset = timezone(timedelta(minutes=commit.commit_time_offset))
    committed_at = datetime.fromtimestamp(commit.commit_time, tz=UTC).astimezone(offset)
    return operations.Revision(
        sha=str(commit.id),
        ref=matched,
        author=f"{author.name} <{author.email}>",
        message=message.strip(),
        committed_at=committed_at,
    )
