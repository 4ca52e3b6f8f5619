"""Trees made of trees: named sources under ``$<name>/``, fetched files laid over a tree.

An Application with several sources renders each unnamed source on its own;
named sources (``name: values``) only provide files, which render options
reach as ``$values/env/prod.yaml``. :class:`MountedTree` is the rendered
source's tree with each named source's tree visible under ``$<name>``: a path
whose first segment is ``$<name>`` is answered by that tree (with its own
path rules: nothing leaves it), every other path by the base tree. Built by
the engine (``engine.sourcing``), read by the render stage through the Tree
protocol. :class:`OverlayTree` adds files to a tree: the archives of a Git
chart's remote dependencies, fetched by ``source.charts``, under its ``charts/``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from gitward import errors
from gitward.source import trees


class _Tree(Protocol):
    @property
    def revision(self) -> str: ...

    def kind(self, path: str) -> Any: ...

    def list(self, path: str) -> Sequence[Any]: ...

    def read(self, path: str, *, max_bytes: int | None = None) -> bytes: ...

    def digest(self, path: str) -> str: ...

    def materialize(self, paths: Sequence[str], dest: Path) -> None: ...


class MountedTree:
    """``base`` with ``mounts[name]`` visible under ``$name/``."""

    def __init__(self, base: _Tree, mounts: Mapping[str, _Tree]) -> None:
        self._base = base
        self._mounts = dict(mounts)

    def __repr__(self) -> str:
        return f"MountedTree({self._base!r}, {sorted(self._mounts)})"

    @property
    def revision(self) -> str:
        return self._base.revision

    def _route(self, path: str) -> tuple[_Tree, str, str]:
        parts = trees.split(path)
        if parts and parts[0].startswith("$"):
            name = parts[0][1:]
            mounted = self._mounts.get(name)
            if mounted is None:
                known = ", ".join(f"${n}" for n in sorted(self._mounts)) or "none"
                raise errors.SourcePathError(
                    f"path {path!r} names no source {parts[0]!r} (named sources: {known})"
                )
            return mounted, "/".join(parts[1:]), parts[0]
        return self._base, "/".join(parts), ""

    def kind(self, path: str) -> Any:
        tree, inner, _ = self._route(path)
        return tree.kind(inner)

    def list(self, path: str) -> Sequence[Any]:
        tree, inner, mount = self._route(path)
        found = tree.list(inner)
        if not mount:
            return found
        return [trees.Entry(e.name, f"{mount}/{e.path}".rstrip("/"), e.kind, e.size) for e in found]

    def read(self, path: str, *, max_bytes: int | None = None) -> bytes:
        tree, inner, _ = self._route(path)
        return tree.read(inner, max_bytes=max_bytes)

    def digest(self, path: str) -> str:
        tree, inner, _ = self._route(path)
        return tree.digest(inner)

    def materialize(self, paths: Sequence[str], dest: Path) -> None:
        for path in paths:
            tree, inner, mount = self._route(path)
            tree.materialize([inner], dest / mount if mount else dest)


class OverlayTree:
    """``base`` with extra files laid over it (chart dependencies fetched from their
    repositories, under a chart's ``charts/``); the files win over the base's."""

    def __init__(self, base: _Tree, files: Mapping[str, bytes]) -> None:
        self._base = base
        self._files = {"/".join(trees.split(p)): data for p, data in files.items()}
        self._dirs: dict[str, set[str]] = {}
        for path in self._files:
            parts = path.split("/")
            for depth in range(len(parts)):
                self._dirs.setdefault("/".join(parts[:depth]), set()).add(parts[depth])

    def __repr__(self) -> str:
        return f"OverlayTree({self._base!r}, {sorted(self._files)})"

    @property
    def revision(self) -> str:
        return self._base.revision

    def kind(self, path: str) -> Any:
        clean = "/".join(trees.split(path))
        if clean in self._files:
            return trees.EntryKind.FILE
        found = self._base.kind(clean)
        if found is None and clean in self._dirs:
            return trees.EntryKind.DIRECTORY
        return found

    def list(self, path: str) -> Sequence[Any]:
        clean = "/".join(trees.split(path))
        names = self._dirs.get(clean, set())
        listed = list(self._base.list(path)) if self._base.kind(clean) is not None else []
        entries = {e.name: e for e in listed if e.name not in names}
        for name in names:
            child = f"{clean}/{name}" if clean else name
            spelled = f"{path.rstrip('/')}/{name}" if path.strip("/") else name
            if child in self._files:
                entries[name] = trees.Entry(
                    name, spelled, trees.EntryKind.FILE, len(self._files[child])
                )
            else:
                entries[name] = trees.Entry(name, spelled, trees.EntryKind.DIRECTORY)
        return [entries[name] for name in sorted(entries)]

    def read(self, path: str, *, max_bytes: int | None = None) -> bytes:
        clean = "/".join(trees.split(path))
        data = self._files.get(clean)
        if data is None:
            return self._base.read(path, max_bytes=max_bytes)
        if max_bytes is not None and len(data) > max_bytes:
            raise errors.UnsafeInputError(f"{path!r} is {len(data)} bytes, over {max_bytes}")
        return data

    def digest(self, path: str) -> str:
        clean = "/".join(trees.split(path))
        if clean in self._files:
            return hashlib.sha256(self._files[clean]).hexdigest()
        prefix = f"{clean}/" if clean else ""
        extra = sorted(p for p in self._files if p.startswith(prefix))
        if not extra:
            return self._base.digest(path)
        summary = hashlib.sha256()
        if self._base.kind(clean) is not None:
            summary.update(self._base.digest(path).encode())
        for name in extra:
            summary.update(name.encode() + b"\0" + hashlib.sha256(self._files[name]).digest())
        return summary.hexdigest()

    def materialize(self, paths: Sequence[str], dest: Path) -> None:
        root = dest.resolve()
        for path in paths:
            clean = "/".join(trees.split(path))
            if self._base.kind(clean) is not None:
                self._base.materialize([path], dest)
            prefix = f"{clean}/" if clean else ""
            for name, data in self._files.items():
                if name == clean or name.startswith(prefix):
                    target = root.joinpath(*name.split("/"))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    fd = os.open(
                        target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644
                    )
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(data)
