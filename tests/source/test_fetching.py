"""Fetching over file://, git://, http(s):// into shared mirrors: credentials,
TLS trust, de-duplication, timeouts and the stale-mirror policy."""

from __future__ import annotations

import asyncio
import getpass
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitward import errors
from gitward.source import base, credentials

from .conftest import cache_files
from .gitservers import (
    GitDaemon,
    SilentServer,
    SmartHTTP,
    TricklingServer,
    Upstream,
    free_port,
    git,
    self_signed,
    wait_listening,
)


async def test_file_url_fetch_and_resolve(upstream: Upstream, sources: base.Sources) -> None:
    sha = upstream.commit({"app/a.yaml": "a: 1\n"}, "first")
    repo = base.RepoSpec(upstream.url)

    result = await sources.fetch(repo)

    assert not result.stale
    assert result.head == "refs/heads/main"
    revision = await sources.resolve(repo, "main")
    assert revision.sha == sha
    assert sources.tree(repo, sha).read("app/a.yaml") == b"a: 1\n"


async def test_git_daemon_fetch_sees_new_commits_and_deleted_branches(
    upstream: Upstream, daemon: GitDaemon, sources: base.Sources
) -> None:
    first = upstream.commit({"a": "1"}, "first")
    upstream.commit({"b": "1"}, "feature", push="feature")
    repo = base.RepoSpec(daemon.url())
    await sources.fetch(repo)
    assert (await sources.resolve(repo, "feature")).message == "feature"

    second = upstream.commit({"a": "2"}, "second")
    upstream.git("push", "-q", "origin", ":refs/heads/feature")
    result = await sources.fetch(repo)

    assert result.received_objects > 0
    assert (await sources.resolve(repo, "main")).sha == second
    with pytest.raises(errors.RevisionNotFound, match="'feature'"):
        await sources.resolve(repo, "feature")
    # Objects of the old commit stay readable after the branch moved.
    assert sources.tree(repo, first).read("a") == b"1"


async def test_http_basic_auth_with_token_from_env_and_file(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = upstream.commit({"a": "1"})
    server = SmartHTTP(upstream.root, auth=("deploy", "s3cret-token"))
    try:
        monkeypatch.setenv("GIT_TOKEN", "s3cret-token")
        token_file = tmp_path / "token"
        token_file.write_text("s3cret-token\n")
        for ref in (credentials.SecretRef(env="GIT_TOKEN"), credentials.SecretRef(file=token_file)):
            sources = base.Sources(tmp_path / f"cache-{ref.env or 'file'}", fetch_timeout=10)
            repo = base.RepoSpec(
                server.url(), credentials=credentials.HttpsCredentials(ref, username="deploy")
            )
            assert not (await sources.fetch(repo)).stale
            assert (await sources.resolve(repo, "main")).sha == sha
            assert "s3cret" not in repr(repo)
    finally:
        server.stop()


async def test_http_rejected_or_missing_credentials(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream.commit({"a": "1"})
    server = SmartHTTP(upstream.root, auth=("deploy", "right"))
    try:
        sources = base.Sources(tmp_path / "cache", fetch_timeout=10)
        monkeypatch.setenv("WRONG_TOKEN", "wrong-password-value")
        wrong = base.RepoSpec(
            server.url(),
            credentials=credentials.HttpsCredentials(credentials.SecretRef(env="WRONG_TOKEN")),
        )
        with pytest.raises(errors.SourceUnavailable) as rejected:
            await sources.fetch(wrong)
        assert server.url() in rejected.value.message
        assert "wrong-password-value" not in rejected.value.message

        with pytest.raises(errors.SourceUnavailable, match="no matching credentials"):
            await sources.fetch(base.RepoSpec(server.url()))

        unset = base.RepoSpec(
            server.url(),
            credentials=credentials.HttpsCredentials(credentials.SecretRef(env="UNSET_VAR")),
        )
        with pytest.raises(errors.ConfigError, match="environment variable UNSET_VAR is not set"):
            await sources.fetch(unset)
    finally:
        server.stop()


async def test_password_in_url_is_a_secret_everywhere(upstream: Upstream, tmp_path: Path) -> None:
    sha = upstream.commit({"a": "1"})
    server = SmartHTTP(upstream.root, auth=("bob", "hunter2-pass"))
    try:
        sources = base.Sources(tmp_path / "cache", fetch_timeout=10)
        good = base.RepoSpec(server.url(userinfo="bob:hunter2-pass"))
        assert (await sources.resolve(good, "main")).sha == sha
        assert "hunter2" not in repr(good)
        for path in cache_files(tmp_path / "cache"):
            assert b"hunter2" not in path.read_bytes(), path

        bad = base.RepoSpec(server.url(userinfo="bob:wrong-pass-123"))
        result = await sources.fetch(bad)  # same mirror: fetched before, so stale
        assert result.stale
        assert "wrong-pass-123" not in result.error
        assert "bob:***@" in result.error
        with pytest.raises(errors.SourceUnavailable) as raised:
            await sources.fetch(bad, strict=True)
        assert "wrong-pass-123" not in str(raised.value)
        assert "bob:***@localhost" in str(raised.value)
    finally:
        server.stop()


async def test_https_self_signed_needs_ca_file_or_insecure(
    upstream: Upstream, tmp_path: Path
) -> None:
    sha = upstream.commit({"a": "1"})
    cert, key = self_signed(tmp_path)
    server = SmartHTTP(upstream.root, tls=(cert, key))
    try:
        untrusted = base.Sources(tmp_path / "c1", fetch_timeout=10)
        with pytest.raises(errors.SourceUnavailable, match="certificate"):
            await untrusted.fetch(base.RepoSpec(server.url()))

        trusted = base.Sources(tmp_path / "c2", fetch_timeout=10)
        repo = base.RepoSpec(server.url(), ca_file=cert)
        assert (await trusted.resolve(repo, "main")).sha == sha

        insecure = base.Sources(tmp_path / "c3", fetch_timeout=10)
        assert not (await insecure.fetch(base.RepoSpec(server.url(), insecure=True))).stale
    finally:
        server.stop()


async def test_concurrent_callers_share_one_fetch(
    upstream: Upstream, http: SmartHTTP, sources: base.Sources
) -> None:
    upstream.commit({"a": "1"})
    repo = base.RepoSpec(http.url())
    results = await asyncio.gather(*(sources.fetch(repo) for _ in range(50)))

    assert http.ref_advertisements() == 1
    assert len({r.fetched_at for r in results}) == 1
    # Another spelling of the same repository shares the mirror too.
    await sources.fetch(base.RepoSpec(http.url().removesuffix(".git") + "/"))
    assert len([p for p in (sources.cache_dir).iterdir() if p.suffix == ".git"]) == 1


async def test_max_age_skips_a_recent_fetch(
    upstream: Upstream, http: SmartHTTP, sources: base.Sources
) -> None:
    upstream.commit({"a": "1"})
    repo = base.RepoSpec(http.url())
    await sources.fetch(repo)
    cached = await sources.fetch(repo, max_age=60)
    assert cached.cached
    assert http.ref_advertisements() == 1
    await sources.fetch(repo)
    assert http.ref_advertisements() == 2


async def test_server_down_keeps_last_fetched_commit_usable(
    upstream: Upstream, tmp_path: Path
) -> None:
    sha = upstream.commit({"a": "1"})
    server = GitDaemon(upstream.root)
    sources = base.Sources(tmp_path / "cache", fetch_timeout=5)
    repo = base.RepoSpec(server.url())
    try:
        await sources.fetch(repo)
    finally:
        server.stop()
    upstream.commit({"a": "2"})

    started = time.monotonic()
    result = await sources.fetch(repo)
    assert time.monotonic() - started < 5
    assert result.stale
    assert server.url() in result.error
    assert (await sources.resolve(repo, "main")).sha == sha
    with pytest.raises(errors.SourceUnavailable, match=server.url()):
        await sources.fetch(repo, strict=True)

    never = base.RepoSpec(f"git://127.0.0.1:{free_port()}/other.git")
    with pytest.raises(errors.SourceUnavailable, match=r"other\.git"):
        await sources.fetch(never)
    with pytest.raises(errors.SourceUnavailable):
        await sources.resolve(never, "main")


@pytest.mark.parametrize("scheme", ["git", "http"])
async def test_hanging_server_times_out(
    scheme: str, upstream: Upstream, daemon: GitDaemon, tmp_path: Path
) -> None:
    sha = upstream.commit({"a": "1"})
    silent = SilentServer()
    try:
        sources = base.Sources(tmp_path / "cache", fetch_timeout=1.0)
        hung = base.RepoSpec(f"{scheme}://127.0.0.1:{silent.port}/repo.git")
        started = time.monotonic()
        with pytest.raises(errors.SourceUnavailable, match=f"127.0.0.1:{silent.port}"):
            await sources.fetch(hung)
        assert time.monotonic() - started < 3.0
        assert silent.accepted, "the fetch never connected"
    finally:
        silent.stop()
    # A mirror whose fetch was killed mid-way is still usable afterwards.
    ok = base.RepoSpec(daemon.url())
    await sources.fetch(ok)
    assert (await sources.resolve(ok, "main")).sha == sha


async def test_trickling_server_is_killed_at_the_deadline(tmp_path: Path) -> None:
    trickling = TricklingServer(interval=0.1)
    sources = base.Sources(tmp_path / "cache")
    repo = base.RepoSpec(f"git://127.0.0.1:{trickling.port}/repo.git", timeout=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(errors.SourceUnavailable, match=r"timed out after 1\.0s"):
            await sources.fetch(repo)
    finally:
        trickling.stop()
    # libgit2's per-read timeout never fires here: only the kill ends it.
    assert 1.0 <= time.monotonic() - started < 3.5


# A git:// server trickling one byte every 0.1 s, in a process of its own.
_TRICKLE = """
import socket, sys, threading, time
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen()
print(sock.getsockname()[1], flush=True)
def trickle(conn):
    for byte in b"ffff" + b"a" * 100000:
        conn.sendall(bytes([byte]))
        time.sleep(0.1)
while True:
    conn, _ = sock.accept()
    threading.Thread(target=trickle, args=(conn,), daemon=True).start()
"""

# A one-shot command's fetches, in a fresh process: it must have a single
# thread for a fetch to fork from it, which a test worker that ran other
# tests (their servers' threads) cannot promise.
_ONE_SHOT = """
import asyncio, os, sys, time
from pathlib import Path
from gitward import errors
from gitward.source import base, fetching

slow_url, good_url, cache, want_sha = sys.argv[1:5]

def forks_of_this_process():
    me = os.getpid()
    program = Path(f"/proc/{me}/cmdline").read_bytes()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == me and (entry / "cmdline").read_bytes() == program:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found

async def main():
    fetching.fork_from_here()
    sources = base.Sources(Path(cache))
    slow = base.RepoSpec(slow_url, timeout=1.0)
    started = time.monotonic()
    fetch = asyncio.ensure_future(sources.fetch(slow))
    await asyncio.sleep(0.3)
    assert forks_of_this_process(), "the fetch process is not a fork of this process"
    try:
        await fetch
    except errors.SourceUnavailable as exc:
        assert "timed out after 1.0s" in str(exc), exc
    else:
        raise AssertionError("the trickling fetch did not time out")
    took = time.monotonic() - started
    # libgit2's per-read timeout never fires here: only the kill ends it.
    assert 1.0 <= took < 3.5, took
    good = base.RepoSpec(good_url)
    await sources.fetch(good)
    assert (await sources.resolve(good, "main")).sha == want_sha
    assert sources.tree(good, want_sha).read("app/a.yaml") == b"a: 1\\n"
    print("ok")

asyncio.run(main())
"""


def test_one_shot_fetches_fork_from_the_process_and_are_killed_at_the_deadline(
    upstream: Upstream, tmp_path: Path
) -> None:
    sha = upstream.commit({"app/a.yaml": "a: 1\n"}, "first")
    trickling = subprocess.Popen(
        [sys.executable, "-c", _TRICKLE], stdout=subprocess.PIPE, text=True
    )
    try:
        assert trickling.stdout is not None
        port = int(trickling.stdout.readline())
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _ONE_SHOT,
                f"git://127.0.0.1:{port}/repo.git",
                upstream.url,
                str(tmp_path / "cache"),
                sha,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        trickling.kill()
        trickling.wait()
        if trickling.stdout is not None:
            trickling.stdout.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "ok", done.stdout


async def test_leftover_lock_files_of_a_crashed_fetch_are_cleaned(tmp_path: Path) -> None:
    silent = SilentServer()
    sources = base.Sources(tmp_path / "cache")
    hung = base.RepoSpec(f"git://127.0.0.1:{silent.port}/repo.git", timeout=0.5)
    with pytest.raises(errors.SourceUnavailable):
        await sources.fetch(hung)  # creates the mirror, never fetched: raises
    mirror = next((tmp_path / "cache").glob("*.git"))
    # What a fetch killed while updating refs leaves behind.
    (mirror / "refs" / "heads" / "main.lock").write_text("0" * 40)
    (mirror / "packed-refs.lock").write_text("")
    await asyncio.sleep(1.3)  # the mirror's backoff after one failure: 1 s +/- 20 %
    try:
        with pytest.raises(errors.SourceUnavailable, match="timed out"):
            await sources.fetch(hung)
    finally:
        silent.stop()
    assert not list(mirror.rglob("*.lock"))


async def test_on_demand_refs_and_pinned_commits(
    upstream: Upstream, daemon: GitDaemon, sources: base.Sources
) -> None:
    upstream.commit({"a": "1"})
    pr_sha = upstream.commit({"a": "pr"}, "pull request", push=None)
    upstream.push_ref("refs/pull/7/head", pr_sha)
    repo = base.RepoSpec(daemon.url())
    await sources.fetch(repo)

    assert (await sources.resolve(repo, "refs/pull/7/head")).sha == pr_sha
    updated = upstream.commit({"a": "pr2"}, "pull request 2", push=None)
    upstream.push_ref("refs/pull/7/head", updated)
    await sources.fetch(repo)  # keeps the on-demand ref current
    assert (await sources.resolve(repo, "refs/pull/7/head")).sha == updated

    with pytest.raises(errors.RevisionNotFound, match="refs/pull/8/head"):
        await sources.resolve(repo, "refs/pull/8/head")
    state = json.loads(next(sources.cache_dir.glob("*.git/gitward.json")).read_text())
    assert state["extra_refspecs"] == ["+refs/pull/7/head:refs/pull/7/head"]

    # A followed ref deleted upstream disappears here too.
    upstream.git("push", "-q", "origin", ":refs/pull/7/head")
    await sources.fetch(repo)
    with pytest.raises(errors.RevisionNotFound, match="refs/pull/7/head"):
        await sources.resolve(repo, "refs/pull/7/head")

    # A commit that no branch or tag reaches is fetched by id when asked for.
    hidden = upstream.commit({"a": "hidden"}, "hidden", push=None)
    upstream.push_ref("refs/hidden/x", hidden)
    with pytest.raises(errors.RevisionNotFound, match=r"not on a branch or tag .* fetching it"):
        await sources.resolve(repo, hidden)  # the server refuses wants by id
    git("config", "uploadpack.allowReachableSHA1InWant", "true", cwd=upstream.bare)
    assert (await sources.resolve(repo, hidden)).sha == hidden
    assert (await sources.resolve(repo, hidden)).message == "hidden"
    missing = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(errors.RevisionNotFound, match=missing):
        await sources.resolve(repo, missing)


async def test_mirror_lock_across_processes_times_out(
    upstream: Upstream, daemon: GitDaemon, tmp_path: Path
) -> None:
    import fcntl
    import os

    upstream.commit({"a": "1"})
    sources = base.Sources(tmp_path / "cache", fetch_timeout=0.5)
    repo = base.RepoSpec(daemon.url())
    await sources.fetch(repo)
    lock_file = next((tmp_path / "cache").glob("*.lock"))
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process holds the mirror
        result = await sources.fetch(repo)
        assert result.stale
        assert "locked by another process" in result.error
    finally:
        os.close(fd)
    assert not (await sources.fetch(repo)).stale


_SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)


@pytest.mark.skipif(
    _SSHD is None,
    reason="sshd is not installed (Debian package openssh-server): ssh:// fetch not tested here",
)
async def test_ssh_fetch_with_key_and_known_hosts(upstream: Upstream, tmp_path: Path) -> None:
    assert _SSHD is not None
    sha = upstream.commit({"a": "1"})
    keys = tmp_path / "ssh"
    keys.mkdir(mode=0o700)
    for name in ("host", "client", "stranger"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True
        )
    (keys / "authorized_keys").write_text((keys / "client.pub").read_text())
    port = free_port()
    config = keys / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host'}\n"
        f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPasswordAuthentication no\n"
        f"StrictModes no\nUsePAM no\nPermitRootLogin yes\nPidFile {keys / 'sshd.pid'}\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    sshd = subprocess.Popen([_SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        host_key = " ".join((keys / "host.pub").read_text().split()[:2])
        known_hosts = keys / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_key}\n")
        user = getpass.getuser()
        url = f"ssh://{user}@127.0.0.1:{port}{upstream.bare}"

        def spec(key: str, hosts: Path | None = known_hosts, **kw: bool) -> base.RepoSpec:
            creds = credentials.SshCredentials(private_key=keys / key, known_hosts=hosts)
            return base.RepoSpec(url, credentials=creds, timeout=10, **kw)

        good = base.Sources(tmp_path / "c1")
        assert (await good.resolve(spec("client"), "main")).sha == sha

        unknown_host = tmp_path / "empty_known_hosts"
        unknown_host.write_text("")
        with pytest.raises(errors.SourceUnavailable):
            await base.Sources(tmp_path / "c2").fetch(spec("client", unknown_host))
        insecure = spec("client", unknown_host, insecure=True)
        assert not (await base.Sources(tmp_path / "c3").fetch(insecure)).stale
        with pytest.raises(errors.SourceUnavailable):
            await base.Sources(tmp_path / "c4").fetch(spec("stranger"))
    finally:
        sshd.terminate()
        sshd.wait(10)
