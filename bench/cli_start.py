"""Benchmark: how fast the ``gitward`` command starts (issue 14: under 0.3 s).

Run: ``.venv/bin/python bench/cli_start.py [--apps 50] [--runs 10]``.

Sets up what a user has: the Kubernetes API test server in its own process,
a root repository of ``--apps`` Applications, and ``gitward serve`` (its own
process) with an admin token. Then times whole, cold processes, alternating
each round: ``gitward --help``, ``gitward app list`` against the running
agent, and two anchors — the bare interpreter (``python -c pass``, the floor
any Python CLI pays) and ``kubectl --help`` (a compiled CLI). Prints the
median and best wall time and the median CPU time of each, beside the
0.3 s target, with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import _bytecode

TARGET = 0.3
BIN = Path(sys.executable).parent
KUBECTL = str(BIN / "kubectl")
GITWARD = str(BIN / "gitward")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def wait_until(check, what: str, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one whole process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr}")
    return wall, cpu, done.stdout


def setup_repo(root: Path, apps: int, env: dict[str, str]) -> str:
    work = root / "work"
    (work / "apps").mkdir(parents=True)
    for i in range(apps):
        name = f"app-{i:03d}"
        (work / "apps" / f"{name}.yaml").write_text(
            f"apiVersion: gitward.dev/v1\nkind: Application\nmetadata: {{name: {name}}}\n"
            f"spec:\n  source: {{repoURL: '{work.as_uri()}', ref: main, path: src/{name}}}\n"
            "  render: {directory: {}}\n"
            "  destination: {target: bench, namespace: bench}\n"
            "  syncPolicy: {automated: {prune: true, selfHeal: true}}\n"
        )
        (work / "src" / name).mkdir(parents=True)
        (work / "src" / name / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{k: v}}\n"
        )
    git("init", "-q", "-b", "main", cwd=work, env=env)
    git("add", "-A", cwd=work, env=env)
    git("commit", "-q", "-m", "apps", cwd=work, env=env)
    return work.as_uri()


def main(apps: int, runs: int) -> None:
    _bytecode.compile_gitward()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "HOME": str(root),
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "b@x",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "b@x",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "COLUMNS": "120",
        }
        repo = setup_repo(root, apps, env)
        kubeconfig = root / "kubeconfig"
        api_port, agent_port = free_port(), free_port()
        procs = [
            subprocess.Popen(
                [
                    *(GITWARD, "testing", "kube-api", "--port", str(api_port)),
                    *("--kubeconfig-out", str(kubeconfig), "--workload-delay", "0.05"),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        ]
        try:
            wait_until(kubeconfig.exists, "the API test server")
            subprocess.run(
                [KUBECTL, "--kubeconfig", str(kubeconfig), "create", "namespace", "bench"],
                env=env,
                check=True,
                capture_output=True,
            )
            config = root / "gitward.yaml"
            config.write_text(
                f"targets:\n  bench: {{kubeconfig: {kubeconfig}}}\n"
                f"root: {{repoURL: '{repo}', ref: main, path: apps}}\n"
                f"store: sqlite:///{root / 'state.db'}\n"
                f"cacheDir: {root / 'cache'}\n"
                f"listen: 127.0.0.1:{agent_port}\n"
            )
            token = subprocess.run(
                [
                    GITWARD,
                    "token",
                    "create",
                    "bench",
                    "--config",
                    str(config),
                    "--role",
                    "admin",
                    "-p",
                    "*",
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            procs.append(
                subprocess.Popen(
                    [GITWARD, "serve", "--config", str(config)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            url = f"http://127.0.0.1:{agent_port}"

            def ready() -> bool:
                try:
                    with urllib.request.urlopen(f"{url}/readyz", timeout=1) as answer:
                        return bool(answer.status == 200)
                except OSError:
                    return False

            wait_until(ready, "the agent")
            client_env = {**env, "GITWARD_SERVER": url, "GITWARD_TOKEN": token}

            def listed() -> bool:
                out = timed([GITWARD, "app", "list", "-o", "json"], client_env)[2]
                return out.count('"Synced"') >= apps

            wait_until(listed, "every Application synced", timeout=300)

            cases = {
                "gitward --help": [GITWARD, "--help"],
                f"gitward app list ({apps} apps)": [GITWARD, "app", "list"],
                "anchor: python -c pass": [sys.executable, "-c", "pass"],
                "anchor: kubectl --help": [KUBECTL, "--help"],
            }
            walls: dict[str, list[float]] = {name: [] for name in cases}
            cpus: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(runs):
                for name, argv in cases.items():
                    wall, cpu, _out = timed(argv, client_env)
                    walls[name].append(wall)
                    cpus[name].append(cpu)
        finally:
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)

    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {runs} rounds A B C D")
    print(f"{'command':32} {'median':>8} {'best':>8} {'cpu':>8}   target")
    for name in cases:
        median = statistics.median(walls[name])
        best = min(walls[name])
        cpu = statistics.median(cpus[name])
        verdict = (
            ""
            if name.startswith("anchor")
            else f"{TARGET:.1f} s " + ("ok" if median < TARGET else "MISSED")
        )
        print(f"{name:32} {median:7.3f}s {best:7.3f}s {cpu:7.3f}s   {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--runs", type=int, default=10)
    arguments = parser.parse_args()
    main(arguments.apps, arguments.runs)
