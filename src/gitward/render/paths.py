"""Joining repository-relative paths without ever leaving the repository.

Every path the render stage takes from a user (an Application's path, a Helm
values file, a Kustomize resource) goes through :func:`join` before it reaches
a :class:`~gitward.render.base.Tree`. Called by every renderer.
"""

from __future__ import annotations

from gitward import errors


def _refuse(what: str, path: str, why: str) -> errors.UnsafeInputError:
    return errors.UnsafeInputError(f"{what} {path!r}: {why}")


def normalize(path: str, *, what: str = "path") -> str:
    """``path`` as a canonical repository-relative POSIX path (``""`` is the root).

    Refuses absolute paths, NUL bytes and ``..`` that climbs above the root;
    ``.`` and empty segments vanish, ``a/../b`` becomes ``b``.
    """
    return join("", path, what=what)


def join(base: str, path: str, *, what: str = "path") -> str:
    """``path`` resolved against the repository directory ``base``.

    ``base`` is itself a repository-relative path (already trusted or not:
    it is checked too). The result never leaves the repository: ``..`` may
    climb out of ``base`` (``web/staging`` + ``../common/values.yaml`` is
    ``web/common/values.yaml``) but not above the root. ``what`` names the
    reference in the error (``values file``, ``kustomize resource``).
    """
    for candidate in (base, path):
        if "\x00" in candidate:
            raise _refuse(what, candidate.replace("\x00", "\\0"), "contains a NUL byte")
    if path.startswith("/") or base.startswith("/"):
        raise _refuse(what, path if path.startswith("/") else base, "absolute paths are refused")
    parts: list[str] = []
    for segment in [*base.split("/"), *path.split("/")]:
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                raise _refuse(what, path, "escapes the repository")
            parts.pop()
            continue
        parts.append(segment)
    return "/".join(parts)


def parent(path: str) -> str:
    """The directory holding ``path`` (``""`` for top-level entries)."""
    return path.rpartition("/")[0]


def is_within(path: str, directory: str) -> bool:
    """Whether the normalized ``path`` is ``directory`` or lies below it."""
    return directory == "" or path == directory or path.startswith(directory + "/")
