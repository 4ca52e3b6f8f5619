"""Charts from Helm repositories and OCI registries, resolved to a digest, cached by it.

The engine asks :meth:`Charts.resolve` for a :class:`ChartSpec` (repository
URL, chart name, version or range) and gets a :class:`ChartRevision`: the
version chosen and the sha256 digest of its archive, plus those of the
chart's dependencies fetched from their own repositories. The archive is
downloaded once, verified (against the index's digest for HTTP
repositories, the manifest's for OCI) and kept on disk under its digest;
:meth:`Charts.tree` then serves the chart as a Tree for the render stage.

Dependencies named in ``Chart.yaml`` with an ``https://`` or ``oci://``
repository and not vendored under ``charts/`` are resolved the same way
(version range, digest, cache, that repository's credentials) and added to
the tree as ``charts/<name>-<version>.tgz``; their own dependencies must be
vendored in their archives (``helm package`` does it). ``file://`` and
vendored dependencies are left to the renderer. Repositories are only ever
the one the Application names and the ones its chart's dependencies name,
each checked by the caller's ``check`` first (a Project's ``sourceRepos``).

A revision's :attr:`ChartRevision.pin` (the digests, ``+``-joined) names it
exactly: resolving with ``pin=`` serves those archives again, from the cache
or by digest (a rollback to a chart version no longer in the range).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from gitward import errors
from gitward.images import registries
from gitward.source import archives, credentials, helmrepos, ocicharts, resolving

Access = helmrepos.Access
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9._+-]*$")
_HEX = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """A chart as an Application names it."""

    repo_url: str  # https://charts.example.com or oci://registry/path/name
    chart: str = ""  # the chart's name in an HTTP repository; '' for OCI
    version: str = ""  # exact, semver range, '' = newest stable

    @property
    def is_oci(self) -> bool:
        return self.repo_url.startswith("oci://")

    @property
    def name(self) -> str:
        if self.is_oci:
            return ocicharts.Reference.parse(self.repo_url).name
        return self.chart

    def describe(self) -> str:
        url = credentials.redact(self.repo_url)
        return f"chart {url}" if self.is_oci else f"chart {self.chart} from {url}"


@dataclass(frozen=True, slots=True)
class ChartRevision:
    """A chart resolved to one archive (and its dependencies')."""

    repo_url: str  # redacted
    chart: str
    version: str
    digest: str  # sha256:<hex> of the archive
    dependencies: tuple[ChartRevision, ...] = ()
    # Why the index could not be refreshed ('' when it was): the last one was used.
    stale: str = ""

    @property
    def pin(self) -> str:
        return "+".join([self.digest, *(d.digest for d in self.dependencies)])

    def describe(self) -> str:
        deps = ", ".join(f"{d.chart} {d.version}" for d in self.dependencies)
        return f"{self.chart} {self.version}" + (f" (with {deps})" if deps else "")


def parse_pin(pin: str) -> tuple[str, ...]:
    digests = tuple(pin.split("+"))
    if not all(_HEX.match(d) for d in digests):
        raise errors.RevisionNotFound(f"{pin!r} is not a chart revision (sha256:<hex>[+...])")
    return digests


@dataclass(slots=True)
class Charts:
    """Chart sources over one cache directory; reuse it (indexes, registry tokens)."""

    cache_dir: Path
    access: Callable[[str], Access] = lambda _url: Access()
    limits: archives.Limits = field(default_factory=archives.Limits)
    repositories: helmrepos.HelmRepositories = field(init=False)
    _registries: dict[tuple[str, helmrepos.Access], registries.RegistryClient] = field(
        default_factory=dict, init=False
    )

    def __post_init__(self) -> None:
        self.repositories = helmrepos.HelmRepositories(self.cache_dir)

    async def close(self) -> None:
        for client in self._registries.values():
            await client.close()
        self._registries.clear()

    # --- resolving ---------------------------------------------------------------

    async def resolve(
        self,
        spec: ChartSpec,
        *,
        pin: str = "",
        max_age: float = 0.0,
        check: Callable[[str], None] = lambda _url: None,
    ) -> ChartRevision:
        """The archive ``spec`` names now (or the one ``pin`` names), downloaded and verified."""
        digests = parse_pin(pin) if pin else ()
        check(spec.repo_url)
        main = await self._one(spec, digests[0] if digests else "", max_age)
        deps = await self.dependencies(
            self.tree(main), "", spec.describe(), pins=digests[1:], max_age=max_age, check=check
        )
        return ChartRevision(
            repo_url=main.repo_url,
            chart=main.chart,
            version=main.version,
            digest=main.digest,
            dependencies=deps,
            stale=main.stale,
        )

    async def dependencies(
        self,
        tree: _Tree,
        root: str,
        where: str,
        *,
        pins: tuple[str, ...] = (),
        max_age: float = 0.0,
        check: Callable[[str], None] = lambda _url: None,
    ) -> tuple[ChartRevision, ...]:
        """The remote dependencies of the chart at ``root`` of ``tree`` (an archive's, or
        a chart directory in Git), resolved from their repositories; ``pins`` (digests)
        return to earlier ones. Each repository passes ``check`` before any request."""
        found = []
        for dep_spec in remote_dependencies(tree, root, where):
            check(dep_spec.repo_url)
            pinned = next((d for d in pins if self._cached_name(d) == dep_spec.name), "")
            found.append(await self._one(dep_spec, pinned, max_age))
        return tuple(found)

    def dependency_files(
        self, dependencies: tuple[ChartRevision, ...], root: str, where: str
    ) -> dict[str, bytes]:
        """``<root>/charts/<name>-<version>.tgz`` for each fetched dependency."""
        prefix = f"{root}/charts" if root else "charts"
        for dep in dependencies:
            if not (_SAFE_NAME.match(dep.chart) and _SAFE_NAME.match(dep.version)):
                raise errors.SourceRejected(
                    f"{where}: dependency {dep.chart!r} version {dep.version!r} is not a plain name"
                )
        return {
            f"{prefix}/{dep.chart}-{dep.version}.tgz": self._read(dep.digest, where)
            for dep in dependencies
        }

    async def _one(self, spec: ChartSpec, pin: str, max_age: float) -> ChartRevision:
        if spec.is_oci:
            return await self._oci(spec, pin)
        return await self._http(spec, pin, max_age)

    async def _http(self, spec: ChartSpec, pin: str, max_age: float) -> ChartRevision:
        where = spec.describe()
        url = credentials.redact(spec.repo_url)
        if pin and self._blob(pin).is_file():
            return self._cached_revision(spec, pin, url)
        access = self.access(spec.repo_url)
        try:
            index, stale = await self.repositories.index(spec.repo_url, access, max_age=max_age)
        except errors.GitwardError as exc:
            # The index belongs to the repository; the status names the chart too.
            raise type(exc)(f"{where}: {exc.message}") from None
        versions = index.get(spec.chart)
        if not versions:
            raise errors.RevisionNotFound(f"{where}: the repository has no chart {spec.chart!r}")
        if pin:
            entry = next((e for e in versions if f"sha256:{e.digest}" == pin), None)
            if entry is None:
                raise errors.RevisionNotFound(f"{where}: no version with digest {pin}")
        else:
            entry = _choose(versions, spec.version, where)
        where = f"chart {spec.chart} {entry.version} from {url}"
        if not entry.digest:
            raise errors.SourceRejected(
                f"{where}: the index gives no sha256 digest, so the archive cannot be verified"
            )
        digest = f"sha256:{entry.digest}"
        if not self._blob(digest).is_file():
            if not entry.urls:
                raise errors.SourceRejected(f"{where}: the index lists no archive URL")
            status, data, _ = await helmrepos.get(
                helmrepos.archive_url(spec.repo_url, entry.urls[0]),
                access,
                where=where,
                max_bytes=self.limits.max_archive_bytes,
                repo_url=spec.repo_url,
                transport=self.repositories.transport,
            )
            if status != 200:
                raise errors.RevisionNotFound(f"{where}: the archive is missing ({status})")
            actual = "sha256:" + hashlib.sha256(data).hexdigest()
            if actual != digest:
                raise errors.SourceRejected(
                    f"{where}: archive digest {actual} differs from {digest} in the index"
                )
            self._store(digest, data, where)
        return ChartRevision(
            repo_url=url, chart=spec.chart, version=entry.version, digest=digest, stale=stale
        )

    async def _oci(self, spec: ChartSpec, pin: str) -> ChartRevision:
        ref = ocicharts.Reference.parse(spec.repo_url)
        url = credentials.redact(spec.repo_url)
        if pin and self._blob(pin).is_file():
            return self._cached_revision(spec, pin, url)
        where = spec.describe()
        client = self._client(ref.host, spec.repo_url)
        if pin:
            resolved = ocicharts.Resolved(
                version="", manifest_digest="", layer_digest=pin, layer_size=0
            )
        else:
            resolved = await ocicharts.resolve(client, ref, spec.version, where)
            where = f"chart {url} {resolved.version}"
        if not self._blob(resolved.layer_digest).is_file():
            data = await ocicharts.download(
                client, ref, resolved, max_bytes=self.limits.max_archive_bytes, where=where
            )
            self._store(resolved.layer_digest, data, where)
        if pin:
            return self._cached_revision(spec, pin, url)
        return ChartRevision(
            repo_url=url, chart=ref.name, version=resolved.version, digest=resolved.layer_digest
        )

    def _client(self, host: str, url: str) -> registries.RegistryClient:
        access = self.access(url)
        key = (host, access)
        if key not in self._registries:
            self._registries[key] = registries.RegistryClient(ocicharts.endpoint(host, access))
        return self._registries[key]

    # --- the cache -----------------------------------------------------------------

    def _blob(self, digest: str) -> Path:
        return self.cache_dir / "blobs" / "sha256" / f"{digest.removeprefix('sha256:')}.tgz"

    def _store(self, digest: str, data: bytes, where: str) -> None:
        # Unpacked once before it is kept: a refused archive never enters the cache.
        archives.unpack(data, where=where, limits=self.limits, revision=digest)
        path = self._blob(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(data)
        temporary.replace(path)

    def _read(self, digest: str, where: str) -> bytes:
        try:
            data = self._blob(digest).read_bytes()
        except OSError:
            raise errors.RevisionNotFound(f"{where}: archive {digest} is not cached") from None
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            self._blob(digest).unlink(missing_ok=True)
            raise errors.SourceUnavailable(f"{where}: the cached archive {digest} was corrupt")
        return data

    def _cached_name(self, digest: str) -> str:
        if not self._blob(digest).is_file():
            return ""
        metadata = _metadata(self._unpack(digest, digest), digest)
        return str(metadata.get("name", ""))

    def _unpack(self, digest: str, where: str) -> archives.ArchiveTree:
        return archives.unpack(
            self._read(digest, where), where=where, limits=self.limits, revision=digest
        )

    def _cached_revision(self, spec: ChartSpec, digest: str, url: str) -> ChartRevision:
        where = spec.describe()
        metadata = _metadata(self._unpack(digest, where), where)
        name = str(metadata.get("name", ""))
        if name != spec.name:
            raise errors.RevisionNotFound(f"{where}: {digest} holds chart {name!r}")
        return ChartRevision(
            repo_url=url, chart=name, version=str(metadata.get("version", "")), digest=digest
        )

    def tree(self, revision: ChartRevision) -> archives.ArchiveTree:
        """The chart of ``revision`` with its fetched dependencies under ``charts/``."""
        where = f"chart {revision.chart} {revision.version} from {revision.repo_url}"
        tree = self._unpack(revision.digest, where)
        extra = self.dependency_files(revision.dependencies, "", where)
        return tree.with_files(extra) if extra else tree


def _choose(versions: list[helmrepos.IndexEntry], wanted: str, where: str) -> helmrepos.IndexEntry:
    constraint = resolving.Constraint.parse(wanted or "*")
    if constraint is None:  # a version that is no range: taken literally
        found = next((e for e in versions if e.version == wanted), None)
        if found is None:
            raise errors.RevisionNotFound(f"{where}: no version {wanted!r}")
        return found
    by_version = {e.version: e for e in versions}
    best = resolving.highest(constraint, by_version)
    if best is None:
        newest = resolving.highest(
            resolving.Constraint.parse(">=0.0.0-0") or constraint, by_version
        )
        hint = f"; newest is {newest[0]}" if newest else ""
        raise errors.RevisionNotFound(f"{where}: no version matches {wanted or '*'!r}{hint}")
    return by_version[best[0]]


class _Tree(Protocol):
    def kind(self, path: str) -> Any: ...

    def list(self, path: str) -> Sequence[Any]: ...

    def read(self, path: str, *, max_bytes: int | None = None) -> bytes: ...


def _metadata(tree: _Tree, where: str, root: str = "") -> dict[str, Any]:
    chart_file = f"{root}/Chart.yaml" if root else "Chart.yaml"
    try:
        data = tree.read(chart_file, max_bytes=1024 * 1024)
        document = yaml.load(data, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise errors.SourceRejected(f"{where}: {chart_file} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise errors.SourceRejected(f"{where}: {chart_file} is not a mapping")
    return document


def _vendored(tree: _Tree, root: str) -> set[str]:
    charts_dir = f"{root}/charts" if root else "charts"
    if tree.kind(charts_dir) is None:
        return set()
    found = set()
    for entry in tree.list(charts_dir):
        if entry.name.endswith(".tgz"):
            found.add(entry.name[: -len(".tgz")].rpartition("-")[0])
        else:
            found.add(entry.name)
    return found


def remote_dependencies(tree: _Tree, root: str, where: str) -> list[ChartSpec]:
    """Dependencies of the chart at ``root`` to fetch: named with an https/oci
    repository and not vendored under ``charts/``."""
    metadata = _metadata(tree, where, root)
    vendored = _vendored(tree, root)
    found = []
    for dependency in metadata.get("dependencies") or []:
        if not isinstance(dependency, dict) or not isinstance(dependency.get("name"), str):
            raise errors.SourceRejected(f"{where}: a dependency in Chart.yaml has no name")
        name = dependency["name"]
        repository = str(dependency.get("repository") or "")
        version = str(dependency.get("version") or "")
        if name in vendored or not repository or repository.startswith("file://"):
            continue
        if repository.startswith("oci://"):
            found.append(ChartSpec(f"{repository.rstrip('/')}/{name}", version=version))
        elif repository.startswith(("https://", "http://")):
            found.append(ChartSpec(repository, chart=name, version=version))
        else:
            raise errors.SourceRejected(
                f"{where}: dependency {name!r} names repository {repository!r}; only https://,"
                " oci:// and file:// repositories are resolved"
            )
    return found
