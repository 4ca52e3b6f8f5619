"""Paths changed between two commits, and whether they touch an app's paths."""

from __future__ import annotations

import pytest

from gitward import errors
from gitward.source import base, changes

from .gitservers import Upstream


async def test_changed_paths(upstream: Upstream, sources: base.Sources) -> None:
    old = upstream.commit(
        {"web/base/deploy.yaml": "v1", "web/overlays/prod/k.yaml": "k", "api/values.yaml": "a"}
    )
    upstream.git("mv", "api/values.yaml", "api/values-prod.yaml")
    new = upstream.commit(
        {"web/base/deploy.yaml": "v2", "docs/README": "new", "web/overlays/prod/k.yaml": None}
    )
    repo = base.RepoSpec(upstream.url)
    await sources.fetch(repo)

    changed = sources.changed_paths(repo, old, new)

    assert changed == {
        "web/base/deploy.yaml",
        "web/overlays/prod/k.yaml",
        "docs/README",
        "api/values.yaml",
        "api/values-prod.yaml",
    }
    assert sources.changed_paths(repo, new, new) == frozenset()
    assert sources.changed_paths(repo, new, old) == changed
    with pytest.raises(errors.RevisionNotFound, match="0000000"):
        sources.changed_paths(repo, old, "0" * 40)


@pytest.mark.parametrize(
    ("roots", "expected"),
    [
        (["web/base"], True),
        (["web/base/"], True),
        (["web/overlays/staging"], False),
        (["web/bas"], False),  # a prefix of a name is not a parent
        (["api", "web/overlays/staging"], True),
        ([""], True),
        ([], False),
    ],
)
def test_touches(roots: list[str], expected: bool) -> None:
    changed = frozenset({"web/base/deploy.yaml", "api/values.yaml"})
    assert changes.touches(changed, roots) is expected


def test_touches_nothing_changed() -> None:
    assert changes.touches(frozenset(), [""]) is False
