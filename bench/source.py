"""Benchmark of the source stage on loopback: ls-remote, resolve, fetch, tree reads.

Run: ``.venv/bin/python bench/source.py [--files 5000] [--tags 500] [--rounds 5]``.

Builds an upstream repository with the git CLI (``--files`` files of ~200
bytes in 50 directories, ``--tags`` semver tags), serves it with ``git
daemon`` on 127.0.0.1, and reports the median of ``--rounds`` runs of:

* ls-remote: pygit2 listing the remote's refs in-process (a freshness check);
* fetch (no-op): ``Sources.fetch`` when nothing changed (ls-remote through the
  killable fetch process, plus locking and state);
* fetch (1 new commit): ``Sources.fetch`` after one commit changing one file;
* resolve branch / semver range: ``Sources.resolve`` of ``main`` and ``^1``;
* open tree: ``Sources.tree`` (opens the mirror, peels the commit);
* walk + read every file: list every directory and read every file of the tree;
* materialize: write the whole tree to a fresh directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pygit2

from gitward.source import base, trees

ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def build_upstream(root: Path, files: int, tags: int) -> tuple[Path, Path]:
    bare, work = root / "repo.git", root / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    git("init", "-q", "-b", "main", str(work), cwd=root)
    for index in range(files):
        path = work / f"dir{index % 50:02d}" / f"file{index:05d}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{index}\n" * 2)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work)
    for index in range(tags):
        git("tag", f"v1.{index // 10}.{index % 10}", cwd=work)
    git("push", "-q", str(bare), "main", "--tags", cwd=work)
    return bare, work


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def walk(tree: trees.GitTree, path: str = "") -> int:
    count = 0
    for entry in tree.list(path):
        if entry.kind is trees.EntryKind.DIRECTORY:
            count += walk(tree, entry.path)
        else:
            tree.read(entry.path, max_bytes=8 * 1024 * 1024)
            count += 1
    return count


async def timed(rounds: int, step: Callable[[], Awaitable[object]]) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await step()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--tags", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="gitward-bench-source-"))
    port = free_port()
    daemon = None
    try:
        started = time.perf_counter()
        bare, work = build_upstream(root, args.files, args.tags)
        print(
            f"upstream: {args.files} files, {args.tags} tags, built in "
            f"{time.perf_counter() - started:.1f}s"
        )
        daemon = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={root}",
                "--listen=127.0.0.1",
                f"--port={port}",
                str(root),
            ],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"git://127.0.0.1:{port}/repo.git"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)

        sources = base.Sources(root / "cache", fetch_timeout=60)
        repo = base.RepoSpec(url)
        started = time.perf_counter()
        first = await sources.fetch(repo)
        initial = (time.perf_counter() - started) * 1000
        results: list[tuple[str, float]] = [("initial clone (fetch into empty mirror)", initial)]

        scratch = pygit2.init_repository(str(root / "scratch"), bare=True)

        async def ls_remote() -> None:
            remote = scratch.remotes.create_anonymous(url)
            await asyncio.to_thread(remote.list_heads)

        results.append(("ls-remote (pygit2, in-process)", await timed(args.rounds, ls_remote)))
        results.append(
            (
                "fetch, nothing new (fetch process)",
                await timed(args.rounds, lambda: sources.fetch(repo)),
            )
        )

        counter = 0

        async def one_commit() -> float:
            nonlocal counter
            counter += 1
            (work / "dir00" / "file00000.yaml").write_text(f"changed: {counter}\n")
            git("commit", "-q", "-am", f"change {counter}", cwd=work)
            git("push", "-q", str(bare), "main", cwd=work)
            began = time.perf_counter()
            await sources.fetch(repo)
            return time.perf_counter() - began

        samples = [await one_commit() for _ in range(args.rounds)]
        results.append(("fetch, 1 new commit", statistics.median(samples) * 1000))
        results.append(
            (
                "resolve branch 'main'",
                await timed(args.rounds, lambda: sources.resolve(repo, "main")),
            )
        )
        results.append(
            (
                f"resolve semver '^1' over {args.tags} tags",
                await timed(args.rounds, lambda: sources.resolve(repo, "^1")),
            )
        )
        sha = (await sources.resolve(repo, "main")).sha

        async def open_tree() -> None:
            sources.tree(repo, sha)

        results.append(("open tree at commit", await timed(args.rounds, open_tree)))

        counts: list[int] = []

        async def read_all() -> None:
            counts.append(walk(sources.tree(repo, sha)))

        results.append(
            (
                f"walk + read every file ({args.files} files, no checkout)",
                await timed(args.rounds, read_all),
            )
        )
        assert counts[-1] == args.files, counts

        async def materialize() -> None:
            dest = root / "materialized"
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            sources.tree(repo, sha).materialize([""], dest)

        results.append(
            (f"materialize whole tree ({args.files} files)", await timed(args.rounds, materialize))
        )

        print(f"mirror head: {first.head}; median of {args.rounds} rounds")
        width = max(len(name) for name, _ in results)
        for name, millis in results:
            print(f"{name:<{width}}  {millis:9.1f} ms")
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
