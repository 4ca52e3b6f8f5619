"""ApplicationSet generation at fleet scale: 50 targets x 20 directories = 1,000 Applications.

Run: ``.venv/bin/python bench/appsets.py``. Builds a local git repository whose
root declares one ApplicationSet (a matrix of a ``targets`` generator over 50
labelled targets and a ``gitDirectories`` generator over 20 directories), then
measures, alternating cold runs:

* ``gitward appset generate`` as a whole process (what a person meets);
* the same generation in-process, split into reading the root (catalog.load) and
  expanding the set over a real git tree (catalog.expand), to show where time goes;
* regenerating the same inputs (what the agent does on a commit elsewhere): the
  Applications compare equal, so nothing is rewritten.

The issue's target: 1,000 Applications generated in under 1 s.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS, DIRECTORIES, RUNS = 50, 20, 5

APPSET = """\
apiVersion: gitward.dev/v1
kind: ApplicationSet
metadata: {{name: fleet}}
spec:
  generators:
    - matrix:
        generators:
          - targets: {{selector: {{matchLabels: {{env: prod}}}}}}
          - gitDirectories: {{repoURL: "{url}", ref: main, directories: [{{path: "services/*"}}]}}
  template:
    metadata:
      name: "{{{{path.basename}}}}-{{{{target.name}}}}"
      labels: {{region: "{{{{target.labels.region}}}}"}}
    spec:
      source: {{repoURL: "{url}", ref: main, path: "{{{{path.path}}}}"}}
      destination: {{target: "{{{{target.name}}}}", namespace: "{{{{path.basename}}}}"}}
      syncPolicy: {{automated: {{prune: true, selfHeal: true}}}}
"""


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def build(tmp: Path) -> tuple[Path, str]:
    work = tmp / "work"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    url = work.as_uri()
    (work / "apps").mkdir()
    (work / "apps" / "fleet.yaml").write_text(APPSET.format(url=url))
    for i in range(DIRECTORIES):
        service = work / "services" / f"svc{i:02d}"
        service.mkdir(parents=True)
        (service / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: svc{i:02d}}}\n"
        )
    _git(work, "add", "-A")
    _git(work, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "fleet")
    config = tmp / "gitward.yaml"
    lines = ["targets:"]
    for i in range(TARGETS):
        region = ("eu", "us", "ap")[i % 3]
        lines.append(f"  c{i:02d}: {{labels: {{env: prod, region: {region}}}}}")
    lines.append(f'root: {{repoURL: "{url}", ref: main, path: apps}}')
    lines.append(f"cacheDir: {tmp / 'cache'}")
    config.write_text("\n".join(lines) + "\n")
    return config, url


def whole_process(config: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one cold process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gitward",
            "appset",
            "generate",
            "--config",
            str(config),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"GITWARD_LOG_FORMAT": "json"},
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0 or done.stdout.count('"set": "fleet"') != TARGETS * DIRECTORIES:
        raise SystemExit(f"generate failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, cpu


async def in_process(config: Path) -> tuple[float, float, float, bool]:
    from gitward.engine import catalog, fleet, runtimes

    options = runtimes.RuntimeOptions(config_file=config)
    async with runtimes.Runtime.open(options) as runtime:
        root = runtime.settings.root
        assert root is not None
        repo = runtime.repo(root.repo_url)
        await runtime.sources.fetch(repo)
        tree = runtime.sources.tree(repo, (await runtime.sources.resolve(repo, root.ref)).sha)
        started = time.perf_counter()
        loaded = catalog.load(tree, root.path)
        loading = time.perf_counter() - started
        inputs, _ = await fleet.gather(runtime, loaded, fleet.targets_of(runtime.settings.targets))
        started = time.perf_counter()
        first = catalog.expand(loaded, inputs)
        expanding = time.perf_counter() - started
        started = time.perf_counter()
        again = catalog.expand(loaded, inputs, first)
        unchanged = all(again.apps[name].app == first.apps[name].app for name in first.apps)
        regenerating = time.perf_counter() - started
        assert len(first.apps) == TARGETS * DIRECTORIES
        return loading, expanding, regenerating, unchanged


def main() -> None:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        config, _ = build(tmp)
        processes, stages = [], []
        for _ in range(RUNS):
            processes.append(whole_process(config))
            stages.append(asyncio.run(in_process(config)))
    print(
        f"ApplicationSet: {TARGETS} targets x {DIRECTORIES} directories = "
        f"{TARGETS * DIRECTORIES} Applications; {RUNS} runs; load {load[0]:.2f}"
    )
    walls = [wall for wall, _ in processes]
    cpus = [cpu for _, cpu in processes]
    print(
        f"  gitward appset generate (whole process): median {statistics.median(walls):.3f} s, "
        f"min {min(walls):.3f} s, CPU median {statistics.median(cpus):.3f} s   (target: under 1 s)"
    )
    print(
        f"  in-process: read root {statistics.median(s[0] for s in stages) * 1000:.1f} ms, "
        f"expand {statistics.median(s[1] for s in stages) * 1000:.1f} ms, "
        f"regenerate unchanged {statistics.median(s[2] for s in stages) * 1000:.1f} ms "
        f"(nothing rewritten: {all(s[3] for s in stages)})"
    )


if __name__ == "__main__":
    main()
