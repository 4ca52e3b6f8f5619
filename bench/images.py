"""Benchmark of the CI seam: ``set_image`` on a large repository, tag selection over many tags.

Run: ``.venv/bin/python bench/images.py [--files 5000] [--tags 10000] [--rounds 5]``.

Reports the median and worst of ``--rounds`` runs of:

* set_image (path): ``engine.imaging.set_image`` on a local bare repository of
  ``--files`` YAML files (Deployments in 50 directories), bumping the image
  pinned in one overlay's ``kustomization.yaml`` (sparse working copy of that
  directory: what CI runs);
* set_image (whole tree): the same with ``--path ""``: every YAML file is
  located and parsed (the cost of not naming a path);
* edit_tree (whole tree): locate + rewrite alone, on a checked-out tree;
* choose semver / numerical / alphabetical over ``--tags`` tags.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from gitward.config import settings as config_settings
from gitward.engine import imaging, runtimes
from gitward.images import policies
from gitward.source import committing, resolving

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
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app{index}
spec:
  template:
    spec:
      containers:
        - name: main
          image: ghcr.io/example/app{index}:1.0.0
"""


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def build(root: Path, files: int) -> tuple[Path, Path]:
    bare, work = root / "repo.git", root / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    git("init", "-q", "-b", "main", str(work), cwd=root)
    for index in range(files):
        path = work / f"dir{index % 50:02d}" / f"deploy{index:05d}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(DEPLOYMENT.format(index=index))
    overlay = work / "overlays" / "staging"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text(
        "resources:\n  - ../../dir00\nimages:\n  - name: ghcr.io/example/web  # CI\n"
        "    newTag: r0\n"
    )
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    return bare, work


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


def tags(count: int) -> list[str]:
    rng = random.Random(1)
    made = []
    for index in range(count):
        kind = index % 4
        if kind == 0:
            made.append(f"{rng.randint(0, 9)}.{rng.randint(0, 99)}.{rng.randint(0, 99)}")
        elif kind == 1:
            made.append(f"v{rng.randint(0, 9)}.{rng.randint(0, 99)}.0-rc.{rng.randint(1, 9)}")
        elif kind == 2:
            made.append(f"main-{rng.getrandbits(28):07x}-{1_700_000_000 + index}")
        else:
            made.append(f"sha-{rng.getrandbits(40):010x}")
    return made


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gitward-bench-images-"))
    try:
        bare, work = build(root, args.files)
        options = runtimes.RuntimeOptions(
            settings=config_settings.Settings(), cache_dir=root / "cache"
        )
        counter = 0
        async with runtimes.Runtime.open(options) as runtime:

            async def narrow(_: int) -> object:
                nonlocal counter
                counter += 1
                return await imaging.set_image(
                    runtime,
                    f"file://{bare}",
                    "overlays/staging",
                    f"ghcr.io/example/web:r{counter}",
                    branch="main",
                    author=AUTHOR,
                )

            async def whole(_: int) -> object:
                nonlocal counter
                counter += 1
                return await imaging.set_image(
                    runtime,
                    f"file://{bare}",
                    "",
                    f"ghcr.io/example/web:r{counter}",
                    branch="main",
                    author=AUTHOR,
                )

            async def local(_: int) -> object:
                nonlocal counter
                counter += 1
                return imaging.edit_tree(work, "", f"ghcr.io/example/web:r{counter}")

            print(
                f"{args.files} files, {args.tags} tags, {args.rounds} rounds, file:// on loopback"
            )
            report("set_image (path)", await measure(args.rounds, narrow))
            report("set_image (whole tree)", await measure(args.rounds, whole))
            report("edit_tree (whole tree, local)", await measure(args.rounds, local))

        listed = tags(args.tags)
        constraint = resolving.Constraint.parse(">=1.0 <8")
        assert constraint is not None
        cases = {
            "choose semver >=1.0 <8": policies.build("semver", semver_range=constraint),
            "choose numerical (extract)": policies.build(
                "numerical", filter=r"^main-[0-9a-f]+-(?P<extract>\d+)$"
            ),
            "choose alphabetical": policies.build("alphabetical", exclude=[r"^sha-"]),
        }
        for label, policy in cases.items():

            async def pick(_: int, policy: policies.TagPolicy = policy) -> object:
                return policies.choose(policy, listed)

            report(label, await measure(args.rounds, pick))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
