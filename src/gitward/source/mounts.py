"""One tree made of several: a source's files, plus named sources under ``$<name>/``.

An Application with several sources renders each unnamed source on its own;
named sources (``name: values``) only provide files, which render options
reach as ``$values/env/prod.yaml``. :class:`MountedTree` is the rendered
source's tree with each named source's tree visible under ``$<name>``: a path
whose first segment is ``$<name>`` is answered by that tree (with its own
path rules: nothing leaves it), every other path by the base tree. Built by
the engine (``engine.sourcing``), read by the render stage through the Tree
protocol.
"""

from __future__ import annotations

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
