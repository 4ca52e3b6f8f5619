"""Benchmark of the write path: one ``change_and_push`` on a local bare repository.

Run: ``.venv/bin/python bench/committing.py [--files 5000] [--rounds 5]``.

Builds a bare repository with the git CLI (``--files`` files of ~200 bytes in
50 directories, over file://) and reports the median and worst of
``--rounds`` runs of:

* change_and_push (no mirror): a shallow (depth 1) fetch of the branch, a
  checkout of every file, an edit of one file, commit and push;
* change_and_push (mirror): the same, borrowing the objects of an up-to-date
  Sources mirror (no object transfer beyond the delta);
* change_and_push (paths): the same as the first, naming the one directory
  the change edits (``paths=["dir07"]``): sparse checkout of ~100 files, and
  only their blobs fetched;
* revert_and_push (mirror): revert the previous round's commit.

Each round starts a fresh temporary working copy, as the engine does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from gitward.source import base, committing

ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
AUTHOR = committing.Author("Bench", "bench@example.com")


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def build_upstream(root: Path, files: int) -> Path:
    bare, work = root / "repo.git", root / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    git("init", "-q", "-b", "main", str(work), cwd=root)
    for index in range(files):
        path = work / f"dir{index % 50:02d}" / f"file{index:05d}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{index}\n" * 2)
    (work / "values.yaml").write_text("image:\n  tag: r0\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    return bare


def bump(round_: int) -> Callable[[Path], str]:
    def change(workdir: Path) -> str:
        (workdir / "values.yaml").write_text(f"image:\n  tag: r{round_}\n")
        (workdir / "dir07" / "file00007.yaml").write_text(f"round: {round_}\n")
        return f"bump to r{round_}"

    return change


async def measure(rounds: int, step: Callable[[int], Awaitable[object]]) -> list[float]:
    times = []
    for index in range(rounds):
        started = time.perf_counter()
        await step(index)
        times.append(time.perf_counter() - started)
    return times


def report(label: str, times: list[float]) -> None:
    median = statistics.median(times) * 1000
    print(f"{label:<36} median {median:8.1f} ms   max {max(times) * 1000:8.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gitward-bench-commit-"))
    try:
        bare = build_upstream(root, args.files)
        # As a forge does: lets a sparse change fetch only the blobs it needs.
        git("config", "uploadpack.allowFilter", "true", cwd=bare)
        repo = base.RepoSpec(f"file://{bare}", timeout=120)
        work = root / "scratch"
        cache = root / "cache"
        sources = base.Sources(cache, fetch_timeout=120)
        counter = 0

        async def plain(_: int) -> object:
            nonlocal counter
            counter += 1
            return await committing.change_and_push(
                repo, "main", bump(counter), author=AUTHOR, workdir_parent=work
            )

        async def mirrored(_: int) -> object:
            nonlocal counter
            counter += 1
            await sources.fetch(repo)  # as the engine's poll would have done
            return await committing.change_and_push(
                repo, "main", bump(counter), author=AUTHOR, workdir_parent=work, cache_dir=cache
            )

        async def sparse(_: int) -> object:
            nonlocal counter
            counter += 1
            return await committing.change_and_push(
                repo, "main", bump(counter), author=AUTHOR, workdir_parent=work, paths=["dir07"]
            )

        async def revert(_: int) -> object:
            await sources.fetch(repo)
            latest = git("--git-dir", str(bare), "rev-parse", "main", cwd=root)
            return await committing.revert_and_push(
                repo, "main", [latest], author=AUTHOR, workdir_parent=work, cache_dir=cache
            )

        print(f"{args.files} files, {args.rounds} rounds, file:// on loopback")
        report("change_and_push (no mirror)", await measure(args.rounds, plain))
        await sources.fetch(repo)
        report("change_and_push (mirror)", await measure(args.rounds, mirrored))
        report("change_and_push (paths, no mirror)", await measure(args.rounds, sparse))
        report("revert_and_push (mirror)", await measure(args.rounds, revert))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
