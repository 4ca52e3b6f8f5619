"""render.paths: joining user-given paths never leaves the repository."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitward import errors
from gitward.render import paths


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("", "", ""),
        ("", ".", ""),
        ("web", "values.yaml", "web/values.yaml"),
        ("web/staging", "../common/values.yaml", "web/common/values.yaml"),
        ("web/staging", "../../x", "x"),
        ("a", "./b//c/", "a/b/c"),
        ("a/b", "..", "a"),
        ("a/b", "../..", ""),
        ("", "a/../b", "b"),
    ],
)
def test_join_stays_inside(base: str, path: str, expected: str) -> None:
    assert paths.join(base, path) == expected


@pytest.mark.parametrize(
    ("base", "path", "why"),
    [
        ("", "..", "escapes the repository"),
        ("web/staging", "../../../etc/passwd", "escapes the repository"),
        ("a", "b/../../..", "escapes the repository"),
        ("", "/etc/passwd", "absolute paths are refused"),
        ("/abs", "x", "absolute paths are refused"),
        ("", "a\x00b", "NUL byte"),
        ("a\x00", "b", "NUL byte"),
    ],
)
def test_join_refuses(base: str, path: str, why: str) -> None:
    with pytest.raises(errors.UnsafeInputError, match=why) as caught:
        paths.join(base, path, what="values file")
    assert "values file" in str(caught.value)


def test_error_names_the_reference() -> None:
    with pytest.raises(errors.UnsafeInputError, match=r"values file '\.\./\.\./x'"):
        paths.join("a", "../../x", what="values file")


def test_is_within_and_parent() -> None:
    assert paths.is_within("a/b", "a")
    assert not paths.is_within("ab", "a")
    assert paths.is_within("anything", "")
    assert paths.parent("a/b/c.yaml") == "a/b"
    assert paths.parent("c.yaml") == ""


_segment = st.sampled_from(["a", "b", "..", ".", "", "c.yaml", "x y", "\u00e9"])
_relative = st.lists(_segment, max_size=8).map("/".join)


@given(base=_relative, path=_relative)
def test_join_matches_a_normpath_model(base: str, path: str) -> None:
    # Model: climbing above the root is the only failure; otherwise the
    # result is what normpath makes of the concatenation, without "." noise.
    depth = 0
    escapes = base.startswith("/") or path.startswith("/")
    for segment in [*base.split("/"), *path.split("/")]:
        if segment == "..":
            depth -= 1
            escapes = escapes or depth < 0
        elif segment not in ("", "."):
            depth += 1
    if escapes:
        with pytest.raises(errors.UnsafeInputError):
            paths.join(base, path)
        return
    result = paths.join(base, path)
    model = posixpath.normpath(posixpath.join("/", base, path))[1:]
    assert result == model
    assert not result.startswith("/")
    assert ".." not in result.split("/")
    assert "" not in result.split("/") or result == ""


@given(st.text(max_size=40))
def test_join_never_returns_an_escaping_path(text: str) -> None:
    try:
        result = paths.join("app", text)
    except errors.UnsafeInputError:
        return
    assert not result.startswith("/")
    assert "\x00" not in result
    assert ".." not in result.split("/")
