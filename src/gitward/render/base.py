"""What the render stage needs and offers: the Tree it reads and the Renderer Protocol.

The engine hands a renderer a :class:`Tree` (a repository at one commit, read
straight from git's object store by ``gitward.source``) and a
:class:`RenderRequest`; the renderer returns manifests. Renderers register by
name in ``render.registry`` so a user's renderer is a first-class citizen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from gitward.model import resources
from gitward.render import keys


class EntryKind(StrEnum):
    FILE = "file"
    DIRECTORY = "dir"
    SYMLINK = "symlink"


class Entry(Protocol):
    """One entry of a directory in a Tree.

    A Protocol (not a dataclass) so that trees of other stages, which may not
    import this module, satisfy it with their own frozen dataclass of the same
    shape; ``kind`` compares equal to an :class:`EntryKind` value.
    """

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str:
        """Repository-relative POSIX path."""
        ...

    @property
    def kind(self) -> str:
        """One of the :class:`EntryKind` values."""
        ...

    @property
    def size(self) -> int:
        """Bytes for files and symlinks, 0 for directories."""
        ...


class Tree(Protocol):
    """A read-only repository at one commit.

    Paths are POSIX, relative to the repository root, without a leading ``/``;
    ``""`` is the root. Implementations refuse absolute paths and ``..`` that
    leave the root (:class:`gitward.errors.SourcePathError`), follow symlinks
    only while they stay inside the repository
    (:class:`gitward.errors.UnsafeInputError` naming the link otherwise), and
    raise :class:`gitward.errors.SourcePathError` for missing paths.
    """

    @property
    def revision(self) -> str:
        """The commit sha this tree belongs to."""
        ...

    def kind(self, path: str) -> str | None:
        """What ``path`` is (an :class:`EntryKind` value, without following a
        final symlink), None if absent."""
        ...

    def list(self, path: str) -> Sequence[Entry]:
        """Entries of the directory ``path``, sorted by name."""
        ...

    def read(self, path: str, *, max_bytes: int | None = None) -> bytes:
        """Content of the file at ``path`` (symlinks followed inside the repo).

        Raises :class:`gitward.errors.UnsafeInputError` when the file is larger
        than ``max_bytes``, before reading it.
        """
        ...

    def digest(self, path: str) -> str:
        """Content hash of the file or directory at ``path`` (git object id).

        Equal digests mean equal content; the render cache keys on them.
        """
        ...

    def materialize(self, paths: Sequence[str], dest: Path) -> None:
        """Write the files and directories ``paths`` under ``dest`` at their
        repository-relative locations (``dest/<path>``), for tools that need a
        filesystem (kustomize, helm). Symlinks inside the repository become
        copies of their targets; symlinks leaving it are refused.
        """
        ...


@dataclass(frozen=True, slots=True)
class Limits:
    """Safety limits applied to everything read from a repository."""

    max_file_bytes: int = 8 * 1024 * 1024
    max_total_bytes: int = 64 * 1024 * 1024
    max_documents: int = 10_000
    max_depth: int = 100  # YAML/JSON nesting
    max_aliases: int = 1_000  # YAML alias references per document
    max_nodes: int = 1_000_000  # nodes after alias expansion, per document
    timeout_seconds: float = 60.0  # kustomize / helm
    # Ceiling on the private writable memory (RLIMIT_DATA) of every process a
    # render starts (kustomize, the Helm child); 0 means none.
    max_memory_bytes: int = 1 << 30


@dataclass(frozen=True, slots=True)
class Variables:
    """Values for post-render substitution (``spec.postBuild``).

    ``secret`` names the variables whose values came from a Secret: they may
    only land in Secrets (whose values every output masks) and never appear
    in a message. The repr shows names only.
    """

    values: Mapping[str, str] = field(default_factory=dict)
    secret: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"Variables(names={sorted(self.values)}, secret={sorted(self.secret)})"

    @property
    def fingerprint(self) -> str:
        """A digest of the values, for the render cache key (never the values)."""
        digest = hashlib.sha256()
        for name in sorted(self.values):
            digest.update(f"{name}\0{self.values[name]}\0{name in self.secret}\0".encode())
        return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class RenderRequest:
    """Everything a renderer needs to render one Application."""

    tree: Tree
    path: str  # the Application's path in the repository
    app: str
    namespace: str  # destination namespace (Helm release namespace)
    # Options of the chosen renderer, as declared under ``spec.render.<name>``.
    options: Mapping[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    # Keys for SOPS-encrypted files (``spec.decryption``); None: encrypted
    # files are refused with an error naming them.
    decryption: keys.Decryption | None = None
    # Post-render substitution (``spec.postBuild``); None: no substitution.
    variables: Variables | None = None


class Renderer(Protocol):
    """Turns the files under an Application's path into manifests."""

    name: str
    # Part of the render cache key: bump it when the same inputs would render
    # differently (a new kubectl or Helm, a changed option's meaning).
    version: str

    def detect(self, tree: Tree, path: str) -> bool:
        """Whether this renderer applies to ``path`` when none is declared."""
        ...

    def inputs(self, request: RenderRequest) -> Sequence[str]:
        """Repository paths whose content determines the output.

        The cache digests these (plus the options); a commit that changes none
        of them costs no render. Raises the same safety errors as ``render``.
        """
        ...

    # Optional, not part of the Protocol: ``confined(request) -> bool``, True
    # when the render reads nothing but the repository paths ``inputs`` lists
    # (and the Application's path): no network, no other file. Only then does
    # ``Rendered.input_paths`` name them, and the agent lets a commit that
    # changes none of them advance the Application without a render. A
    # renderer without it is never vouched for.

    def render(self, request: RenderRequest) -> resources.Rendered:
        """Render: the manifests, in a stable order, and warnings (skipped
        files...). ``input_digest`` is left empty: ``render.rendering`` fills
        it. Raise :class:`gitward.errors.RenderError` subclasses."""
        ...
