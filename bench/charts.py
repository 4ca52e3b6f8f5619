"""Chart-source figures: `gitward render` of a Helm-repository chart, cold and warm.

A local Helm repository (``http.server``, which answers ``If-Modified-Since``
with 304) holds a chart packaged by the Helm SDK and an index of
``--versions`` entries (one real, the rest listed only, as a busy public
repository's index is large). Each sample is a whole ``python -m gitward
render`` process:

* cold: an empty cache directory (index downloaded and parsed, archive
  downloaded, digest checked, unpacked, rendered);
* warm: the cache of an earlier run (a conditional index request answered
  304, the archive read from the cache by digest);
* anchor: the same chart vendored in a Git repository (``file://``), warm.

Samples alternate cold, warm, anchor; medians are printed with the load.

Run: PYTHONPATH=src .venv/bin/python bench/charts.py [--versions 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import helm_python
import yaml

TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata: {name: '{{ .Release.Name }}-settings'}
data: {version: '{{ .Chart.Version }}'}
"""


def make_chart(root: Path) -> Path:
    chart = root / "src" / "ingress"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: ingress\nversion: 4.11.2\n")
    (chart / "values.yaml").write_text("{}\n")
    (chart / "templates" / "cm.yaml").write_text(TEMPLATE)
    return chart


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def big_index(served: Path, archive: Path, versions: int) -> int:
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    entries = [
        {
            "apiVersion": "v2",
            "name": "ingress",
            "version": "4.11.2",
            "digest": digest,
            "urls": [archive.name],
        }
    ]
    for i in range(versions - 1):
        entries.append(
            {
                "apiVersion": "v2",
                "name": "ingress",
                "version": f"3.{i // 100}.{i % 100}",
                "digest": hashlib.sha256(str(i).encode()).hexdigest(),
                "urls": [f"ingress-3.{i // 100}.{i % 100}.tgz"],
                "description": "An ingress controller, listed to make the index realistic",
            }
        )
    text = yaml.safe_dump({"apiVersion": "v1", "entries": {"ingress": entries}})
    (served / "index.yaml").write_text(text)
    return len(text)


def run(app: Path, cache: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gitward", "render", str(app), "--cache-dir", str(cache)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or "version: 4.11.2" not in done.stdout:
        raise SystemExit(f"render failed: {done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        served = root / "served"
        served.mkdir()
        archive = Path(helm_python.package(make_chart(root), destination=served))
        index_bytes = big_index(served, archive, args.versions)
        server, url = serve(served)
        git = root / "git"
        shutil.copytree(root / "src" / "ingress", git / "ingress")
        env = {**os.environ, "HOME": str(root), "GIT_CONFIG_GLOBAL": os.devnull}
        for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "chart"]):
            subprocess.run(
                ["git", "-c", "user.name=b", "-c", "user.email=b@x", *cmd],
                cwd=git,
                check=True,
                env=env,
            )
        destination = "destination: {target: t, namespace: web}"
        chart_app = root / "chart-app.yaml"
        chart_app.write_text(
            "apiVersion: gitward.dev/v1\nkind: Application\nmetadata: {name: ingress}\n"
            f"spec:\n  source: {{repoURL: '{url}', chart: ingress, version: '>=4 <5'}}\n"
            f"  {destination}\n"
        )
        git_app = root / "git-app.yaml"
        git_app.write_text(
            "apiVersion: gitward.dev/v1\nkind: Application\nmetadata: {name: ingress}\n"
            f"spec:\n  source: {{repoURL: '{git.as_uri()}', ref: main, path: ingress}}\n"
            f"  {destination}\n"
        )
        warm_cache, anchor_cache = root / "warm", root / "anchor"
        run(chart_app, warm_cache, env)
        run(git_app, anchor_cache, env)
        samples: dict[str, list[float]] = {"cold": [], "warm": [], "anchor (git, warm)": []}
        for i in range(args.rounds):
            samples["cold"].append(run(chart_app, root / f"cold{i}", env))
            samples["warm"].append(run(chart_app, warm_cache, env))
            samples["anchor (git, warm)"].append(run(git_app, anchor_cache, env))
        server.shutdown()
    print(f"index: {args.versions} versions, {index_bytes / 1e6:.1f} MB; {args.rounds} rounds")
    for name, values in samples.items():
        median = statistics.median(values) * 1000
        print(f"gitward render, {name:>20}: median {median:7.0f} ms")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
