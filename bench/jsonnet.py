"""Jsonnet render figures: `gitward render` of Argo CD's jsonnet-guestbook shape.

Each sample is a whole ``python -m gitward render`` process against a local
Git repository (``file://``), its mirror warm:

* jsonnet: ``jsonnet-guestbook`` (an entry point importing a ``.libsonnet``,
  evaluated in the killable child process);
* anchor: ``guestbook`` (the same two objects as plain YAML, directory renderer).

Samples alternate jsonnet, anchor; medians are printed with the load, and the
difference is what the child process and the Jsonnet VM cost per render.

Run: PYTHONPATH=src .venv/bin/python bench/jsonnet.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e import argocd_examples  # the examples' shapes, shared


def git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def render(app_file: Path, cache: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gitward", "render", str(app_file), "--cache-dir", str(cache)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        repo = root / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        for path, text in {
            **argocd_examples.guestbook(),
            **argocd_examples.jsonnet_guestbook(),
        }.items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "examples")
        files = {}
        for name in ("jsonnet-guestbook", "guestbook"):
            app = {
                "apiVersion": "gitward.dev/v1",
                "kind": "Application",
                "metadata": {"name": name},
                "spec": {
                    "source": {"repoURL": f"file://{repo}", "ref": "main", "path": name},
                    "destination": {"target": "none", "namespace": "default"},
                },
            }
            files[name] = root / f"{name}.yaml"
            files[name].write_text(yaml.safe_dump(app))
        cache = root / "cache"
        for name in files:  # warm the mirror
            render(files[name], cache)
        samples: dict[str, list[float]] = {name: [] for name in files}
        for _ in range(rounds):
            for name in files:
                samples[name].append(render(files[name], cache))
    load = os.getloadavg()[0]
    for name, values in samples.items():
        print(
            f"{name:20s} median {statistics.median(values) * 1000:7.1f} ms"
            f"  min {min(values) * 1000:7.1f} ms  ({rounds} whole processes)"
        )
    print(f"load average (1 min): {load:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
