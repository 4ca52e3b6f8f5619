"""Fetching into a bare mirror with pygit2, in a child process that can be killed.

Called by :mod:`gitward.source.mirrors`, which holds the mirror's locks while
a fetch runs.

Why a child process: libgit2's fetch is blocking C code. Progress callbacks can
abort a transfer that is slow, and libgit2's server timeouts abort a socket that
stays silent, but a server that trickles bytes during ref negotiation (or a
stalled TLS or SSH handshake) fires no callback and never hits a per-read
timeout; a thread stuck there can be neither interrupted nor reclaimed. A
process can: it is killed at the deadline, and the mirror's stale lock files
are removed (:func:`clean_leftovers`). Children fork from a ``forkserver``
that preloads pygit2, so a fetch costs about 10 ms more than in-process
(measured here on git:// with 500 tags: 14 ms vs 4 ms for a no-op fetch),
negligible next to the network. Process-wide libgit2 settings (TLS CA file,
home directory for ``known_hosts``, server timeouts, config search paths) are
set in the child, per fetch, which an in-process fetch shared by many
repositories could not do safely. The fork server keeps the environment of
the moment it started (proxy variables, ``SSL_CERT_FILE``).

Secrets reach the child in memory through the process start (never in argv or
the environment) and never come back: the child replies with a small
dictionary whose error text is scrubbed of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import multiprocessing.forkserver
import multiprocessing.popen_forkserver
import multiprocessing.process
import multiprocessing.spawn
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from gitward import errors
from gitward.source import credentials

# Branches and tags, mirrored as they are upstream (force-updated, pruned when
# deleted upstream): a moved tag moves here too, as it does for Argo CD.
DEFAULT_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")

# The child's reply is a few hundred bytes; keep it far below a pipe buffer so
# a child never blocks writing it.
_MAX_MESSAGE = 2000


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """Everything the child needs; ``secrets`` values are never printed."""

    url: str  # without userinfo
    display_url: str  # redacted, for messages
    mirror: Path
    refspecs: tuple[str, ...] = DEFAULT_REFSPECS
    timeout: float = 30.0
    secrets: credentials.Resolved = field(default_factory=credentials.Resolved)
    ca_file: Path | None = None
    insecure: bool = False
    prune: bool = True


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What one fetch did."""

    # The branch the server's HEAD points at (``refs/heads/main``), if it said.
    head: str | None
    received_objects: int
    received_bytes: int
    seconds: float
    # Extra refspecs whose source ref the server does not have.
    missing: tuple[str, ...] = ()


class _Deadline(Exception):
    pass


class _NoCredentials(Exception):
    pass


class _Callbacks(pygit2.RemoteCallbacks):
    """Credentials, certificate trust and the deadline, for one fetch."""

    def __init__(self, request: FetchRequest, deadline: float) -> None:
        super().__init__()
        self._request = request
        self._deadline = deadline
        self._attempts = 0

    def credentials(self, url: str, username_from_url: str | None, allowed_types: int) -> Any:
        # libgit2 asks again after every rejected attempt; answering the same
        # thing forever would loop, so a second request means "rejected".
        self._attempts += 1
        secrets = self._request.secrets
        if self._attempts > 2:
            raise _NoCredentials("authentication failed: the credentials were rejected")
        allowed = pygit2.enums.CredentialType(allowed_types)
        username = username_from_url or secrets.username
        if secrets.private_key is not None:
            if allowed & pygit2.enums.CredentialType.USERNAME:
                return pygit2.Username(username or "git")
            if allowed & pygit2.enums.CredentialType.SSH_KEY:
                return pygit2.Keypair(
                    username or "git", None, str(secrets.private_key), secrets.passphrase or ""
                )
        if (
            secrets.password is not None
            and allowed & pygit2.enums.CredentialType.USERPASS_PLAINTEXT
        ):
            if self._attempts > 1:
                raise _NoCredentials("authentication failed: the credentials were rejected")
            return pygit2.UserPass(username or "git", secrets.password)
        raise _NoCredentials("authentication required but no matching credentials are configured")

    def certificate_check(self, certificate: None, valid: bool, host: bytes) -> bool:
        # ``valid`` is OpenSSL's verdict for TLS and libgit2's known_hosts
        # lookup for SSH; pygit2's default would accept any SSH host key.
        return valid or self._request.insecure

    def transfer_progress(self, stats: Any) -> None:
        self._check_deadline()

    def sideband_progress(self, string: str) -> None:
        self._check_deadline()

    def _check_deadline(self) -> None:
        if time.monotonic() > self._deadline:
            raise _Deadline("deadline exceeded")


def _child_main(request: FetchRequest, conn: multiprocessing.connection.Connection) -> None:
    """Entry point of the fetch process: fetch, then send one small dict."""
    started = time.monotonic()
    reply: dict[str, Any]
    try:
        reply = _fetch_here(request, started)
    except _Deadline:
        reply = {"ok": False, "kind": "timeout", "message": "timed out"}
    except _NoCredentials as exc:
        reply = {"ok": False, "kind": "auth", "message": str(exc)}
    except Exception as exc:  # everything becomes one message for the parent
        reply = {"ok": False, "kind": _classify(str(exc)), "message": str(exc)}
    if not reply["ok"]:
        message = credentials.scrub(str(reply["message"]), request.secrets.secrets)
        reply["message"] = message.replace(request.url, request.display_url)[:_MAX_MESSAGE]
    conn.send(reply)
    conn.close()


def _fetch_here(request: FetchRequest, started: float) -> dict[str, Any]:
    timeout_ms = max(1, int(request.timeout * 1000))
    pygit2.settings.server_connect_timeout = timeout_ms
    pygit2.settings.server_timeout = timeout_ms
    if request.ca_file is not None:
        pygit2.settings.set_ssl_cert_locations(str(request.ca_file), None)
    with tempfile.TemporaryDirectory(prefix="gitward-fetch-") as home:
        # The agent's fetches must not depend on whoever's ~/.gitconfig or
        # /etc/gitconfig is around (insteadOf rewrites, sslVerify=false).
        for level in (
            pygit2.enums.ConfigLevel.SYSTEM,
            pygit2.enums.ConfigLevel.XDG,
            pygit2.enums.ConfigLevel.GLOBAL,
        ):
            pygit2.settings.search_path[level] = home
        if request.secrets.known_hosts is not None:
            # libgit2 reads known_hosts from <home>/.ssh/known_hosts only.
            ssh_dir = Path(home, ".ssh")
            ssh_dir.mkdir(mode=0o700)
            try:
                data = request.secrets.known_hosts.read_bytes()
            except OSError as exc:
                raise RuntimeError(
                    f"cannot read known_hosts file {request.secrets.known_hosts}: "
                    f"{exc.__class__.__name__}"
                ) from None
            (ssh_dir / "known_hosts").write_bytes(data)
            pygit2.settings.homedir = home
        repo = pygit2.Repository(str(request.mirror))
        remote = repo.remotes.create_anonymous(request.url)
        callbacks = _Callbacks(request, started + request.timeout)
        prune = pygit2.enums.FetchPrune.PRUNE if request.prune else pygit2.enums.FetchPrune.NO_PRUNE
        stats = remote.fetch(list(request.refspecs), callbacks=callbacks, prune=prune, proxy=True)
        advertised = {str(h.name): h for h in remote.list_heads(connect=False)}
        head = None
        remote_head = advertised.get("HEAD")
        if remote_head is not None and remote_head.symref_target:
            head = str(remote_head.symref_target)
        if head is not None and head in repo.references:
            repo.references.create("HEAD", head, force=True)
        missing = []
        for spec in request.refspecs:
            if spec in DEFAULT_REFSPECS:
                continue
            source, _, destination = spec.lstrip("+").partition(":")
            if source.startswith("refs/") and source not in advertised:
                # libgit2 ignores an explicit ref the server lacks; drop our
                # copy so a deleted pull request ref does not live on here.
                if destination in repo.references:
                    repo.references.delete(destination)
                missing.append(spec)
    return {
        "ok": True,
        "head": head,
        "objects": int(stats.received_objects),
        "bytes": int(stats.received_bytes),
        "missing": missing[:100],
    }


def _missing_local_repository(url: str) -> str:
    """The path of a local repository (``file://`` URL or a plain path) when
    nothing is there ('' otherwise, and for network URLs)."""
    if url.startswith("file://"):
        path = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    elif "://" not in url and (url.startswith(("/", ".", "~")) or ":" not in url):
        # Not ``host:path`` (scp-like ssh): a path on this machine.
        path = Path(url).expanduser()
    else:
        return ""
    return "" if path.exists() else str(path)


def _classify(message: str) -> str:
    lowered = message.lower()
    if "couldn't find remote ref" in lowered or "no match for" in lowered:
        return "ref"
    if "timed out" in lowered or "timeout" in lowered:
        return "timeout"
    if "401" in lowered or "403" in lowered or "authentication" in lowered:
        return "auth"
    if "certificate" in lowered or "hostkey" in lowered or "host key" in lowered:
        return "trust"
    return "other"


def _context() -> multiprocessing.context.ForkServerContext:
    ctx = multiprocessing.get_context("forkserver")
    # Preloading pygit2 in the fork server is what makes a fetch process cheap.
    ctx.set_forkserver_preload([__name__])
    return ctx


_fork_here = False


def fork_from_here() -> None:
    """Fork this process's fetch processes from the process itself, without a fork server.

    For one-shot commands, which fetch once or twice before they exit: the
    fork server costs two more Python processes (the server, which imports
    pygit2, and multiprocessing's resource tracker; ~0.15 CPU-seconds, a
    fifth of a no-op ``gitward sync``), while forking the command itself
    costs a few milliseconds and imports nothing. Only while the process
    has a single thread (its first fetch comes before any thread starts);
    a fetch made while another thread exists goes through the fork server,
    as every fetch of the agent does: it fetches all day from a large,
    many-threaded process."""
    global _fork_here
    _fork_here = True


_PREPARATION_LOCK = threading.Lock()


def _preparation_without_main(name: str) -> dict[str, Any]:
    data: dict[str, Any] = _get_preparation_data(name)
    data.pop("init_main_from_path", None)
    data.pop("init_main_from_name", None)
    return data


_get_preparation_data = multiprocessing.spawn.get_preparation_data


class _Popen(multiprocessing.popen_forkserver.Popen):
    """Starts a fetch process without re-running the parent's main script.

    multiprocessing makes every child re-execute ``__main__`` when it is a
    script (the ``gitward`` console script would import the whole CLI per
    fetch: measured 88 ms per fetch from a small script, 14 ms without). The
    fetch target lives in this importable module, so the child needs none of
    it; the preparation data is stripped of the main module while this
    process is being launched.
    """

    def _launch(self, process_obj: Any) -> None:
        with _PREPARATION_LOCK:
            multiprocessing.spawn.get_preparation_data = _preparation_without_main
            try:
                super()._launch(process_obj)  # type: ignore[misc]
            finally:
                multiprocessing.spawn.get_preparation_data = _get_preparation_data


class _FetchProcess(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        return _Popen(process_obj)


async def _readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def _on_ready() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, _on_ready)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


async def fetch(request: FetchRequest) -> FetchOutcome:
    """Fetch ``request.refspecs`` from ``request.url`` into ``request.mirror``.

    The caller must hold the mirror's locks. Gives up after ``request.timeout``
    seconds whatever the server does, killing the fetch process.

    Raises :class:`gitward.errors.SourceUnavailable` (server down, hanging,
    refusing our credentials or certificate) or
    :class:`gitward.errors.RevisionNotFound` (an explicit ref missing upstream),
    each naming the redacted URL.
    """
    started = time.monotonic()
    receiver, sender = multiprocessing.Pipe(duplex=False)
    process: multiprocessing.process.BaseProcess
    # Only a process with no other thread forks itself: a thread holding a
    # lock (OpenSSL's, the allocator's) at the fork would leave it held in the
    # child forever. A one-shot's first fetch comes before any thread starts.
    forked_here = _fork_here and threading.active_count() == 1
    if forked_here:
        process = multiprocessing.get_context("fork").Process(
            target=_child_main, args=(request, sender), daemon=True
        )
    else:
        _context()
        process = _FetchProcess(target=_child_main, args=(request, sender), daemon=True)
    reply: dict[str, Any] | None = None
    exitcode: int | None = None
    try:
        if forked_here:
            process.start()  # one fork, a few milliseconds
        else:
            # The first start launches the fork server (~0.1 s); not on the loop.
            await asyncio.to_thread(process.start)
        sender.close()
        try:
            # The grace second covers the child's own start-up; libgit2 and
            # the callbacks enforce ``timeout`` inside it.
            await asyncio.wait_for(_readable(process.sentinel), request.timeout + 1.0)
        except (TimeoutError, asyncio.CancelledError):
            process.kill()
            await asyncio.to_thread(process.join)
            clean_leftovers(request.mirror)
            raise
        if receiver.poll():
            reply = receiver.recv()
        await asyncio.to_thread(process.join)
        exitcode = process.exitcode
    except TimeoutError:
        raise errors.SourceUnavailable(
            f"fetching {request.display_url} timed out after {request.timeout:.1f}s"
        ) from None
    finally:
        receiver.close()
        sender.close()
        if process.exitcode is not None:
            process.close()
    if reply is None:
        raise errors.SourceUnavailable(
            f"fetching {request.display_url} failed: fetch process exited with code {exitcode}"
        )
    seconds = time.monotonic() - started
    if reply["ok"]:
        return FetchOutcome(
            head=reply["head"],
            received_objects=reply["objects"],
            received_bytes=reply["bytes"],
            seconds=seconds,
            missing=tuple(reply["missing"]),
        )
    kind, message = reply["kind"], reply["message"]
    missing = _missing_local_repository(request.url)
    if missing:
        raise errors.RepositoryNotFound(
            f"fetching {request.display_url}: no repository at {missing} (check repoURL)"
        )
    if kind == "ref":
        raise errors.RevisionNotFound(f"fetching {request.display_url}: {message}")
    if kind == "timeout":
        raise errors.SourceUnavailable(
            f"fetching {request.display_url} timed out after {request.timeout:.1f}s ({message})"
        )
    raise errors.SourceUnavailable(f"fetching {request.display_url} failed: {message}")


def clean_leftovers(mirror: Path) -> None:
    """Remove what a killed or crashed fetch leaves behind: lock files, partial packs.

    A ref lock file left by a killed process would fail every later fetch
    ("failed to lock file"). Only safe while holding the mirror's locks: no
    other writer exists, so every lock file is stale.
    """
    for pattern in ("**/*.lock", "objects/pack/pack_git2_*", "objects/pack/tmp_*"):
        for leftover in mirror.glob(pattern):
            with contextlib.suppress(OSError):
                leftover.unlink()
