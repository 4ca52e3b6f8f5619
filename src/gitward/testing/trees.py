"""A public fake of the render stage's ``Tree``: a repository read from a directory.

:class:`DirectoryTree` follows the same rules as the source stage's git tree
(POSIX repository-relative paths, ``..`` and absolute paths refused, symlinks
followed only while they stay inside the repository, size checked before a
read), so render tests and users' renderer plugins can run against plain
directories. A ``.git`` directory at the root is invisible, as it is in a git
tree. Used by ``tests/render`` and by anyone testing a renderer.

This module may import only ``gitward.model`` and ``gitward.errors``; its
``Entry`` and ``EntryKind`` match ``gitward.render.base`` by shape.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from gitward import errors

_MAX_LINK_HOPS = 40  # as Linux's MAXSYMLINKS


class EntryKind(StrEnum):
    FILE = "file"
    DIRECTORY = "dir"
    SYMLINK = "symlink"


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a directory."""

    name: str
    path: str
    kind: EntryKind
    size: int = 0


def _normalize(path: str) -> list[str]:
    if "\x00" in path:
        raise errors.SourcePathError(f"path {path!r} contains a NUL byte")
    if path.startswith("/"):
        raise errors.SourcePathError(f"path {path!r} is absolute")
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                raise errors.SourcePathError(f"path {path!r} escapes the repository")
            parts.pop()
        else:
            parts.append(segment)
    return parts


class DirectoryTree:
    """The directory ``root`` seen as a repository at ``revision``."""

    def __init__(self, root: Path, revision: str = "test") -> None:
        self._root = root
        self._revision = revision

    @property
    def revision(self) -> str:
        return self._revision

    @property
    def root(self) -> Path:
        return self._root

    # --- resolution --------------------------------------------------------------

    def _resolve(self, path: str, *, follow_last: bool = True) -> list[str]:
        """Repository-relative parts of what ``path`` names, symlinks followed."""
        pending = _normalize(path)
        done: list[str] = []
        hops = 0
        link = ""  # the last symlink followed, named when its target escapes
        while pending:
            name = pending.pop(0)
            if name == "..":
                if not done:
                    raise errors.UnsafeInputError(f"symlink {link!r} points outside the repository")
                done.pop()
                continue
            if not done and name == ".git":
                raise errors.SourcePathError(f"path {path!r} does not exist")
            candidate = self._root.joinpath(*done, name)
            if _is_link(candidate, path) and (pending or follow_last):
                hops += 1
                link = "/".join([*done, name])
                if hops > _MAX_LINK_HOPS:
                    raise errors.UnsafeInputError(f"symlink {link!r}: too many levels (a loop)")
                target = str(candidate.readlink())
                if target.startswith("/"):
                    raise errors.UnsafeInputError(
                        f"symlink {link!r} points outside the repository ({target})"
                    )
                pending = [s for s in target.split("/") if s not in ("", ".")] + pending
                continue
            done.append(name)
        return done

    def _path(self, path: str, *, follow_last: bool = True) -> tuple[str, Path]:
        parts = self._resolve(path, follow_last=follow_last)
        return "/".join(parts), self._root.joinpath(*parts)

    def _stat(self, path: str, *, follow_last: bool = True) -> tuple[Path, os.stat_result]:
        _, real = self._path(path, follow_last=follow_last)
        try:
            return real, real.lstat()
        except (FileNotFoundError, NotADirectoryError):
            raise errors.SourcePathError(f"path {path!r} does not exist") from None
        except OSError as exc:
            raise errors.SourcePathError(f"path {path!r}: {exc.strerror}") from None

    # --- the Tree protocol -------------------------------------------------------

    def kind(self, path: str) -> EntryKind | None:
        _normalize(path)  # an escaping path is an error, not an absent one
        try:
            _, real = self._path(path, follow_last=False)
            return _kind(real.lstat())
        except (errors.SourcePathError, FileNotFoundError, NotADirectoryError):
            return None

    def list(self, path: str) -> Sequence[Entry]:
        real, info = self._stat(path)
        if not stat.S_ISDIR(info.st_mode):
            raise errors.SourcePathError(f"path {path!r} is not a directory")
        prefix = "/".join(_normalize(path))
        entries: list[Entry] = []
        for child in sorted(real.iterdir(), key=lambda p: p.name):
            if not prefix and child.name == ".git":
                continue
            child_info = child.lstat()
            kind = _kind(child_info)
            size = 0 if kind is EntryKind.DIRECTORY else child_info.st_size
            child_path = f"{prefix}/{child.name}" if prefix else child.name
            entries.append(Entry(name=child.name, path=child_path, kind=kind, size=size))
        return entries

    def read(self, path: str, *, max_bytes: int | None = None) -> bytes:
        real, info = self._stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise errors.SourcePathError(f"path {path!r} is not a file")
        if max_bytes is not None and info.st_size > max_bytes:
            raise errors.UnsafeInputError(
                f"file {path!r}: {info.st_size} bytes is over the {max_bytes}-byte limit"
            )
        return real.read_bytes()

    def digest(self, path: str) -> str:
        real, info = self._stat(path)
        return _digest(real, info)

    def materialize(self, paths: Sequence[str], dest: Path) -> None:
        for path in paths:
            parts = _normalize(path)
            real, info = self._stat(path)
            target = dest.joinpath(*parts)
            self._copy("/".join(parts), real, info, target, frozenset())

    def _copy(
        self, path: str, real: Path, info: os.stat_result, target: Path, seen: frozenset[str]
    ) -> None:
        if stat.S_ISREG(info.st_mode):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(real, target)
            return
        key = str(real)
        if key in seen:
            raise errors.UnsafeInputError(f"symlink loop under {path!r}")
        target.mkdir(parents=True, exist_ok=True)
        for entry in self.list(path):
            child_real, child_info = self._stat(entry.path)
            self._copy(entry.path, child_real, child_info, target / entry.name, seen | {key})


def _kind(info: os.stat_result) -> EntryKind:
    if stat.S_ISLNK(info.st_mode):
        return EntryKind.SYMLINK
    if stat.S_ISDIR(info.st_mode):
        return EntryKind.DIRECTORY
    return EntryKind.FILE


def _digest(real: Path, info: os.stat_result) -> str:
    if stat.S_ISREG(info.st_mode):
        content = hashlib.sha256()
        with real.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                content.update(chunk)
        return content.hexdigest()
    # A directory hashes its listing the way a git tree does: names, kinds and
    # the digests of children; a symlink counts by its target text.
    listing = hashlib.sha256()
    for child in sorted(real.iterdir(), key=lambda p: p.name):
        if child.name == ".git":
            continue
        child_info = child.lstat()
        if stat.S_ISLNK(child_info.st_mode):
            child_digest = hashlib.sha256(str(child.readlink()).encode()).hexdigest()
        else:
            child_digest = _digest(child, child_info)
        listing.update(f"{_kind(child_info)} {child.name} {child_digest}\n".encode())
    return listing.hexdigest()


def _is_link(candidate: Path, path: str) -> bool:
    """Whether ``candidate`` is a symlink; a name the file system refuses
    (longer than it allows) is an absent path named as such, never an OSError."""
    try:
        return candidate.is_symlink()
    except OSError as exc:
        raise errors.SourcePathError(f"path {path!r} does not exist ({exc.strerror})") from None
