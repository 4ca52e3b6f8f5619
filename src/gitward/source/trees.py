"""A repository at one commit, read straight from git's object store (no checkout).

:class:`GitTree` is what the engine hands the render stage; it satisfies
``gitward.render.base.Tree`` by shape (stages do not import each other), so
:class:`Entry` and :class:`EntryKind` mirror render's values field for field.

Path rules (the render stage relies on them for safety):

* paths are POSIX and repository-relative; ``""`` is the root; ``.`` and
  empty segments are ignored; a caller's ``..`` is resolved lexically (as Go's
  ``filepath.Clean``, which Kustomize and Helm use); an absolute path, a
  backslash, a NUL or a ``..`` that leaves the root raises
  :class:`gitward.errors.SourcePathError`;
* symlinks (mode 120000) are followed, in the middle of a path and at its
  end, while what they point at stays inside the repository (a ``..`` in a
  link's target is physical, as the filesystem does it); chains are
  followed, loops and absolute or escaping targets raise
  :class:`gitward.errors.UnsafeInputError` naming the link and its target;
* a missing path raises :class:`gitward.errors.SourcePathError`;
* submodules (gitlinks) have no content in this repository: listings skip
  them and record a note in :attr:`GitTree.notes`; reading one raises
  :class:`gitward.errors.SourcePathError` saying it is a submodule.

A GitTree opens its own libgit2 handle, so trees may be used from different
threads at once; one GitTree should be used by one thread at a time.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pygit2
import structlog

from gitward import errors

_log = structlog.get_logger(__name__)

_MODE_LINK = 0o120000
_MODE_GITLINK = 0o160000
_MODE_TREE = 0o040000
_MODE_EXECUTABLE = 0o100755
# Linux gives up after 40 symlinks (ELOOP); so do we.
_MAX_LINKS = 40
_TREE_CACHE_SIZE = 4096


class EntryKind(StrEnum):
    FILE = "file"
    DIRECTORY = "dir"
    SYMLINK = "symlink"


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a directory in a tree."""

    name: str
    path: str  # repository-relative POSIX path, as the caller spelled its directory
    kind: EntryKind
    size: int = 0  # bytes for files and symlinks, 0 for directories


@dataclass(frozen=True, slots=True)
class _Node:
    """A path resolved to an object: where it really is and what it is."""

    path: str  # canonical path in the repository
    oid: pygit2.Oid
    mode: int


def split(path: str) -> list[str]:
    """``path`` as canonical components; SourcePathError if it leaves the root."""
    if path.startswith("/") or "\\" in path or "\x00" in path:
        raise errors.SourcePathError(f"path {path!r} is not a relative POSIX path")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise errors.SourcePathError(f"path {path!r} escapes the repository root")
            parts.pop()
            continue
        parts.append(part)
    return parts


class GitTree:
    """The files of one commit of a mirror, read without a checkout."""

    def __init__(self, git_dir: Path, sha: str, *, url: str = "") -> None:
        self._repo = pygit2.Repository(str(git_dir))
        self._url = url or str(git_dir)
        try:
            commit = self._repo[sha].peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise errors.RevisionNotFound(f"commit {sha} not found in {self._url}") from None
        self._sha = str(commit.id)
        self._root = _Node("", commit.tree.id, _MODE_TREE)
        self._notes: dict[str, str] = {}
        self._trees: dict[pygit2.Oid, pygit2.Tree] = {}

    def __repr__(self) -> str:
        return f"GitTree({self._url}@{self._sha[:12]})"

    @property
    def revision(self) -> str:
        return self._sha

    @property
    def notes(self) -> tuple[str, ...]:
        """What was skipped while reading (submodules), for status messages."""
        return tuple(self._notes.values())

    # --- the Tree protocol ----------------------------------------------------

    def kind(self, path: str) -> EntryKind | None:
        try:
            node = self._resolve(path, follow_last=False)
        except errors.SourcePathError:
            split(path)  # an invalid path is an error, not an absence
            return None
        if node.mode == _MODE_GITLINK:
            self._note_submodule(node.path)
            return None
        return _kind(node.mode)

    def list(self, path: str) -> Sequence[Entry]:
        node = self._resolve(path)
        if node.mode != _MODE_TREE:
            raise errors.SourcePathError(f"{self._where(path)} is not a directory")
        tree = self._tree(node.oid)
        prefix = "/".join(split(path))
        entries = []
        for item in tree:
            name = str(item.name)
            child = f"{prefix}/{name}" if prefix else name
            if item.filemode == _MODE_GITLINK:
                self._note_submodule(f"{node.path}/{name}".lstrip("/"))
                continue
            kind = _kind(item.filemode)
            size = 0 if kind is EntryKind.DIRECTORY else self._size(item.id)
            entries.append(Entry(name=name, path=child, kind=kind, size=size))
        entries.sort(key=lambda e: e.name)
        return entries

    def read(self, path: str, *, max_bytes: int | None = None) -> bytes:
        node = self._resolve(path)
        if node.mode == _MODE_TREE:
            raise errors.SourcePathError(f"{self._where(path)} is a directory, not a file")
        if max_bytes is not None:
            size = self._size(node.oid)
            if size > max_bytes:
                raise errors.UnsafeInputError(
                    f"{self._where(path)} is {size} bytes, over the limit of {max_bytes} bytes"
                )
        return self._data(node.oid)

    def digest(self, path: str) -> str:
        return str(self._resolve(path).oid)

    def materialize(self, paths: Sequence[str], dest: Path) -> None:
        root = dest.resolve()
        for path in paths:
            parts = split(path)
            node = self._resolve(path)
            target = root.joinpath(*parts)
            if node.mode != _MODE_TREE:
                self._directory(target.parent, root)
            self._write(node, target, root, depth=0)

    # --- internals ------------------------------------------------------------

    def _write(self, node: _Node, target: Path, root: Path, depth: int) -> None:
        # ``target`` is built from canonical components, never from a link's
        # text; directories are checked once to be inside ``root`` and files
        # are opened with O_NOFOLLOW, so nothing is written outside ``dest``.
        if depth > 256:
            raise errors.UnsafeInputError(f"{self._where(node.path)} is nested too deeply")
        if node.mode != _MODE_TREE:
            self._file(target, self._data(node.oid), executable=node.mode == _MODE_EXECUTABLE)
            return
        self._directory(target, root)
        for item in self._tree(node.oid):
            name = str(item.name)
            child_path = f"{node.path}/{name}".lstrip("/")
            mode = item.filemode
            if mode == _MODE_GITLINK:
                self._note_submodule(child_path)
            elif mode == _MODE_LINK:
                self._write(self._resolve(child_path), target / name, root, depth + 1)
            else:
                self._write(_Node(child_path, item.id, mode), target / name, root, depth + 1)

    @staticmethod
    def _directory(target: Path, root: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or not target.resolve().is_relative_to(root):
            raise errors.UnsafeInputError(f"refusing to write under {target}: it leaves {root}")

    @staticmethod
    def _file(target: Path, data: bytes, *, executable: bool) -> None:
        mode = 0o755 if executable else 0o644
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        except OSError as exc:
            raise errors.UnsafeInputError(
                f"refusing to write {target} while materializing: {exc.strerror}"
            ) from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)

    def _resolve(self, path: str, *, follow_last: bool = True) -> _Node:
        """Walk ``path`` from the root, following symlinks like a filesystem."""
        # A stack of (component, the link whose target it came from).
        pending: builtins.list[tuple[str, _Node | None]] = [(p, None) for p in split(path)]
        pending.reverse()
        stack: builtins.list[_Node] = [self._root]  # the directories walked so far
        links = 0
        while pending:
            part, origin = pending.pop()
            current = stack[-1]
            if current.mode != _MODE_TREE:
                raise errors.SourcePathError(
                    f"{self._where(path)} not found ({current.path!r} is not a directory)"
                )
            if part == "..":  # only ever comes from a link's target
                if len(stack) == 1:
                    # Lexically inside, physically above the root: the target
                    # went through a link to "." or to a shallower directory.
                    assert origin is not None
                    raise errors.UnsafeInputError(
                        f"symlink {self._where(origin.path)} points outside the repository"
                    )
                stack.pop()
                continue
            tree = self._tree(current.oid)
            if part not in tree:
                raise errors.SourcePathError(f"{self._where(path)} not found")
            item = tree[part]
            here = f"{current.path}/{part}".lstrip("/")
            node = _Node(here, item.id, item.filemode)
            if node.mode == _MODE_GITLINK:
                if pending or follow_last:
                    self._note_submodule(here)
                    raise errors.SourcePathError(
                        f"{self._where(here)} is a git submodule, which gitward does not read"
                    )
                return node
            if node.mode == _MODE_LINK and (pending or follow_last):
                links += 1
                if links > _MAX_LINKS:
                    raise errors.UnsafeInputError(
                        f"symlink {self._where(here)} is part of a loop or a chain of "
                        f"more than {_MAX_LINKS} links"
                    )
                pending.extend((p, node) for p in reversed(self._link_target(node, stack)))
                continue
            stack.append(node)
        return stack[-1]

    def _link_target(self, link: _Node, stack: builtins.list[_Node]) -> builtins.list[str]:
        """The components of a link's target, relative to the link's directory.

        Raises UnsafeInputError when the target is absolute or climbs above
        the repository root.
        """
        raw = self._data(link.oid)
        text = raw.decode("utf-8", errors="replace")
        if text.startswith("/") or "\x00" in text or "\\" in text:
            raise errors.UnsafeInputError(
                f"symlink {self._where(link.path)} points outside the repository ({text!r})"
            )
        depth = len(stack) - 1  # directories below the root where the link lives
        parts: builtins.list[str] = []
        for part in text.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if depth == 0:
                    raise errors.UnsafeInputError(
                        f"symlink {self._where(link.path)} points outside the repository ({text!r})"
                    )
                depth -= 1
            else:
                depth += 1
            parts.append(part)
        return parts

    def _tree(self, oid: pygit2.Oid) -> pygit2.Tree:
        # Every path lookup walks from the root; keeping the directories
        # halves the time to read a 5,000-file tree.
        tree = self._trees.get(oid)
        if tree is None:
            found = self._repo[oid]
            assert isinstance(found, pygit2.Tree)
            if len(self._trees) >= _TREE_CACHE_SIZE:
                self._trees.clear()
            tree = self._trees[oid] = found
        return tree

    def _data(self, oid: pygit2.Oid) -> bytes:
        _, data = self._repo.odb.read(oid)
        return data

    def _size(self, oid: pygit2.Oid) -> int:
        # The object header gives the size without inflating the blob, so a
        # huge file is refused without being loaded.
        _, size = self._repo.odb.read_header(oid)
        return int(size)

    def _note_submodule(self, path: str) -> None:
        if path not in self._notes:
            self._notes[path] = f"submodule {path} of {self._url} skipped (not supported)"
            _log.info("git submodule skipped", url=self._url, path=path, revision=self._sha)

    def _where(self, path: str) -> str:
        return f"{path or '/'!r} at {self._url}@{self._sha[:12]}"


def _kind(mode: int) -> EntryKind:
    if mode == _MODE_TREE:
        return EntryKind.DIRECTORY
    if mode == _MODE_LINK:
        return EntryKind.SYMLINK
    return EntryKind.FILE
