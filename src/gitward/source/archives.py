"""Chart archives (``.tgz``) unpacked into memory, checked entry by entry, as a Tree.

A chart pulled from a Helm repository or an OCI registry is a gzipped tar with
one top directory (``ingress-nginx/Chart.yaml``...). :func:`unpack` reads it
never trusting what the archive says about itself:

* only regular files and directories are taken; symlinks, hard links, devices
  and FIFOs are refused (a link could point anywhere once materialized);
* every name must stay below the top directory: an absolute name, a
  backslash, a NUL or a ``..`` segment is refused, naming the chart and the
  entry (the ``../`` archive of the security tests);
* the uncompressed total and the entry count are bounded while reading, so
  a small archive that inflates to gigabytes (a gzip bomb) stops at the limit.

The result, :class:`ArchiveTree`, satisfies ``gitward.render.base.Tree`` by
shape (stages do not import each other), with the chart at the root: the
render stage sees the same thing as a chart directory in Git. Extra files
(the archives of dependencies fetched from their repositories) are added
under ``charts/`` before it is handed on. Called by :mod:`gitward.source.charts`.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitward import errors
from gitward.source import trees

_READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one chart archive."""

    max_archive_bytes: int = 16 * 1024 * 1024  # the .tgz as downloaded
    max_unpacked_bytes: int = 64 * 1024 * 1024  # all its files, uncompressed
    max_entries: int = 10_000


def _clean_name(name: str, where: str) -> tuple[str, ...]:
    if "\x00" in name or "\\" in name:
        raise errors.SourceRejected(f"{where}: entry {name!r} has a forbidden character")
    if name.startswith("/"):
        raise errors.SourceRejected(f"{where}: entry {name!r} is an absolute path")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if any(p == ".." for p in parts):
        raise errors.SourceRejected(f"{where}: entry {name!r} climbs out of the chart ('..')")
    return parts


def unpack(data: bytes, *, where: str, limits: Limits, revision: str) -> ArchiveTree:
    """The chart in the archive ``data``, its top directory stripped.

    ``where`` names the chart in every error (``chart ingress-nginx 4.11.2
    from https://...``); ``revision`` is what the tree reports as its revision
    (the archive digest). Raises :class:`gitward.errors.SourceRejected` for a
    refused entry, a limit passed, or an archive that is not a chart.
    """
    if len(data) > limits.max_archive_bytes:
        raise errors.SourceRejected(
            f"{where}: archive of {len(data)} bytes is over the {limits.max_archive_bytes}-byte"
            " limit"
        )
    files: dict[str, bytes] = {}
    top: str | None = None
    total = 0
    try:
        raw = _gunzip(data, limits.max_unpacked_bytes + 1536 * limits.max_entries, where)
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            for count, member in enumerate(archive, start=1):
                if count > limits.max_entries:
                    raise errors.SourceRejected(
                        f"{where}: more than {limits.max_entries} entries in the archive"
                    )
                parts = _clean_name(member.name, where)
                if member.type in (tarfile.XHDTYPE, tarfile.XGLTYPE):
                    continue
                if member.issym() or member.islnk():
                    raise errors.SourceRejected(
                        f"{where}: entry {member.name!r} is a link; charts may hold only files"
                    )
                if not (member.isfile() or member.isdir()):
                    raise errors.SourceRejected(
                        f"{where}: entry {member.name!r} is not a regular file or directory"
                    )
                if not parts:
                    continue
                if top is None:
                    top = parts[0]
                elif parts[0] != top:
                    raise errors.SourceRejected(
                        f"{where}: entries under both {top!r} and {parts[0]!r}; a chart archive"
                        " has one top directory"
                    )
                if member.isdir() or len(parts) == 1:
                    continue
                total += member.size
                if total > limits.max_unpacked_bytes:
                    raise errors.SourceRejected(
                        f"{where}: unpacks to more than {limits.max_unpacked_bytes} bytes"
                    )
                handle = archive.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() guarantees a handle
                    continue
                content = handle.read(member.size + 1)
                if len(content) != member.size:
                    raise errors.SourceRejected(
                        f"{where}: entry {member.name!r} does not hold the size it declares"
                    )
                path = "/".join(parts[1:])
                if path in files:
                    raise errors.SourceRejected(f"{where}: entry {member.name!r} appears twice")
                files[path] = content
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise errors.SourceRejected(f"{where}: not a readable chart archive ({exc})") from None
    if "Chart.yaml" not in files:
        raise errors.SourceRejected(f"{where}: the archive holds no Chart.yaml")
    return ArchiveTree(files, revision=revision, where=where)


def _gunzip(data: bytes, limit: int, where: str) -> bytes:
    # Decompressed piecewise with a cap: a small archive inflating to
    # gigabytes stops here. (tarfile's streaming "r|gz" rejects the gzip
    # header Helm writes, so the tar is read from memory after this.)
    inflater = zlib.decompressobj(wbits=31)
    out = bytearray()
    chunk = data
    while chunk:
        out += inflater.decompress(chunk, _READ_CHUNK)
        if len(out) > limit:
            raise errors.SourceRejected(f"{where}: unpacks to more than {limit} bytes")
        chunk = inflater.unconsumed_tail
    out += inflater.flush()
    if len(out) > limit:
        raise errors.SourceRejected(f"{where}: unpacks to more than {limit} bytes")
    return bytes(out)


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts))]


class ArchiveTree:
    """Files held in memory (a chart archive's), read through the Tree protocol."""

    def __init__(self, files: Mapping[str, bytes], *, revision: str, where: str) -> None:
        self._files = dict(files)
        self._revision = revision
        self._where = where
        self._dirs: dict[str, set[str]] = {"": set()}
        for path in self._files:
            for parent in _parents(path):
                self._dirs.setdefault(parent, set())
            for parent, child in zip(_parents(path), path.split("/"), strict=True):
                self._dirs[parent].add(child)

    def __repr__(self) -> str:
        return f"ArchiveTree({self._where})"

    def with_files(self, extra: Mapping[str, bytes]) -> ArchiveTree:
        """A copy with ``extra`` files added (dependency archives under ``charts/``)."""
        return ArchiveTree({**self._files, **extra}, revision=self._revision, where=self._where)

    @property
    def revision(self) -> str:
        return self._revision

    def _path(self, path: str) -> str:
        return "/".join(trees.split(path))

    def kind(self, path: str) -> trees.EntryKind | None:
        clean = self._path(path)
        if clean in self._files:
            return trees.EntryKind.FILE
        if clean in self._dirs:
            return trees.EntryKind.DIRECTORY
        return None

    def list(self, path: str) -> Sequence[trees.Entry]:
        clean = self._path(path)
        if clean not in self._dirs:
            raise errors.SourcePathError(f"{self._where}: no directory {path!r}")
        found = []
        for name in sorted(self._dirs[clean]):
            child = f"{clean}/{name}" if clean else name
            spelled = f"{path.rstrip('/')}/{name}" if path.strip("/") else name
            if child in self._files:
                found.append(
                    trees.Entry(name, spelled, trees.EntryKind.FILE, len(self._files[child]))
                )
            else:
                found.append(trees.Entry(name, spelled, trees.EntryKind.DIRECTORY))
        return found

    def read(self, path: str, *, max_bytes: int | None = None) -> bytes:
        clean = self._path(path)
        data = self._files.get(clean)
        if data is None:
            raise errors.SourcePathError(f"{self._where}: no file {path!r}")
        if max_bytes is not None and len(data) > max_bytes:
            raise errors.SourceRejected(
                f"{self._where}: {path!r} is {len(data)} bytes, over the limit of {max_bytes}"
            )
        return data

    def digest(self, path: str) -> str:
        clean = self._path(path)
        if clean in self._files:
            return hashlib.sha256(self._files[clean]).hexdigest()
        if clean not in self._dirs:
            raise errors.SourcePathError(f"{self._where}: no path {path!r}")
        prefix = f"{clean}/" if clean else ""
        summary = hashlib.sha256()
        for name in sorted(p for p in self._files if p.startswith(prefix)):
            summary.update(name.encode() + b"\0" + hashlib.sha256(self._files[name]).digest())
        return summary.hexdigest()

    def materialize(self, paths: Sequence[str], dest: Path) -> None:
        root = dest.resolve()
        for path in paths:
            clean = self._path(path)
            if self.kind(clean) is None:
                raise errors.SourcePathError(f"{self._where}: no path {path!r}")
            prefix = f"{clean}/" if clean else ""
            for name, data in self._files.items():
                if name == clean or name.startswith(prefix):
                    _write(root, name, data)
            if clean in self._dirs:
                root.joinpath(*clean.split("/")).mkdir(parents=True, exist_ok=True)


def _write(root: Path, name: str, data: bytes) -> None:
    target = root.joinpath(*name.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.parent.resolve().is_relative_to(root):
        raise errors.SourceRejected(f"refusing to write {name!r}: it leaves {root}")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
