"""gitward.testing.trees.DirectoryTree: the public Tree fake follows the Tree rules."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitward import errors
from gitward.render import base
from gitward.testing import trees


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "app" / "sub").mkdir(parents=True)
    (root / "app" / "a.yaml").write_text("a: 1\n")
    (root / "app" / "sub" / "b.yaml").write_text("b: 2\n")
    (root / "common").mkdir()
    (root / "common" / "values.yaml").write_text("v: 1\n")
    (root / "app" / "values.yaml").symlink_to("../common/values.yaml")
    (root / "app" / "shared").symlink_to("../common")
    (root / "app" / "passwd").symlink_to("/etc/passwd")
    (root / "app" / "up").symlink_to("../../outside")
    (root / "app" / "loop").symlink_to("loop")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_GLOBAL": "/dev/null"}
    subprocess.run(["git", "init", "-q"], cwd=root, env=env, check=True)
    return root


def test_satisfies_the_render_tree_protocol(repo: Path) -> None:
    tree: base.Tree = trees.DirectoryTree(repo, revision="abc")
    assert tree.revision == "abc"


def test_list_kind_and_git_dir_hidden(repo: Path) -> None:
    tree = trees.DirectoryTree(repo)
    assert [e.name for e in tree.list("")] == ["app", "common"]
    entries = {e.name: e for e in tree.list("app")}
    assert entries["a.yaml"] == trees.Entry("a.yaml", "app/a.yaml", trees.EntryKind.FILE, 5)
    assert entries["sub"].kind == "dir"  # equal to base.EntryKind.DIRECTORY
    assert entries["values.yaml"].kind == "symlink"
    assert tree.kind("app/values.yaml") == "symlink"
    assert tree.kind("app/nothing") is None
    assert tree.kind("app/a.yaml/x") is None
    assert tree.kind(".git") is None


def test_symlinks_inside_are_followed(repo: Path) -> None:
    tree = trees.DirectoryTree(repo)
    assert tree.read("app/values.yaml") == b"v: 1\n"
    assert tree.read("app/shared/values.yaml") == b"v: 1\n"
    assert [e.name for e in tree.list("app/shared")] == ["values.yaml"]
    assert tree.digest("app/values.yaml") == tree.digest("common/values.yaml")


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        (
            "app/passwd",
            errors.UnsafeInputError,
            r"symlink 'app/passwd' points outside.*/etc/passwd",
        ),
        ("app/up", errors.UnsafeInputError, r"symlink 'app/up' points outside"),
        ("app/loop", errors.UnsafeInputError, r"symlink 'app/loop': too many levels"),
        ("../x", errors.SourcePathError, r"path '\.\./x' escapes the repository"),
        ("/etc/passwd", errors.SourcePathError, "is absolute"),
        ("a\x00b", errors.SourcePathError, "NUL byte"),
        ("app/missing.yaml", errors.SourcePathError, "does not exist"),
        ("app", errors.SourcePathError, "is not a file"),
    ],
)
def test_refusals(repo: Path, path: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        trees.DirectoryTree(repo).read(path)


def test_read_checks_the_size_before_reading(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = repo / "big.bin"
    with big.open("wb") as handle:  # sparse: 1 GiB that occupies no disk
        handle.truncate(1 << 30)
    tree = trees.DirectoryTree(repo)

    def no_read(self: Path) -> bytes:
        raise AssertionError("read before the size check")

    monkeypatch.setattr(Path, "read_bytes", no_read)
    with pytest.raises(errors.UnsafeInputError, match=r"'big\.bin': 1073741824 bytes is over"):
        tree.read("big.bin", max_bytes=8 << 20)


def test_digest_changes_with_content_only(repo: Path) -> None:
    tree = trees.DirectoryTree(repo)
    before = tree.digest("app")
    assert tree.digest("app") == before
    (repo / "app" / "sub" / "b.yaml").write_text("b: 3\n")
    assert tree.digest("app") != before
    assert tree.digest("common") != tree.digest("app")


def test_materialize_copies_symlink_targets_and_refuses_escapes(repo: Path, tmp_path: Path) -> None:
    tree = trees.DirectoryTree(repo)
    dest = tmp_path / "out"
    tree.materialize(["app/sub", "app/values.yaml", "app/shared"], dest)
    assert (dest / "app" / "sub" / "b.yaml").read_text() == "b: 2\n"
    assert not (dest / "app" / "values.yaml").is_symlink()
    assert (dest / "app" / "values.yaml").read_text() == "v: 1\n"
    assert (dest / "app" / "shared" / "values.yaml").read_text() == "v: 1\n"
    # Whichever bad link comes first in name order is the one named.
    with pytest.raises(errors.UnsafeInputError, match="symlink 'app/loop'"):
        tree.materialize(["app"], tmp_path / "out2")
    (repo / "app" / "loop").unlink()
    with pytest.raises(errors.UnsafeInputError, match="symlink 'app/passwd' points outside"):
        tree.materialize(["app"], tmp_path / "out3")
