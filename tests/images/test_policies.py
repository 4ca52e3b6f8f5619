"""Choosing the newest tag: semver ranges, numerical and alphabetical orders, filters."""

from __future__ import annotations

import random

import pytest

from gitward.images import policies
from gitward.source import resolving

TAGS = [
    "1.0.0",
    "1.2.0",
    "v1.10.0",
    "1.9.3",
    "2.0.0",
    "2.1.0-rc.1",
    "latest",
    "main-abc-100",
    "main-def-99",
    "main-0a1-1000",
    "sha-deadbeef",
    "3.0.0-beta",
    "1.10.0+build.7",
]


def semver(text: str) -> policies.Range:
    constraint = resolving.Constraint.parse(text)
    assert constraint is not None
    return constraint


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"order": "semver", "semver_range": semver(">=1.0 <2")}, "v1.10.0"),
        ({"order": "semver", "semver_range": semver("~1.9")}, "1.9.3"),
        ({"order": "semver", "semver_range": semver("^2")}, "2.0.0"),
        ({"order": "semver", "semver_range": semver(">=2.1.0-0 <2.2")}, "2.1.0-rc.1"),
        ({"order": "semver", "semver_range": semver(">=4")}, None),
        (
            {"order": "semver", "semver_range": semver("*"), "exclude": [r"^v"]},
            "2.0.0",
        ),
        (
            {"order": "numerical", "filter": r"^main-[0-9a-f]+-(?P<extract>\d+)$"},
            "main-0a1-1000",
        ),
        (
            {
                "order": "numerical",
                "filter": r"^main-[0-9a-f]+-(\d+)$",
                "descending": True,
            },
            "main-def-99",
        ),
        ({"order": "alphabetical", "filter": r"^main-"}, "main-def-99"),
        ({"order": "alphabetical", "filter": r"^main-", "descending": True}, "main-0a1-1000"),
        ({"order": "alphabetical"}, "v1.10.0"),
        ({"order": "numerical"}, None),
    ],
)
def test_choose(kwargs: dict[str, object], expected: str | None) -> None:
    policy = policies.build(**kwargs)  # type: ignore[arg-type]
    assert policies.choose(policy, TAGS) == expected
    shuffled = list(TAGS)
    random.Random(7).shuffle(shuffled)
    assert policies.choose(policy, shuffled) == expected
    ranked = policies.eligible(policy, shuffled)
    assert (ranked[-1] if ranked else None) == expected


def test_ties_go_to_the_larger_name_whatever_the_order() -> None:
    policy = policies.build("semver", semver_range=semver(">=1"))
    assert policies.choose(policy, ["1.2.3", "v1.2.3"]) == "v1.2.3"
    assert policies.choose(policy, ["v1.2.3", "1.2.3"]) == "v1.2.3"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "newest"}, "order 'newest'"),
        ({"order": "semver"}, "needs a range"),
        ({"order": "numerical", "semver_range": semver(">1")}, "only applies"),
        ({"order": "alphabetical", "filter": "("}, "filter pattern"),
        ({"order": "alphabetical", "exclude": ["[a-"]}, "exclude pattern"),
    ],
)
def test_invalid_policies(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(policies.PolicyError, match=message) as caught:
        policies.build(**kwargs, where="image policy web")  # type: ignore[arg-type]
    assert "image policy web" in str(caught.value)
