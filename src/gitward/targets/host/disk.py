"""What is at a path under the roots, and writing it so a crash leaves old or new.

A file is written to a temporary file in its own directory, flushed
(``fsync``), given its owner and mode, and renamed over the old one; then the
directory is flushed so the rename itself survives a power cut. A process
killed at any moment leaves the old file or the new one, never a mix; at
worst a temporary file (``.<name>.gitward-<random>.tmp``) stays behind, and
the next write of that path removes it. Symlinks are replaced the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from gitward import errors
from gitward.targets.host import confining

_MAX_BYTES = 64 * 1024 * 1024
_TMP_MARK = ".gitward-"


@dataclass(frozen=True, slots=True)
class Found:
    """The entry at a path, without following a final symlink."""

    type: str  # "file", "directory", "symlink" or "other"
    mode: int
    uid: int
    gid: int
    data: bytes = b""  # a file's content
    link: str = ""  # a symlink's target


def look(path: str, roots: Sequence[str], *, what: str) -> Found | None:
    """The entry at ``path`` (None when there is none)."""
    name = posixpath.basename(path)
    with confining.open_parent(path, roots, create=False, what=what) as parent:
        if parent is None:
            return None
        try:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return None
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            link = os.readlink(name, dir_fd=parent)
            return Found("symlink", mode, info.st_uid, info.st_gid, link=link)
        if stat.S_ISDIR(info.st_mode):
            return Found("directory", mode, info.st_uid, info.st_gid)
        if not stat.S_ISREG(info.st_mode):
            return Found("other", mode, info.st_uid, info.st_gid)
        if info.st_size > _MAX_BYTES:
            raise errors.ApplyError(
                f"{what}: {path} holds {info.st_size} bytes, over the {_MAX_BYTES}-byte limit"
            )
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as stream:
            data = stream.read(_MAX_BYTES + 1)
        return Found("file", mode, info.st_uid, info.st_gid, data=data)


def write_file(
    path: str, data: bytes, *, mode: int, uid: int, gid: int, roots: Sequence[str], what: str
) -> None:
    """Replace ``path`` with ``data`` atomically (owner and mode set before the rename)."""
    name = posixpath.basename(path)
    with confining.open_parent(path, roots, create=True, what=what) as parent:
        assert parent is not None  # created
        _refuse_directory(parent, name, path, what)
        _sweep(parent, name)
        temporary = _temporary_name(name)
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=parent,
        )
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if uid >= 0 or gid >= 0:
                    os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temporary, name, src_dir_fd=parent, dst_dir_fd=parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=parent)
            raise errors.ApplyError(f"{what}: cannot write {path}: {exc.strerror}") from None
        os.fsync(parent)


def make_directory(
    path: str, *, mode: int, uid: int, gid: int, roots: Sequence[str], what: str
) -> None:
    """Create ``path`` (or keep it) as a directory with this owner and mode."""
    name = posixpath.basename(path)
    with confining.open_parent(path, roots, create=True, what=what) as parent:
        assert parent is not None
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, mode, dir_fd=parent)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
        except OSError:
            raise errors.ApplyError(
                f"{what}: {path} exists and is not a directory; remove it first"
            ) from None
        try:
            if uid >= 0 or gid >= 0:
                os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
        except OSError as exc:
            raise errors.ApplyError(f"{what}: cannot set up {path}: {exc.strerror}") from None
        finally:
            os.close(fd)
        os.fsync(parent)


def make_symlink(
    path: str, target: str, *, uid: int, gid: int, roots: Sequence[str], what: str
) -> None:
    """Replace ``path`` with a symlink to ``target`` atomically."""
    name = posixpath.basename(path)
    with confining.open_parent(path, roots, create=True, what=what) as parent:
        assert parent is not None
        _refuse_directory(parent, name, path, what)
        _sweep(parent, name)
        temporary = _temporary_name(name)
        try:
            os.symlink(target, temporary, dir_fd=parent)
            if uid >= 0 or gid >= 0:
                os.chown(temporary, uid, gid, dir_fd=parent, follow_symlinks=False)
            os.rename(temporary, name, src_dir_fd=parent, dst_dir_fd=parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=parent)
            raise errors.ApplyError(f"{what}: cannot link {path}: {exc.strerror}") from None
        os.fsync(parent)


def remove(path: str, expected: str, *, roots: Sequence[str], what: str) -> bool:
    """Remove ``path`` if it is still of the ``expected`` type; False when gone.
    A directory is removed only when empty (ApplyError otherwise)."""
    name = posixpath.basename(path)
    with confining.open_parent(path, roots, create=False, what=what) as parent:
        if parent is None:
            return False
        try:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return False
        is_dir = stat.S_ISDIR(info.st_mode)
        if (expected == "directory") != is_dir:
            found = "a directory" if is_dir else "not a directory"
            raise errors.ApplyError(
                f"{what}: {path} is now {found}; left in place for a person to look at"
            )
        try:
            if is_dir:
                os.rmdir(name, dir_fd=parent)
            else:
                os.unlink(name, dir_fd=parent)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.errno == errno.ENOTEMPTY:
                raise errors.ApplyError(
                    f"{what}: directory {path} is not empty (it holds files gitward did not "
                    "create); left in place"
                ) from None
            raise errors.ApplyError(f"{what}: cannot remove {path}: {exc.strerror}") from None
        os.fsync(parent)
        return True


def _temporary_name(name: str) -> str:
    stem = name if len(name) < 200 else name[:200]
    return f".{stem}{_TMP_MARK}{secrets.token_hex(6)}.tmp"


def _refuse_directory(parent: int, name: str, path: str, what: str) -> None:
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        raise errors.ApplyError(f"{what}: {path} is a directory; remove it first")


def _sweep(parent: int, name: str) -> None:
    """Remove temporary files an interrupted write of ``name`` left behind."""
    prefix = f".{name if len(name) < 200 else name[:200]}{_TMP_MARK}"
    for entry in os.listdir(parent):
        if entry.startswith(prefix) and entry.endswith(".tmp"):
            with contextlib.suppress(OSError):
                os.unlink(entry, dir_fd=parent)
