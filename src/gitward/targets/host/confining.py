"""Keep every write of the host target under its declared roots.

Twice: lexically when an object is read (:func:`confine`: an absolute path,
no ``..``, under a root), and on the disk when it is written or read
(:func:`open_parent`): the directories between the root and the object are
opened one at a time relative to the previous one, never following a
symlink blindly, so a directory swapped for a symlink to ``/etc`` cannot carry
a write out of the roots. A symlink on the way is followed only when it leads
inside a root; otherwise the error names it and where it leads.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
from collections.abc import Iterator, Sequence
from pathlib import Path

from gitward import errors

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def confine(path: str, roots: Sequence[str], *, what: str) -> str:
    """``path`` normalised, or ApplyError naming it when it leaves the roots."""
    if "\x00" in path:
        raise errors.ApplyError(f"{what}: path {path!r} contains a NUL byte")
    if not path.startswith("/"):
        raise errors.ApplyError(f"{what}: path {path!r} is not absolute")
    if ".." in path.split("/"):
        raise errors.ApplyError(f"{what}: path {path!r} contains '..'; refused")
    normal = "/" + posixpath.normpath(path).lstrip("/")
    if root_of(normal, roots) is None:
        raise errors.ApplyError(
            f"{what}: path {path!r} is outside the target's roots ({', '.join(roots)})"
        )
    return normal


def root_of(path: str, roots: Sequence[str]) -> str | None:
    """The root ``path`` lies in (the longest one), None when it lies in none."""
    found = [r for r in roots if path == r or path.startswith(r.rstrip("/") + "/")]
    return max(found, key=len) if found else None


def inside_real_roots(real: str, roots: Sequence[str]) -> bool:
    """Whether the resolved path ``real`` lies in one of the roots, themselves resolved."""
    resolved = [os.path.realpath(r) for r in roots]
    return root_of(real, resolved) is not None


@contextlib.contextmanager
def open_parent(
    path: str, roots: Sequence[str], *, create: bool, what: str
) -> Iterator[int | None]:
    """A descriptor of the directory holding ``path``, reached from its root
    without leaving the roots; None when a directory on the way is missing and
    ``create`` is False (missing ones are created 0755 when it is True).
    ``path`` must already be confined."""
    root = root_of(path, roots)
    if root is None:
        raise errors.ApplyError(f"{what}: path {path!r} is outside the target's roots")
    if create:
        Path(root).mkdir(mode=0o755, parents=True, exist_ok=True)
    try:
        fd = os.open(root, _DIRECTORY_FLAGS)
    except FileNotFoundError:
        yield None
        return
    except OSError as exc:
        raise errors.ApplyError(f"{what}: root {root} cannot be opened: {exc.strerror}") from None
    parts = [p for p in posixpath.dirname(path)[len(root) :].split("/") if p]
    walked = root
    try:
        for part in parts:
            walked = posixpath.join(walked, part)
            step = _step(fd, part, walked, roots, create=create, what=what, path=path)
            os.close(fd)
            fd = step
            if fd < 0:
                break
        yield fd if fd >= 0 else None
    finally:
        if fd >= 0:
            os.close(fd)


def _step(
    fd: int, part: str, walked: str, roots: Sequence[str], *, create: bool, what: str, path: str
) -> int:
    for _ in range(2):
        try:
            return os.open(part, _DIRECTORY_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                return -1
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise errors.ApplyError(
                    f"{what}: {walked} cannot be opened: {exc.strerror}"
                ) from None
            return _through_link(fd, part, walked, roots, what=what, path=path)
    raise errors.ApplyError(f"{what}: {walked} keeps changing while it is created")


def _through_link(
    fd: int, part: str, walked: str, roots: Sequence[str], *, what: str, path: str
) -> int:
    try:
        link = os.readlink(part, dir_fd=fd)
    except OSError:
        raise errors.ApplyError(
            f"{what}: {walked} is not a directory; cannot place {path} under it"
        ) from None
    real = os.path.realpath(walked)
    if not inside_real_roots(real, roots):
        raise errors.ApplyError(
            f"{what}: {walked} is a symlink to {link!r}, leading to {real} outside the "
            f"target's roots; refusing to follow it to {path}"
        )
    try:
        return os.open(real, _DIRECTORY_FLAGS)
    except OSError as exc:
        raise errors.ApplyError(
            f"{what}: {walked} (a symlink to {link!r}) cannot be opened: {exc.strerror}"
        ) from None
