"""Helm chart repositories over HTTP(S): the index, cached, and chart archives.

A Helm repository is a web server with an ``index.yaml`` listing every chart
version with its archive URL(s) and sha256 digest. :class:`HelmRepositories`
keeps each index on disk with its ``ETag``/``Last-Modified`` and asks again
with ``If-None-Match``/``If-Modified-Since``, so an unchanged index of tens of
megabytes costs one 304. A repository that cannot be reached while an index
from before is on disk answers from that index, flagged stale (the same
availability rule as Git mirrors); one never fetched raises
:class:`gitward.errors.SourceUnavailable`.

Credentials (basic or bearer, by reference) go only to the repository's own
origin: an archive URL on another host (a chart index may point at GitHub
releases) is fetched anonymously, as Helm does without ``--pass-credentials``.
Every answer is read as a stream and refused past its size limit. Called by
:mod:`gitward.source.charts`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from gitward import errors
from gitward.source import credentials

_INDEX_LIMIT = 64 * 1024 * 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# libyaml recurses on nesting and crashes the process on deep input; an index
# never nests deeper than a few levels.
_DEEP_FLOW = re.compile(rb"[\[{](?:\s*[\[{]){64}")
_DEEP_BLOCK = re.compile(rb"\n {512}")


@dataclass(frozen=True, slots=True)
class Access:
    """How to reach one repository or registry; secrets are references."""

    username: str = ""
    password: credentials.SecretRef | None = None
    token: credentials.SecretRef | None = None  # bearer (HTTP repositories)
    ca_file: Path | None = None
    plain_http: bool = False  # OCI registries without TLS (loopback, in-cluster)
    timeout: float = 30.0  # one whole request, body included


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One chart version as the index lists it."""

    name: str
    version: str
    digest: str  # sha256 hex of the archive
    urls: tuple[str, ...]


@dataclass(slots=True)
class _Index:
    entries: dict[str, list[IndexEntry]]
    fetched_at: float
    stale: str = ""


@dataclass(slots=True)
class HelmRepositories:
    """Indexes of HTTP chart repositories, cached under ``cache_dir``."""

    cache_dir: Path
    clock: Callable[[], float] = time.monotonic
    transport: httpx.AsyncBaseTransport | None = None
    _indexes: dict[str, _Index] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def index(
        self, repo_url: str, access: Access, *, max_age: float = 0.0
    ) -> tuple[Mapping[str, list[IndexEntry]], str]:
        """The repository's index and, if it could not be refreshed, why ('' if fresh)."""
        url = repo_url.rstrip("/")
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            known = self._indexes.get(url)
            if known is not None and self.clock() - known.fetched_at <= max_age:
                return known.entries, known.stale
            try:
                entries = await self._refresh(url, access)
            except errors.RetryableError as exc:
                fallback = known.entries if known is not None else self._from_disk(url)
                if fallback is None:
                    raise
                self._indexes[url] = _Index(fallback, self.clock(), stale=exc.message)
                return fallback, exc.message
            self._indexes[url] = _Index(entries, self.clock())
            return entries, ""

    def _files(self, url: str) -> tuple[Path, Path]:
        name = hashlib.sha256(url.encode()).hexdigest()[:32]
        folder = self.cache_dir / "indexes"
        return folder / f"{name}.yaml", folder / f"{name}.json"

    def _from_disk(self, url: str) -> dict[str, list[IndexEntry]] | None:
        body, _ = self._files(url)
        try:
            data = body.read_bytes()
        except OSError:
            return None
        return parse_index(data, url)

    async def _refresh(self, url: str, access: Access) -> dict[str, list[IndexEntry]]:
        body_file, meta_file = self._files(url)
        headers: dict[str, str] = {}
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, ValueError):
            meta = {}
        if body_file.is_file() and isinstance(meta, dict):
            if meta.get("etag"):
                headers["If-None-Match"] = str(meta["etag"])
            if meta.get("lastModified"):
                headers["If-Modified-Since"] = str(meta["lastModified"])
        where = f"Helm repository {credentials.redact(url)}"
        status, data, answer = await get(
            f"{url}/index.yaml",
            access,
            where=f"{where}: index.yaml",
            max_bytes=_INDEX_LIMIT,
            repo_url=url,
            headers=headers,
            transport=self.transport,
        )
        if status == 304:
            cached = self._indexes.get(url)
            if cached is not None:
                return cached.entries
            on_disk = self._from_disk(url)
            if on_disk is not None:
                return on_disk
            raise errors.SourceUnavailable(f"{where}: answered 304 but no index is cached")
        if status == 404:
            raise errors.RevisionNotFound(f"{where} has no index.yaml (404)")
        entries = parse_index(data, url)
        body_file.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(body_file, data)
        _write_atomically(
            meta_file,
            json.dumps(
                {
                    "url": credentials.redact(url),
                    "etag": answer.get("etag", ""),
                    "lastModified": answer.get("last-modified", ""),
                }
            ).encode(),
        )
        return entries


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def parse_index(data: bytes, url: str) -> dict[str, list[IndexEntry]]:
    """The entries of an ``index.yaml``; SourceRejected naming the repository if malformed."""
    where = f"Helm repository {credentials.redact(url)}: index.yaml"
    if _DEEP_FLOW.search(data) or _DEEP_BLOCK.search(data):
        raise errors.SourceRejected(f"{where} nests too deeply")
    try:
        document = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as exc:
        raise errors.SourceRejected(f"{where} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("entries"), dict):
        raise errors.SourceRejected(f"{where} has no `entries` mapping")
    found: dict[str, list[IndexEntry]] = {}
    for name, versions in document["entries"].items():
        if not isinstance(name, str) or not isinstance(versions, list):
            continue
        listed: list[IndexEntry] = []
        for item in versions:
            entry = _entry(name, item)
            if entry is not None:
                listed.append(entry)
        found[name] = listed
    return found


def _entry(name: str, item: Any) -> IndexEntry | None:
    if not isinstance(item, dict):
        return None
    version = item.get("version")
    urls = item.get("urls")
    if not isinstance(version, str) or not isinstance(urls, list):
        return None
    digest = item.get("digest")
    return IndexEntry(
        name=name,
        version=version,
        digest=digest.lower() if isinstance(digest, str) and _DIGEST.match(digest.lower()) else "",
        urls=tuple(u for u in urls if isinstance(u, str)),
    )


def archive_url(repo_url: str, entry_url: str) -> str:
    """An index entry's URL made absolute (entries may be relative to the repository)."""
    return urllib.parse.urljoin(repo_url.rstrip("/") + "/", entry_url)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc.rpartition("@")[2].lower()


def _headers(access: Access, url: str, repo_url: str) -> tuple[dict[str, str], httpx.Auth | None]:
    if _origin(url) != _origin(repo_url):
        return {}, None
    if access.token is not None:
        return {"Authorization": f"Bearer {access.token.read()}"}, None
    if access.password is not None:
        return {}, httpx.BasicAuth(access.username or "", access.password.read())
    return {}, None


async def get(
    url: str,
    access: Access,
    *,
    where: str,
    max_bytes: int,
    repo_url: str,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[int, bytes, Mapping[str, str]]:
    """GET ``url``: (status, body, headers). 200, 304 and 404 are answered; other
    statuses raise (auth refused: SourceRejected; 5xx, network, timeout:
    SourceUnavailable); a body over ``max_bytes`` raises SourceRejected."""
    verify: ssl.SSLContext | bool = True
    if access.ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(access.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise errors.ConfigError(
                f"{where}: cannot load the CA bundle {access.ca_file}: {exc}"
            ) from None
    auth_headers, auth = _headers(access, url, repo_url)
    try:
        async with (
            asyncio.timeout(access.timeout),
            httpx.AsyncClient(
                timeout=access.timeout,
                verify=verify,
                transport=transport,
                follow_redirects=True,
                headers={"User-Agent": "gitward"},
            ) as client,
            client.stream(
                "GET", url, headers={**(headers or {}), **auth_headers}, auth=auth
            ) as response,
        ):
            status = response.status_code
            if status in (401, 403):
                raise errors.SourceRejected(
                    f"{where}: the server refused access ({status}); check the credentials"
                    " configured for it"
                )
            if status not in (200, 304, 404):
                raise errors.SourceUnavailable(f"{where}: the server answered {status}")
            if status != 200:
                return status, b"", dict(response.headers)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise errors.SourceRejected(
                    f"{where}: {declared} bytes is over the {max_bytes}-byte limit"
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise errors.SourceRejected(f"{where}: more than the {max_bytes}-byte limit")
                chunks.append(chunk)
            return status, b"".join(chunks), dict(response.headers)
    except (httpx.TimeoutException, TimeoutError):
        raise errors.SourceUnavailable(
            f"{where}: not answered in full within {access.timeout:g} s"
        ) from None
    except httpx.HTTPError as exc:
        message = re.sub(r"//[^/@\s]*@", "//", str(exc))[:300]
        raise errors.SourceUnavailable(f"{where}: {type(exc).__name__}: {message}") from None
