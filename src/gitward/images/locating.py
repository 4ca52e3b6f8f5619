"""Finding where a checked-out tree pins an image's version (or a chart's).

A *pin* is one value in one file that decides which version runs:

* **Kustomize** ``images:`` entries (in ``kustomization.yaml``), matched by
  ``newName`` or ``name``; the version is ``newTag`` and/or ``digest``;
* **Helm values** marked on the line with a comment ``# gitward:image=<name>``
  (any YAML file): the value is a tag, or a whole reference when it names the
  same image; or found by a configured ``key`` such as ``image.tag`` in files
  named ``values*.yaml``, checked against the sibling ``repository`` (with
  ``registry`` when the chart splits it) when there is one;
* **plain manifests**: ``containers[].image``, ``initContainers[].image`` and
  ``ephemeralContainers[].image`` anywhere in a Kubernetes object (Pods,
  Deployments, CronJobs' job templates...);
* **chart versions** (for promotions): ``version`` of ``Chart.yaml`` and the
  ``version`` of each entry of its ``dependencies``.

:func:`scan` walks a directory; :func:`pins_in` reads one file
(``images.repinning`` turns a pin and a new version into edits). Files that are not YAML (Helm
templates, which carry ``{{ }}``) are skipped and listed, never fatal.
Called by ``engine.imaging`` and ``engine.promoting``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from gitward import errors
from gitward.images import references, rewriting

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_FILE = "Chart.yaml"
_SUFFIXES = (".yaml", ".yml")
_MARKER = re.compile(r"#\s*gitward:image=(?P<name>[^\s#]+)")
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_MAX_FILE_BYTES = 1024 * 1024
_MAX_FILES = 50_000


class Kind(StrEnum):
    KUSTOMIZE = "kustomize images"
    HELM_MARKER = "helm values (marker)"
    HELM_KEY = "helm values (key)"
    MANIFEST = "manifest"
    CHART = "chart version"
    CHART_DEPENDENCY = "chart dependency"


class Holds(StrEnum):
    """What the pinned value is: a tag (``1.2.3``) or a whole image reference."""

    TAG = "tag"
    REFERENCE = "reference"
    VERSION = "version"  # a chart version


class ImageNotInGit(errors.InputError):
    """The image is pinned nowhere under the path."""

    reason = "ImageNotFound"


@dataclass(frozen=True, slots=True)
class Pin:
    """One value that decides a version.

    ``subject`` says what it pins: the canonical image name
    (``ghcr.io/org/web``), ``chart:<name>``, or, for a values key with no
    repository beside it, ``values:<key>``. ``tag``/``digest`` are the
    current version. ``path`` leads to the mapping holding ``key``.
    """

    file: str
    kind: Kind
    subject: str
    document: int
    path: tuple[str | int, ...]
    key: str
    holds: Holds
    tag: str
    digest: str = ""
    line: int = 0
    # Kustomize only: the entry's keys, to insert newTag/digest after them.
    entry_keys: tuple[str, ...] = ()
    # REFERENCE only: the image as written there (its name is kept on rewrite).
    image: references.Reference | None = field(default=None, compare=False)

    @property
    def version(self) -> str:
        if self.tag and self.digest:
            return f"{self.tag}@{self.digest}"
        return self.tag or self.digest or "(none)"

    def describe(self) -> str:
        return f"{self.file}:{self.line + 1} ({self.kind.value})"


@dataclass(frozen=True, slots=True)
class Scan:
    pins: tuple[Pin, ...]
    skipped: tuple[str, ...] = ()  # files that are not YAML, with why


# --- walking a tree ----------------------------------------------------------------


def yaml_files(root: Path, path: str = "") -> list[str]:
    """YAML files under ``root/path`` (repository-relative, sorted); no hidden dirs."""
    base = (root / path).resolve() if path else root.resolve()
    top = root.resolve()
    if not base.is_relative_to(top):
        raise errors.SourcePathError(f"path {path!r} leaves the repository")
    if not base.exists():
        raise errors.SourcePathError(f"path {path!r} does not exist in the repository")
    if base.is_file():
        return [base.relative_to(top).as_posix()]
    found: list[str] = []
    for directory, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(_SUFFIXES) and name != "Kustomization":
                continue
            full = Path(directory) / name
            if full.is_symlink() and not full.resolve().is_relative_to(top):
                continue
            found.append(full.relative_to(top).as_posix())
            if len(found) > _MAX_FILES:
                raise errors.UnsafeInputError(f"more than {_MAX_FILES} YAML files under {path!r}")
    return found


def scan(
    root: Path,
    paths: Sequence[str],
    *,
    key: str = "",
    files: Sequence[str] = (),
    charts: bool = False,
    image: str = "",
) -> Scan:
    """Every pin under ``paths`` (directories or files) of the tree at ``root``.

    ``files``: more files to read whatever their name (an Application's Helm
    value files). ``key``: the values key holding a tag (``image.tag``).
    ``image``: only this image's pins are wanted, so a file that cannot pin
    it (the last component of its name appears nowhere in the text, however
    the name is written) is not parsed: a bump in a 5,000-file tree parses a
    handful of files.
    """
    hint = references.parse(image).repository.rsplit("/", 1)[-1] if image else ""
    names: list[str] = []
    for path in paths:
        names.extend(yaml_files(root, path))
    for extra in files:
        names.extend(yaml_files(root, extra))
    pins: list[Pin] = []
    skipped: list[str] = []
    for name in dict.fromkeys(names):
        full = root / name
        try:
            if full.stat().st_size > _MAX_FILE_BYTES:
                skipped.append(f"{name}: larger than {_MAX_FILE_BYTES} bytes")
                continue
            # Bytes, not read_text: universal newlines would turn CRLF files into LF ones.
            text = full.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            skipped.append(f"{name}: unreadable ({type(exc).__name__})")
            continue
        if hint and not _may_pin(text, name, hint, key, name in files):
            continue
        try:
            pins.extend(pins_in(text, name, key=key, values=key != "" and name in files))
        except rewriting.RewriteError as exc:
            skipped.append(exc.message)
            continue
        if charts and Path(name).name == CHART_FILE:
            pins.extend(chart_pins(text, name))
    return Scan(pins=tuple(pins), skipped=tuple(skipped))


def _may_pin(text: str, name: str, hint: str, key: str, listed: bool) -> bool:
    base = Path(name).name
    if base in KUSTOMIZATION_NAMES or "gitward:image=" in text:
        return True
    if key and (listed or base.startswith("values")):
        return True
    return hint in text


def for_image(found: Scan, image: str) -> list[Pin]:
    """The pins of ``image`` (any tag) among ``found``.

    When a Kustomize ``images:`` entry pins the image, container images in
    plain manifests are left out: Kustomize overrides their tag, so the
    entry is the pin (and a bump stays a one-line change).
    """
    name = references.canonical_name(image)
    pins = [pin for pin in found.pins if pin.subject == name]
    if any(pin.kind is Kind.KUSTOMIZE for pin in pins):
        pins = [pin for pin in pins if pin.kind is not Kind.MANIFEST]
    return pins


# --- one file ----------------------------------------------------------------------


def pins_in(text: str, name: str, *, key: str = "", values: bool = False) -> list[Pin]:
    """The image pins of one file. ``values``: read ``key`` even if the name is not values*."""
    documents = rewriting.load(text, name)
    base = Path(name).name
    pins: list[Pin] = []
    if base in KUSTOMIZATION_NAMES:
        if documents and isinstance(documents[0], CommentedMap):
            pins.extend(_kustomize(documents[0], name))
        return pins
    marked = _markers(text)
    if marked:
        pins.extend(_marked(text, documents, name, marked))
    if key and (values or base.startswith("values")):
        pins.extend(_keyed(text, documents, name, key))
    taken = {(p.line, p.key) for p in pins}
    for index, document in enumerate(documents):
        if isinstance(document, CommentedMap) and "kind" in document and "apiVersion" in document:
            for pin in _containers(text, document, index, name, ()):
                if (pin.line, pin.key) not in taken:
                    pins.append(pin)
    return pins


def _kustomize(document: CommentedMap, name: str) -> Iterator[Pin]:
    images = document.get("images")
    if not isinstance(images, CommentedSeq):
        return
    for index, entry in enumerate(images):
        if not isinstance(entry, CommentedMap):
            continue
        target = entry.get("newName") or entry.get("name")
        ref = references.try_parse(target)
        if ref is None:
            continue
        tag = entry.get("newTag")
        digest = entry.get("digest")
        subjects = [ref.name]
        name_ref = references.try_parse(entry.get("name"))
        if entry.get("newName") and name_ref is not None and name_ref.name != ref.name:
            # Also reachable by the name the manifests use: `set-image web:1.2`.
            subjects.append(name_ref.name)
        for subject in subjects:
            yield Pin(
                file=name,
                kind=Kind.KUSTOMIZE,
                subject=subject,
                document=0,
                path=("images", index),
                key="newTag",
                holds=Holds.TAG,
                tag="" if tag is None else str(tag),
                digest="" if digest is None else str(digest),
                line=images.lc.item(index)[0],
                entry_keys=tuple(str(k) for k in entry),
            )


def _markers(text: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for number, line in enumerate(text.splitlines()):
        match = _MARKER.search(line)
        if match:
            found[number] = match.group("name")
    return found


def _scalars(
    node: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str, int, int, bool]]:
    """(mapping path, key, line, column, flow) of every scalar mapping value."""
    if isinstance(node, CommentedMap):
        flow = bool(node.fa.flow_style())
        for key, value in node.items():
            if isinstance(value, CommentedMap | CommentedSeq):
                yield from _scalars(value, (*path, key))
            elif isinstance(key, str) and value is not None:
                line, column = node.lc.value(key)
                yield path, key, line, column, flow
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            yield from _scalars(value, (*path, index))


def _marked(text: str, documents: list[Any], name: str, marked: dict[int, str]) -> Iterator[Pin]:
    for index, document in enumerate(documents):
        for path, key, line, column, flow in _scalars(document, ()):
            if line not in marked:
                continue
            image = references.try_parse(marked[line])
            if image is None:
                raise rewriting.RewriteError(
                    f"{name}:{line + 1}: marker names {marked[line]!r}, not an image"
                )
            value = rewriting.scalar_text(text, line, column, flow=flow, where=name)
            yield _value_pin(name, Kind.HELM_MARKER, image.name, index, path, key, value, line)


def _value_pin(
    name: str,
    kind: Kind,
    subject: str,
    document: int,
    path: tuple[str | int, ...],
    key: str,
    value: str,
    line: int,
) -> Pin:
    written = references.try_parse(value)
    if written is not None and written.name == subject:
        return Pin(
            file=name,
            kind=kind,
            subject=subject,
            document=document,
            path=path,
            key=key,
            holds=Holds.REFERENCE,
            tag=written.tag,
            digest=written.digest,
            line=line,
            image=written,
        )
    tag, _, digest = value.partition("@")
    return Pin(
        file=name,
        kind=kind,
        subject=subject,
        document=document,
        path=path,
        key=key,
        holds=Holds.TAG,
        tag=tag,
        digest=digest,
        line=line,
    )


def _keyed(text: str, documents: list[Any], name: str, key: str) -> Iterator[Pin]:
    steps = [s for s in key.split(".") if s]
    if not steps:
        return
    for index, document in enumerate(documents):
        node: Any = document
        for step in steps[:-1]:
            node = node.get(step) if isinstance(node, CommentedMap) else None
        last = steps[-1]
        if not isinstance(node, CommentedMap) or last not in node:
            continue
        if isinstance(node[last], CommentedMap | CommentedSeq) or node[last] is None:
            continue
        subject = f"values:{key}"
        repository = node.get("repository")
        if isinstance(repository, str) and repository:
            registry = node.get("registry")
            full = f"{registry}/{repository}" if isinstance(registry, str) and registry else None
            ref = references.try_parse(full or repository)
            if ref is None:
                continue
            subject = ref.name
        line, column = node.lc.value(last)
        value = rewriting.scalar_text(
            text, line, column, flow=bool(node.fa.flow_style()), where=name
        )
        yield _value_pin(name, Kind.HELM_KEY, subject, index, tuple(steps[:-1]), last, value, line)


def _containers(
    text: str, node: Any, document: int, name: str, path: tuple[str | int, ...]
) -> Iterator[Pin]:
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            if key in _CONTAINER_LISTS and isinstance(value, CommentedSeq):
                for index, container in enumerate(value):
                    if isinstance(container, CommentedMap) and isinstance(
                        container.get("image"), str
                    ):
                        yield from _container(text, container, document, name, (*path, key, index))
            elif isinstance(value, CommentedMap | CommentedSeq):
                yield from _containers(text, value, document, name, (*path, key))
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            yield from _containers(text, value, document, name, (*path, index))


def _container(
    text: str, container: CommentedMap, document: int, name: str, path: tuple[str | int, ...]
) -> Iterator[Pin]:
    line, column = container.lc.value("image")
    value = rewriting.scalar_text(
        text, line, column, flow=bool(container.fa.flow_style()), where=name
    )
    image = references.try_parse(value)
    if image is None:
        return
    yield Pin(
        file=name,
        kind=Kind.MANIFEST,
        subject=image.name,
        document=document,
        path=path,
        key="image",
        holds=Holds.REFERENCE,
        tag=image.tag,
        digest=image.digest,
        line=line,
        image=image,
    )


def chart_pins(text: str, name: str) -> list[Pin]:
    """The chart's own version and its dependencies' versions in a ``Chart.yaml``."""
    documents = rewriting.load(text, name)
    if not documents or not isinstance(documents[0], CommentedMap):
        return []
    chart = documents[0]
    pins: list[Pin] = []
    if isinstance(chart.get("name"), str) and chart.get("version") is not None:
        pins.append(
            Pin(
                file=name,
                kind=Kind.CHART,
                subject=f"chart:{chart['name']}",
                document=0,
                path=(),
                key="version",
                holds=Holds.VERSION,
                tag=str(chart["version"]),
                line=chart.lc.value("version")[0],
            )
        )
    dependencies = chart.get("dependencies")
    if isinstance(dependencies, CommentedSeq):
        for index, dependency in enumerate(dependencies):
            if not isinstance(dependency, CommentedMap) or dependency.get("version") is None:
                continue
            label = dependency.get("alias") or dependency.get("name")
            pins.append(
                Pin(
                    file=name,
                    kind=Kind.CHART_DEPENDENCY,
                    subject=f"chart-dependency:{label}",
                    document=0,
                    path=("dependencies", index),
                    key="version",
                    holds=Holds.VERSION,
                    tag=str(dependency["version"]),
                    line=dependency.lc.value("version")[0],
                )
            )
    return pins
