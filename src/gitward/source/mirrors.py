"""One shared bare mirror per repository URL, fetched once for all its Applications.

Called by :class:`gitward.source.base.Sources`.

Layout: ``<cache_dir>/<sha256 of the normalised URL>.git`` is a bare
repository holding the upstream branches and tags under their own names
(``refs/heads/*``, ``refs/tags/*``), ``HEAD`` pointing at the upstream default
branch, plus refs fetched on demand (``refs/...`` outside heads and tags,
recorded in the state file so later fetches keep them current). Next to it,
``<name>.lock`` is the cross-process lock. Inside, ``gitward.json`` records the
redacted URL and the last fetch attempt, success and error. No remote is saved
in the mirror's config: fetches use an anonymous remote with a URL stripped of
userinfo, so no credential is ever written to disk.

Concurrency: one fetch per mirror at a time, guarded by an asyncio lock (tasks
of this process) and an ``fcntl`` lock on ``<name>.lock`` (other gitward
processes sharing the cache, such as the CLI next to the agent). Callers
arriving while a fetch of the same URL is running share its result instead of
starting another; a caller being cancelled does not cancel the shared fetch.

Staleness policy: when a fetch fails (server down, hanging, refusing us) and
the mirror has been fetched successfully before, :meth:`Mirrors.fetch`
returns a :class:`FetchResult` with ``stale=True`` and the error, and
everything already fetched stays readable: the last fetched commit of every
ref stays usable. Only a repository never fetched successfully (or a caller
passing ``strict=True``) gets :class:`gitward.errors.SourceUnavailable`.
Configuration errors (a credential reference that cannot be read) always raise.

Backoff: after a failed fetch the mirror is not fetched again for 1 s, then
2, 4 ... up to :data:`MAX_RETRY_DELAY` (two minutes) per failure in a row,
jittered; callers meanwhile get the last failure (stale result or error)
with the time of the next attempt. A success resets it. A failure that
happened because the cache disk is full (or out of inodes) says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pygit2
import structlog

from gitward import errors
from gitward.source import cachedisk, credentials, fetching, repositories

_log = structlog.get_logger(__name__)

_STATE_FILE = "gitward.json"
# libgit2 never repacks; after this many packs, lookups slow down and git's
# own ``gc --auto`` (same default limit) consolidates them.
_MAX_PACKS = 50
_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
# Below this much free space a failed fetch is blamed on the disk.
# Failed fetches of a repository back off up to this (seconds).
MAX_RETRY_DELAY = 120.0


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The state of a mirror after :meth:`Mirrors.fetch`.

    ``stale`` is true when this fetch failed and the refs are those of the
    last successful fetch (``fetched_at``); ``error`` says why (redacted).
    ``cached`` is true when no fetch ran because the last one is recent
    enough (``max_age``).
    """

    url: str  # redacted
    mirror: Path
    fetched_at: datetime | None
    head: str | None = None
    stale: bool = False
    error: str = ""
    cached: bool = False
    received_objects: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class _State:
    url: str = ""
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str = ""
    head: str | None = None
    extra_refspecs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "last_attempt": self.last_attempt.isoformat() if self.last_attempt else None,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "last_error": self.last_error,
            "head": self.head,
            "extra_refspecs": list(self.extra_refspecs),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _State:
        def when(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        return cls(
            url=str(data.get("url") or ""),
            last_attempt=when("last_attempt"),
            last_success=when("last_success"),
            last_error=str(data.get("last_error") or ""),
            head=data.get("head") if isinstance(data.get("head"), str) else None,
            extra_refspecs=tuple(str(r) for r in data.get("extra_refspecs") or ()),
        )


def normalize_url(url: str) -> str:
    """The identity of a repository URL: the mirror key.

    Userinfo is dropped (it is not part of the repository's identity and may be
    a secret), scheme and host are lowercased, default ports, trailing slashes
    and a trailing ``.git`` of network URLs are removed, and scp-like ssh
    addresses become ``ssh://host/path``. So ``https://Git.Example.com/org/app.git``
    and ``https://git.example.com/org/app`` share one mirror.
    """
    clean, _, _ = credentials.strip_userinfo(url.strip())
    if "://" not in clean:
        host, _, path = clean.partition(":")
        clean = f"ssh://{host}/{path.lstrip('/')}"
    parts = urlsplit(clean)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return urlunsplit((scheme, "", os.path.normpath(parts.path), "", ""))
    host = (parts.hostname or "").lower()
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    path = path.removesuffix(".git")
    return urlunsplit((scheme, host, path, parts.query, ""))


def mirror_name(url: str) -> str:
    return hashlib.sha256(normalize_url(url).encode()).hexdigest()[:40]


class Mirror:
    """One bare mirror on disk and the in-process state that guards it."""

    def __init__(self, cache_dir: Path, url: str) -> None:
        self.url, _, _ = credentials.strip_userinfo(url)
        self.display_url = credentials.redact(url)
        name = mirror_name(url)
        self.path = cache_dir / f"{name}.git"
        self.lock_path = cache_dir / f"{name}.lock"
        self.lock = asyncio.Lock()
        self.inflight: asyncio.Future[FetchResult] | None = None
        # Backoff after failed fetches (in this process): how many in a row,
        # the last error, and the monotonic time before which none is tried.
        self.failures = 0
        self.failure: errors.GitwardError | None = None
        self.failed_spec: repositories.RepoSpec | None = None  # other credentials: no wait
        self.retry_at = 0.0
        # Whether a fetch may have left lock files or partial packs behind:
        # true until a fetch of this process ends cleanly, and again after
        # one that did not (a fetch killed at its deadline, or one that found
        # the lock file of another process's crashed fetch). Cleaning walks
        # the whole mirror, which is most of an idle poll's cost.
        self.untidy = True

    @property
    def exists(self) -> bool:
        return (self.path / "HEAD").is_file()

    def state(self) -> _State:
        try:
            data = json.loads((self.path / _STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return _State(url=self.display_url)
        return _State.from_json(data) if isinstance(data, dict) else _State(url=self.display_url)

    def write_state(self, state: _State) -> None:
        target = self.path / _STATE_FILE
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".state-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state.to_json(), handle, indent=2)
        Path(tmp).replace(target)

    @property
    def fetched(self) -> bool:
        """Whether at least one fetch succeeded: its refs are usable."""
        return self.exists and self.state().last_success is not None


class Mirrors:
    """The mirrors under one cache directory, keyed by normalised URL."""

    def __init__(self, cache_dir: Path, *, clock: Clock = utc_now) -> None:
        self.cache_dir = cache_dir
        self._clock = clock
        self._mirrors: dict[str, Mirror] = {}

    def get(self, url: str) -> Mirror:
        key = mirror_name(url)
        mirror = self._mirrors.get(key)
        if mirror is None:
            mirror = self._mirrors[key] = Mirror(self.cache_dir, url)
        return mirror

    async def fetch(
        self,
        repo: repositories.RepoSpec,
        *,
        max_age: float = 0.0,
        strict: bool = False,
        extra_refspecs: Iterable[str] = (),
        remember: bool = True,
    ) -> FetchResult:
        """Bring the mirror of ``repo.url`` up to date; see the module docstring.

        ``max_age`` (seconds): skip the fetch when the last successful one is
        at most this old. ``extra_refspecs``: fetched besides branches and
        tags, and with ``remember`` by every later fetch too (a ``refs/pull/7/head``
        someone follows); without it only now (a pinned commit, which never
        changes).
        """
        mirror = self.get(repo.url)
        extra = tuple(extra_refspecs)
        if not extra and max_age > 0 and mirror.exists:
            state = mirror.state()
            if state.last_success is not None:
                age = (self._clock() - state.last_success).total_seconds()
                if 0 <= age <= max_age:
                    return _last_good(mirror, state)
        if (
            not extra
            and mirror.failure is not None
            and mirror.failed_spec == repo
            and time.monotonic() < mirror.retry_at
        ):
            return self._backing_off(mirror, strict)
        if extra or mirror.inflight is None or mirror.inflight.done():
            task: asyncio.Future[FetchResult] = asyncio.ensure_future(
                self._fetch_locked(mirror, repo, extra, remember)
            )
            if not extra:
                mirror.inflight = task
        else:
            task = mirror.inflight
        result = await asyncio.shield(task)
        if result.stale and (strict or result.fetched_at is None):
            raise errors.SourceUnavailable(result.error)
        return result

    async def _fetch_locked(
        self, mirror: Mirror, repo: repositories.RepoSpec, extra: tuple[str, ...], remember: bool
    ) -> FetchResult:
        secrets = credentials.resolve(repo.url, repo.credentials)
        timeout = repo.timeout or 30.0
        async with mirror.lock:
            deadline = time.monotonic() + timeout
            try:
                try:
                    async with _file_lock(mirror.lock_path, deadline, mirror.display_url):
                        result = await self._fetch_now(
                            mirror, repo, secrets, deadline, extra, remember
                        )
                except (OSError, pygit2.GitError) as exc:
                    # The cache itself (a full disk, a read-only directory).
                    problem = cachedisk.problem(self.cache_dir, exc)
                    raise errors.SourceUnavailable(
                        f"fetching {mirror.display_url} failed: {problem}"
                    ) from exc
            except (errors.SourceUnavailable, errors.RepositoryNotFound) as exc:
                if not extra and not isinstance(exc, _Locked):
                    _back_off(mirror, repo, exc)
                if extra:
                    raise
                # Read without the file lock: the state file is replaced
                # atomically, so this sees one complete version.
                state = mirror.state() if mirror.exists else _State()
                if isinstance(exc, errors.RepositoryNotFound) and state.last_success is None:
                    # Never fetched: a wrong URL, not an outage; fix the input.
                    raise
                _log.warning(
                    "git fetch failed",
                    url=mirror.display_url,
                    error=exc.message,
                    last_success=state.last_success.isoformat() if state.last_success else None,
                    retry_in=round(mirror.retry_at - time.monotonic(), 1),
                )
                return _last_good(mirror, state, error=exc.message)
        mirror.failures, mirror.failure, mirror.failed_spec, mirror.retry_at = 0, None, None, 0.0
        return result

    def _backing_off(self, mirror: Mirror, strict: bool) -> FetchResult:
        """The last failure again, without fetching, until the mirror's retry time."""
        failure = mirror.failure
        assert failure is not None
        state = mirror.state() if mirror.exists else _State()
        wait = max(0.0, mirror.retry_at - time.monotonic())
        message = f"{failure.message} (next attempt in {wait:.0f}s)"
        if isinstance(failure, errors.RepositoryNotFound) and state.last_success is None:
            raise errors.RepositoryNotFound(message)
        if strict or state.last_success is None:
            raise errors.SourceUnavailable(message)
        return _last_good(mirror, state, error=message)

    async def _fetch_now(
        self,
        mirror: Mirror,
        repo: repositories.RepoSpec,
        secrets: credentials.Resolved,
        deadline: float,
        extra: tuple[str, ...],
        remember: bool,
    ) -> FetchResult:
        """Fetch while holding both locks; records the attempt in the state file."""
        self._ensure(mirror)
        if mirror.untidy:
            fetching.clean_leftovers(mirror.path)
        state = mirror.state()
        wanted = tuple(dict.fromkeys((*state.extra_refspecs, *extra)))
        request = fetching.FetchRequest(
            url=mirror.url,
            display_url=mirror.display_url,
            mirror=mirror.path,
            refspecs=(*fetching.DEFAULT_REFSPECS, *wanted),
            timeout=max(0.1, deadline - time.monotonic()),
            secrets=secrets,
            ca_file=repo.ca_file,
            insecure=repo.insecure,
        )
        now = self._clock()
        mirror.untidy = True  # until this fetch has ended cleanly
        try:
            outcome = await fetching.fetch(request)
        except errors.SourceUnavailable as exc:
            full = cachedisk.full(self.cache_dir)
            if full:
                # libgit2 may say only "no error" when a write found no space.
                exc = errors.SourceUnavailable(
                    f"fetching {mirror.display_url} failed: {full} ({exc.message})"
                )
            with contextlib.suppress(OSError):  # the state file is best effort here
                mirror.write_state(replace(state, last_attempt=now, last_error=exc.message))
            raise exc from None
        kept = tuple(spec for spec in wanted if spec not in outcome.missing)
        mirror.write_state(
            replace(
                state,
                url=mirror.display_url,
                last_attempt=now,
                last_success=now,
                last_error="",
                head=outcome.head or state.head,
                extra_refspecs=kept
                if remember
                else tuple(spec for spec in state.extra_refspecs if spec in kept),
            )
        )
        mirror.untidy = False
        if outcome.received_objects:  # no new pack otherwise
            await asyncio.to_thread(_maintain, mirror.path)
        absent = [spec for spec in extra if spec in outcome.missing]
        if absent:
            raise errors.RevisionNotFound(
                f"{mirror.display_url} has no ref {absent[0].lstrip('+').partition(':')[0]}"
            )
        _log.debug(
            "git fetch",
            url=mirror.display_url,
            objects=outcome.received_objects,
            seconds=round(outcome.seconds, 3),
        )
        return FetchResult(
            url=mirror.display_url,
            mirror=mirror.path,
            fetched_at=now,
            head=outcome.head or state.head,
            received_objects=outcome.received_objects,
            seconds=outcome.seconds,
        )

    def _ensure(self, mirror: Mirror) -> None:
        """Create the bare mirror atomically (callers hold its locks)."""
        if mirror.exists:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.cache_dir, prefix=".new-"))
        try:
            repo = pygit2.init_repository(str(staging), bare=True)
            # Reflogs of a mirror only grow; nobody reads them.
            repo.config["core.logAllRefUpdates"] = "false"
            del repo
            # A half-created leftover of a crashed process is replaced.
            if mirror.path.exists():
                shutil.rmtree(mirror.path)
            staging.rename(mirror.path)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        mirror.write_state(_State(url=mirror.display_url))


class _Locked(errors.SourceUnavailable):
    """Another process held the mirror until the deadline."""


def _last_good(mirror: Mirror, state: _State, *, error: str = "") -> FetchResult:
    """The last successful fetch, as a result: cached (recent enough), or
    stale with ``error`` (this fetch failed)."""
    return FetchResult(
        url=mirror.display_url,
        mirror=mirror.path,
        fetched_at=state.last_success,
        head=state.head,
        cached=not error,
        stale=bool(error),
        error=error,
    )


def _back_off(mirror: Mirror, repo: repositories.RepoSpec, failure: errors.GitwardError) -> None:
    """After a failed fetch: the next in 1 s, doubling per failure in a row up
    to :data:`MAX_RETRY_DELAY`, spread by +/-20 % so mirrors do not align.
    (A mirror locked by another process is no failure of the repository.)"""
    mirror.failures += 1
    mirror.failure, mirror.failed_spec = failure, repo
    delay = min(MAX_RETRY_DELAY, float(2 ** min(mirror.failures - 1, 16)))
    mirror.retry_at = time.monotonic() + delay * random.uniform(0.8, 1.2)  # noqa: S311


@contextlib.asynccontextmanager
async def _file_lock(path: Path, deadline: float, display_url: str) -> Any:
    """Exclusive ``flock`` on ``path``, polled until ``deadline``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _Locked(
                        f"the mirror of {display_url} is locked by another process"
                    ) from None
                await asyncio.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _maintain(path: Path) -> None:
    packs = list((path / "objects" / "pack").glob("*.pack"))
    if len(packs) <= _MAX_PACKS:
        return
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    try:
        subprocess.run(
            ["git", "-C", str(path), "gc", "--auto", "--quiet"],
            env=env,
            timeout=600,
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        _log.warning("git gc failed", mirror=str(path), error=str(exc)[:500])
