"""Issue 11 point 5e, in the source stage: a full cache disk is named as such
(once "fetching ... failed: no error", or an unhandled OSError), a local
repository path that does not exist is RepositoryNotFound (once "unsupported
URL protocol"), and failing fetches back off. Real repositories and servers;
the full disk is a real tmpfs (mounting one needs root: skipped otherwise)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitward import errors
from gitward.source import base, mirrors

from .gitservers import SilentServer, Upstream


@contextlib.contextmanager
def tiny_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a tmpfs, and mounting one needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(disk: Path) -> None:
    with (disk / "filler").open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()


async def test_a_full_cache_disk_is_named_for_a_new_and_an_existing_mirror(
    upstream: Upstream, tmp_path: Path
) -> None:
    upstream.commit({"a": "1"})
    (tmp_path / "big-upstream").mkdir()
    big = Upstream(tmp_path / "big-upstream", "big")
    big.commit({"blob": os.urandom(6 << 20)})
    with tiny_disk(tmp_path / "disk", "4m") as disk:
        sources = base.Sources(disk / "cache", fetch_timeout=10)
        # A pack larger than the disk.
        with pytest.raises(errors.SourceUnavailable) as caught:
            await sources.fetch(base.RepoSpec(big.url))
        assert "no space left" in caught.value.message.lower()
        # A disk already full: a new mirror, then one fetched before.
        existing = base.RepoSpec(upstream.url)
        await sources.fetch(existing)
        fill(disk)
        (tmp_path / "other-upstream").mkdir()
        other = Upstream(tmp_path / "other-upstream", "other")
        other.commit({"b": "1"})
        with pytest.raises(errors.SourceUnavailable) as caught:
            await sources.fetch(base.RepoSpec(other.url))
        message = caught.value.message
        assert "no space left on the cache disk" in message and str(disk) in message
        assert "no error" not in message
        upstream.commit({"a": "2"})
        stale = await sources.fetch(existing)  # the last fetched commit stays usable
        assert stale.stale and "no space left on the cache disk" in stale.error


async def test_a_missing_local_path_is_repository_not_found(
    sources: base.Sources, tmp_path: Path
) -> None:
    for url in (str(tmp_path / "nowhere.git"), (tmp_path / "nowhere.git").as_uri()):
        with pytest.raises(errors.RepositoryNotFound) as caught:
            await sources.fetch(base.RepoSpec(url))
        assert f"no repository at {tmp_path / 'nowhere.git'}" in caught.value.message
        assert "unsupported URL protocol" not in caught.value.message
        assert isinstance(caught.value, errors.InputError)


async def test_failing_fetches_back_off_and_a_success_resets(
    upstream: Upstream, tmp_path: Path
) -> None:
    silent = SilentServer()
    sources = base.Sources(tmp_path / "cache")
    hung = base.RepoSpec(f"git://127.0.0.1:{silent.port}/repo.git", timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(errors.SourceUnavailable, match="timed out"):
            await sources.fetch(hung)
        attempts = len(silent.accepted)
        # Asked again at once (a poller, a reconcile): the same error, no new attempt.
        with pytest.raises(errors.SourceUnavailable, match=r"next attempt in \d+s"):
            await sources.fetch(hung)
        assert len(silent.accepted) == attempts
        assert time.monotonic() - started < 1.5  # answered without waiting for the server
    finally:
        silent.stop()
    mirror = sources._mirrors.get(hung.url)
    delays = []
    for failures in range(1, 12):
        mirror.failures = failures - 1
        mirrors._back_off(mirror, hung, errors.SourceUnavailable("x"))
        delays.append(mirror.retry_at - time.monotonic())
    assert 0.7 < delays[0] < 1.3 and 1.5 < delays[1] < 2.5 and 3 < delays[2] < 5
    assert max(delays) <= mirrors.MAX_RETRY_DELAY * 1.2 and delays[-1] > 90

    # A success resets it.
    upstream.commit({"a": "1"})
    working = base.RepoSpec(upstream.url)
    await sources.fetch(working)
    away = upstream.bare.with_name("away.git")
    upstream.bare.rename(away)
    assert (await sources.fetch(working)).stale
    state = sources._mirrors.get(working.url)
    assert state.failures == 1
    upstream.bare.with_name("away.git").rename(upstream.bare)
    moved = upstream.commit({"a": "2"})
    await asyncio.sleep(max(0.0, state.retry_at - time.monotonic()) + 0.05)
    assert not (await sources.fetch(working)).stale
    assert state.failures == 0 and state.failure is None
    assert (await sources.resolve(working, "main")).sha == moved
