"""Resolving branches, tags, refs, commit ids and semver ranges to commits."""

from __future__ import annotations

from datetime import timedelta

import pytest
import semver

from gitward import errors
from gitward.source import base, resolving

from .gitservers import Upstream


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Upstream, dict[str, str]]:
    upstream = Upstream(tmp_path_factory.mktemp("upstream"))
    shas: dict[str, str] = {}
    for version in ("1.0.0", "1.2.0", "1.2.5", "1.3.0", "1.4.0-rc.1", "2.0.0"):
        shas[version] = upstream.commit(
            {"version": version}, f"release {version}\n\nbody {version}"
        )
    upstream.tag("v1.2.0", rev=shas["1.2.0"])
    upstream.tag("v1.2.5", rev=shas["1.2.5"], annotated=True)
    upstream.tag("1.3.0", rev=shas["1.3.0"])  # no "v" prefix
    upstream.tag("v1.4.0-rc.1", rev=shas["1.4.0-rc.1"])
    upstream.tag("v2.0.0", rev=shas["2.0.0"])
    upstream.tag("release-candidate", rev=shas["1.0.0"])  # not semver: ignored by ranges
    upstream.tag("v1.0.0", rev=shas["1.0.0"])
    shas["feature"] = upstream.commit({"f": "1"}, "feature work", push="feature/x")
    shas["dup-branch"] = upstream.commit({"d": "1"}, "dup branch", push="dup")
    upstream.tag("dup", rev=shas["1.0.0"])
    return upstream, shas


@pytest.fixture
async def repo_and_shas(
    tagged: tuple[Upstream, dict[str, str]], sources: base.Sources
) -> tuple[base.RepoSpec, dict[str, str]]:
    upstream, shas = tagged
    repo = base.RepoSpec(upstream.url)
    await sources.fetch(repo)
    return repo, shas


@pytest.mark.parametrize(
    ("ref", "expected", "matched"),
    [
        ("main", "2.0.0", "refs/heads/main"),
        ("", "2.0.0", "refs/heads/main"),
        ("HEAD", "2.0.0", "refs/heads/main"),
        ("feature/x", "feature", "refs/heads/feature/x"),
        ("refs/heads/feature/x", "feature", "refs/heads/feature/x"),
        ("heads/feature/x", "feature", "refs/heads/feature/x"),
        ("v1.2.0", "1.2.0", "refs/tags/v1.2.0"),
        ("v1.2.5", "1.2.5", "refs/tags/v1.2.5"),  # annotated: peeled to the commit
        ("tags/v1.2.5", "1.2.5", "refs/tags/v1.2.5"),
        ("dup", "1.0.0", "refs/tags/dup"),  # a tag wins over a branch, as in git
        ("refs/heads/dup", "dup-branch", "refs/heads/dup"),
        (">=1.2 <2", "1.3.0", "refs/tags/1.3.0"),
        (">=1.2, <2", "1.3.0", "refs/tags/1.3.0"),
        ("~1.2", "1.2.5", "refs/tags/v1.2.5"),
        ("^1.2", "1.3.0", "refs/tags/1.3.0"),
        ("^1", "1.3.0", "refs/tags/1.3.0"),
        ("1.2.x", "1.2.5", "refs/tags/v1.2.5"),
        ("v1.2.x", "1.2.5", "refs/tags/v1.2.5"),
        ("1.x", "1.3.0", "refs/tags/1.3.0"),
        ("*", "2.0.0", "refs/tags/v2.0.0"),
        (">=1.4.0-0 <2", "1.4.0-rc.1", "refs/tags/v1.4.0-rc.1"),
        ("<1.2 || >=2", "2.0.0", "refs/tags/v2.0.0"),
        ("1.0 - 1.2.0", "1.2.0", "refs/tags/v1.2.0"),
        ("=1.3.0", "1.3.0", "refs/tags/1.3.0"),
    ],
)
async def test_resolve_ref_kinds(
    repo_and_shas: tuple[base.RepoSpec, dict[str, str]],
    sources: base.Sources,
    ref: str,
    expected: str,
    matched: str,
) -> None:
    repo, shas = repo_and_shas
    revision = await sources.resolve(repo, ref)
    assert (revision.sha, revision.ref) == (shas[expected], matched)


async def test_resolve_commit_ids(
    repo_and_shas: tuple[base.RepoSpec, dict[str, str]], sources: base.Sources
) -> None:
    repo, shas = repo_and_shas
    full = shas["1.2.0"]
    assert (await sources.resolve(repo, full)).sha == full
    assert (await sources.resolve(repo, full[:7])).sha == full
    assert (await sources.resolve(repo, full[:12].upper().lower())).ref == full


async def test_revision_describes_the_commit(
    repo_and_shas: tuple[base.RepoSpec, dict[str, str]], sources: base.Sources
) -> None:
    repo, _ = repo_and_shas
    revision = await sources.resolve(repo, "v1.2.0")
    assert revision.author == "Ada Lovelace <ada@example.com>"
    assert revision.message == "release 1.2.0\n\nbody 1.2.0"
    assert revision.committed_at is not None
    assert revision.committed_at.utcoffset() == timedelta(hours=2)
    assert revision.committed_at.isoformat().startswith("2026-01-01T00:00:")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope", "ref 'nope' not found in file://"),
        ("refs/heads/nope", "ref 'refs/heads/nope' not found in file://"),
        (">=3", "no tag of file://.* matches semver range '>=3'; highest version tag is 2.0.0"),
        ("~1.5", "matches semver range '~1.5'"),
        ("deadbeef", "commit 'deadbeef' not found in file://"),
    ],
)
async def test_unknown_refs_name_ref_and_url(
    repo_and_shas: tuple[base.RepoSpec, dict[str, str]],
    sources: base.Sources,
    ref: str,
    message: str,
) -> None:
    repo, _ = repo_and_shas
    with pytest.raises(errors.RevisionNotFound, match=message) as raised:
        await sources.resolve(repo, ref)
    assert repo.url in str(raised.value)


@pytest.mark.parametrize(
    ("constraint", "allowed", "refused"),
    [
        (">=1.2 <2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0", "1.5.0-rc.1"]),
        ("~1.2.3", ["1.2.3", "1.2.9"], ["1.2.2", "1.3.0"]),
        ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4"]),
        ("^1.2", ["1.2.0", "1.99.0"], ["2.0.0", "1.1.0"]),
        ("1.2", ["1.2.0", "1.2.7"], ["1.3.0"]),
        ("!=1.2", ["1.1.0", "1.3.0"], ["1.2.4"]),
        ("> 1.2", ["1.3.0"], ["1.2.9"]),
        ("<=1.2", ["1.2.9"], ["1.3.0"]),
        (">=1.2.0-beta.1", ["1.2.0-beta.2", "1.2.0"], ["1.2.0-alpha"]),
        ("1.2.3 - 1.4", ["1.2.3", "1.4.9"], ["1.5.0"]),
        ("1.X", ["1.4.0"], ["2.0.0"]),
    ],
)
def test_constraints(constraint: str, allowed: list[str], refused: list[str]) -> None:
    parsed = resolving.Constraint.parse(constraint)
    assert parsed is not None
    for version in allowed:
        assert parsed.allows(semver.Version.parse(version)), version
    for version in refused:
        assert not parsed.allows(semver.Version.parse(version)), version


@pytest.mark.parametrize("text", ["main", "feature/x", "1", "abc1234", "release-1.2", "1.x.3"])
def test_not_constraints(text: str) -> None:
    assert resolving.Constraint.parse(text) is None


def test_highest_ties_are_deterministic() -> None:
    constraint = resolving.Constraint.parse(">=1")
    assert constraint is not None
    assert resolving.highest(constraint, ["1.2.3", "v1.2.3", "v1.2.3+build"]) is not None
    chosen = resolving.highest(constraint, ["v1.2.3", "1.2.3"])
    assert chosen is not None
    assert chosen[0] == resolving.highest(constraint, ["1.2.3", "v1.2.3"])[0]  # type: ignore[index]
