"""A hung cluster must not slow the others: commit-to-applied across a fleet, A B A B.

Run: ``.venv/bin/python bench/fleet.py [--apps 10] [--rounds 3]``.

Three Kubernetes API test servers (``gitward testing kube-api``, each its own
process) are three clusters; ``gitward serve`` runs as its own process with an
ApplicationSet generating ``--apps`` Applications per cluster (a list generator
crossed with a targets generator). Each round commits a new ConfigMap value and
measures the time until every Application of the *healthy* clusters has it:

* A: all three clusters answer;
* B: one cluster is frozen with SIGSTOP (it accepts connections and never
  answers, the worst case for timeouts), the other two must not notice.

Rounds alternate A B A B. Prints the median of each and their ratio; the
target's request timeout is 5 s, so a shared worker pool blocked on the frozen
cluster would show as several seconds added to B.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CLUSTERS = ("c1", "c2", "c3")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def wait_for(check, what: str, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=10, help="Applications per cluster")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each of A and B")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gitward-fleet-"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        kubeconfigs = {}
        for name in CLUSTERS:
            kubeconfig = tmp / f"{name}.kubeconfig"
            procs[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gitward",
                    "testing",
                    "kube-api",
                    "--port",
                    str(free_port()),
                    "--kubeconfig-out",
                    str(kubeconfig),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            kubeconfigs[name] = kubeconfig
        wait_for(lambda: all(k.exists() for k in kubeconfigs.values()), "API servers")

        work = tmp / "repo"
        work.mkdir()
        git(work, "init", "-q", "-b", "main")
        (work / "apps").mkdir()
        (work / "web").mkdir()
        elements = ", ".join(f"{{n: a{i:03d}}}" for i in range(args.apps))
        (work / "apps" / "fleet.yaml").write_text(
            "apiVersion: gitward.dev/v1\nkind: ApplicationSet\nmetadata: {name: fleet}\n"
            "spec:\n  generators:\n    - matrix:\n        generators:\n"
            f"          - list: {{elements: [{elements}]}}\n"
            "          - targets: {}\n"
            "  template:\n"
            '    metadata: {name: "{{n}}-{{target.name}}"}\n'
            "    spec:\n"
            f'      source: {{repoURL: "{work.as_uri()}", ref: main, path: web}}\n'
            '      render: {kustomize: {namePrefix: "{{n}}-"}}\n'
            '      destination: {target: "{{target.name}}", namespace: default}\n'
            "      syncPolicy: {automated: {prune: true, selfHeal: true}}\n"
        )
        (work / "web" / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
        write_value(work, "0")
        git(work, "add", "-A")
        git(work, "commit", "-qm", "fleet")
        first = git(work, "rev-parse", "HEAD")
        port = free_port()
        targets = "".join(
            f"  {name}: {{kubeconfig: {kubeconfigs[name]}, timeout: 5s}}\n" for name in CLUSTERS
        )
        config = tmp / "gitward.yaml"
        config.write_text(
            f"targets:\n{targets}"
            f'root: {{repoURL: "{work.as_uri()}", ref: main, path: apps}}\n'
            f"store: sqlite:///{tmp / 'state.db'}\ncacheDir: {tmp / 'cache'}\n"
            f"pollInterval: 1s\nworkers: 4\nlisten: 127.0.0.1:{port}\n"
            "auth: {anonymous: read-only}\n"
        )
        procs["agent"] = subprocess.Popen(
            [sys.executable, "-m", "gitward", "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ | {"GITWARD_LOG_FORMAT": "json"},
        )
        url = f"http://127.0.0.1:{port}"
        total = args.apps * len(CLUSTERS)
        wait_for(lambda: synced(url, first, set(CLUSTERS)) == total, "first sync", 300)

        results: dict[str, list[float]] = {"A": [], "B": []}
        for round_ in range(args.rounds * 2):
            mode = "AB"[round_ % 2]
            frozen = "c3" if mode == "B" else ""
            if frozen:
                procs[frozen].send_signal(signal.SIGSTOP)
            value = str(round_ + 1)
            write_value(work, value)
            git(work, "commit", "-qam", f"value {value}")
            sha = git(work, "rev-parse", "HEAD")
            started = time.monotonic()
            healthy = set(CLUSTERS) - {frozen}
            want = args.apps * len(healthy)
            wait_for(
                lambda sha=sha, healthy=healthy, want=want: synced(url, sha, healthy) == want,
                f"round {round_ + 1}",
            )
            results[mode].append(time.monotonic() - started)
            if frozen:
                procs[frozen].send_signal(signal.SIGCONT)
                wait_for(lambda sha=sha: synced(url, sha, set(CLUSTERS)) == total, "catch up", 300)
        a, b = statistics.median(results["A"]), statistics.median(results["B"])
        load = os.getloadavg()[0]
        print(
            f"fleet: 3 clusters x {args.apps} Applications, {args.rounds} rounds each, "
            f"load {load:.2f}"
        )
        print(
            f"  commit -> applied on the healthy clusters: all up {a:.2f} s, "
            f"one cluster frozen {b:.2f} s (x{b / a:.2f})"
        )
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def write_value(work: Path, value: str) -> None:
    (work / "web" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
        f"data: {{value: '{value}'}}\n"
    )


def synced(url: str, sha: str, clusters: set[str]) -> int:
    """How many Applications of ``clusters`` are Synced at commit ``sha``."""
    try:
        items = httpx.get(f"{url}/api/v1/applications", timeout=5).json()["items"]
    except (httpx.HTTPError, json.JSONDecodeError, KeyError):
        return -1
    return sum(
        1
        for item in items
        if item["name"].rsplit("-", 1)[-1] in clusters
        and item["sync"]["status"] == "Synced"
        and item["sync"].get("syncedRevision") == sha
    )


if __name__ == "__main__":
    main()
