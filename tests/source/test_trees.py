"""Reading a commit's tree from the object store: listings, reads, digests,
symlinks inside and outside the repository, size limits, materialize."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gitward import errors
from gitward.source import base, trees

from .gitservers import Upstream

BIG = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Upstream, str]:
    upstream = Upstream(tmp_path_factory.mktemp("upstream"))
    lib = upstream.commit({"lib.txt": "library"}, "library", push="lib")
    files: dict[str, str | bytes | None] = {
        "app/a.yaml": "a: 1\n",
        "app/sub/b.yaml": "b: 2\n",
        "app/run.sh": "#!/bin/sh\n",
        "big.bin": b"\0" * BIG,
        "README": "hello\n",
    }
    for path, content in files.items():
        target = upstream.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else str(content).encode())
    (upstream.work / "app/run.sh").chmod(0o755)
    upstream.git("add", "-A")
    upstream.symlink("app/link-to-a", "a.yaml")
    upstream.symlink("app/linkdir", "sub")
    upstream.symlink("chain1", "chain2")
    upstream.symlink("chain2", "app/link-to-a")
    upstream.symlink("bad/loop1", "loop2")
    upstream.symlink("bad/loop2", "loop1")
    upstream.symlink("bad/absolute", "/etc/passwd")
    upstream.symlink("bad/escape", "../../outside")
    upstream.symlink("dot", ".")
    upstream.symlink("climb", "dot/..")  # lexically "", physically above the root
    upstream.git("update-index", "--add", "--cacheinfo", f"160000,{lib},vendor/lib")
    sha = upstream.commit(message="layout")
    return upstream, sha


@pytest.fixture
async def tree(layout: tuple[Upstream, str], sources: base.Sources) -> trees.GitTree:
    upstream, sha = layout
    repo = base.RepoSpec(upstream.url)
    await sources.fetch(repo)
    return sources.tree(repo, sha)


def test_list_is_sorted_with_kinds_and_sizes(tree: trees.GitTree) -> None:
    app = tree.list("app")
    assert [(e.name, e.path, e.kind, e.size) for e in app] == [
        ("a.yaml", "app/a.yaml", trees.EntryKind.FILE, 5),
        ("link-to-a", "app/link-to-a", trees.EntryKind.SYMLINK, len("a.yaml")),
        ("linkdir", "app/linkdir", trees.EntryKind.SYMLINK, len("sub")),
        ("run.sh", "app/run.sh", trees.EntryKind.FILE, 10),
        ("sub", "app/sub", trees.EntryKind.DIRECTORY, 0),
    ]
    # Through a directory symlink, entries keep the caller's spelling.
    assert [e.path for e in tree.list("app/linkdir")] == ["app/linkdir/b.yaml"]


def test_submodules_are_skipped_with_a_note(tree: trees.GitTree) -> None:
    root = [e.name for e in tree.list("")]
    assert "vendor" in root
    assert tree.list("vendor") == []
    assert any("submodule vendor/lib" in note for note in tree.notes)
    assert tree.kind("vendor/lib") is None
    with pytest.raises(errors.SourcePathError, match=r"vendor/lib.*submodule"):
        tree.read("vendor/lib")


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("app/a.yaml", b"a: 1\n"),
        ("./app//a.yaml", b"a: 1\n"),
        ("app/sub/../a.yaml", b"a: 1\n"),
        ("app/link-to-a", b"a: 1\n"),
        ("app/linkdir/b.yaml", b"b: 2\n"),
        ("app/linkdir/../a.yaml", b"a: 1\n"),  # ".." after a link is physical, as in a shell
        ("chain1", b"a: 1\n"),
        ("dot/dot/README", b"hello\n"),
    ],
)
def test_read(tree: trees.GitTree, path: str, content: bytes) -> None:
    assert tree.read(path) == content


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("", trees.EntryKind.DIRECTORY),
        ("app", trees.EntryKind.DIRECTORY),
        ("app/a.yaml", trees.EntryKind.FILE),
        ("app/link-to-a", trees.EntryKind.SYMLINK),
        ("bad/absolute", trees.EntryKind.SYMLINK),  # the link itself is not followed
        ("app/linkdir/b.yaml", trees.EntryKind.FILE),
        ("nope", None),
        ("app/a.yaml/x", None),
        ("dot/../README", trees.EntryKind.FILE),  # a caller's ".." is lexical
    ],
)
def test_kind(tree: trees.GitTree, path: str, kind: trees.EntryKind | None) -> None:
    assert tree.kind(path) == kind


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "'/etc/passwd' is not a relative POSIX path"),
        ("..", "'..' escapes the repository root"),
        ("app/../../x", "'app/../../x' escapes the repository root"),
        ("app\\a.yaml", "is not a relative POSIX path"),
        ("app/missing.yaml", "'app/missing.yaml' at file://.* not found"),
        ("app", "is a directory"),
    ],
)
def test_bad_paths(tree: trees.GitTree, path: str, message: str) -> None:
    with pytest.raises(errors.SourcePathError, match=message):
        tree.read(path)
    if path != "app":
        with pytest.raises(errors.SourcePathError):
            tree.digest(path)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "bad/absolute",
            "symlink 'bad/absolute' .* points outside the repository \\('/etc/passwd'",
        ),
        ("bad/escape", "symlink 'bad/escape' .* points outside the repository \\('../../outside'"),
        ("bad/loop1", "symlink 'bad/loop\\d' .* loop"),
        ("climb/README", "symlink 'climb' .* points outside the repository"),
    ],
)
def test_unsafe_symlinks(tree: trees.GitTree, path: str, message: str) -> None:
    with pytest.raises(errors.UnsafeInputError, match=message):
        tree.read(path)


def test_oversized_file_is_refused_before_loading(
    tree: trees.GitTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_loading(self: trees.GitTree, oid: object) -> bytes:
        raise AssertionError("blob content was loaded")

    monkeypatch.setattr(trees.GitTree, "_data", no_loading)
    with pytest.raises(errors.UnsafeInputError, match=f"'big.bin' .* is {BIG} bytes"):
        tree.read("big.bin", max_bytes=1024 * 1024)
    assert [e.size for e in tree.list("") if e.name == "big.bin"] == [BIG]
    monkeypatch.undo()
    assert len(tree.read("big.bin", max_bytes=BIG)) == BIG


def test_digest_is_the_git_object_id(tree: trees.GitTree, layout: tuple[Upstream, str]) -> None:
    upstream, sha = layout
    assert tree.digest("app") == upstream.git("rev-parse", f"{sha}:app")
    assert tree.digest("") == upstream.git("rev-parse", f"{sha}^{{tree}}")
    assert tree.digest("app/a.yaml") == upstream.git("rev-parse", f"{sha}:app/a.yaml")
    # A symlink digests as what it resolves to.
    assert tree.digest("chain1") == tree.digest("app/a.yaml")
    assert tree.digest("app/linkdir") == tree.digest("app/sub")
    assert tree.revision == sha


def test_materialize_copies_files_and_resolves_links(tree: trees.GitTree, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    tree.materialize(["app", "README", "chain1"], dest)
    assert (dest / "app/a.yaml").read_text() == "a: 1\n"
    assert (dest / "app/sub/b.yaml").read_text() == "b: 2\n"
    link = dest / "app/link-to-a"
    assert not link.is_symlink()
    assert link.read_text() == "a: 1\n"
    assert not (dest / "app/linkdir").is_symlink()
    assert (dest / "app/linkdir/b.yaml").read_text() == "b: 2\n"
    assert (dest / "chain1").read_text() == "a: 1\n"
    assert (dest / "README").read_text() == "hello\n"
    assert os.stat(dest / "app/run.sh").st_mode & stat.S_IXUSR
    assert not os.stat(dest / "app/a.yaml").st_mode & stat.S_IXUSR
    written = {p.relative_to(dest).as_posix() for p in dest.rglob("*")}
    assert all(not p.startswith("..") for p in written)


@pytest.mark.parametrize("path", ["bad", "bad/escape", "../x", "/etc"])
def test_materialize_refuses_escapes(tree: trees.GitTree, tmp_path: Path, path: str) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises((errors.UnsafeInputError, errors.SourcePathError)):
        tree.materialize([path], dest)
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "outside").exists()


def test_materialize_never_writes_through_a_symlink_in_dest(
    tree: trees.GitTree, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    dest.mkdir()
    elsewhere.mkdir()
    (dest / "app").symlink_to(elsewhere)
    with pytest.raises(errors.UnsafeInputError, match="leaves"):
        tree.materialize(["app/a.yaml"], dest)
    assert list(elsewhere.iterdir()) == []


def test_unknown_commit(layout: tuple[Upstream, str], sources: base.Sources) -> None:
    upstream, _ = layout
    repo = base.RepoSpec(upstream.url)
    with pytest.raises(errors.RevisionNotFound, match="has not been fetched"):
        sources.tree(repo, "0" * 40)
