"""Benchmark: one-shot ``gitward sync`` of 500 objects against ``kubectl apply --server-side``.

Run: ``.venv/bin/python bench/oneshot.py [--per-kind 100] [--rounds 3]``.

One Application of 100 each of ConfigMap, Secret, ServiceAccount, Service
and Deployment (issue 14). The Kubernetes API test server runs in its own
process; both tools are whole, cold processes against that same server. Each
round, alternating A B A B:

* fresh: ``gitward sync app.yaml`` into a new namespace, then ``kubectl apply
  --server-side -f`` of the same manifests (the file gitward renders) into
  another new namespace;
* no-op: the same two commands again, nothing changed.

Prints the median wall time of each, the ratio gitward/kubectl (targets:
fresh at most 1.5x, no-op at most 1.0x) and the API requests each needed per
object, counted by the server; then the machine's load.
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

import _bytecode

BIN = Path(sys.executable).parent
KUBECTL = str(BIN / "kubectl")
GITWARD = str(BIN / "gitward")
TARGETS = {"fresh": 1.5, "no-op": 1.0}

# The API test server in its own process, counting requests by verb; SIGUSR1
# writes the counts so far to the file named by its second argument.
_SERVER = """
import asyncio, json, signal, sys
from pathlib import Path
from gitward.testing import kubeapi

async def main(port, counts, kubeconfig):
    server = kubeapi.KubeAPIServer(port=port, workload_delay=0.05)
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    def dump():
        Path(counts).write_text(json.dumps(server.requests.snapshot()))
    loop.add_signal_handler(signal.SIGUSR1, dump)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server.write_kubeconfig(Path(kubeconfig))
    await stop.wait()
    await server.stop()

import uvloop
uvloop.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
"""


def manifests(per_kind: int) -> str:
    docs = []
    for i in range(per_kind):
        docs += [
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\n"
            f"data: {{key: value-{i}, mode: bench}}\n",
            f"apiVersion: v1\nkind: Secret\nmetadata: {{name: secret-{i}}}\n"
            f"type: Opaque\nstringData: {{password: pw-{i}}}\n",
            f"apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: sa-{i}}}\n",
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}}}\nspec:\n"
            f"  selector: {{app: app-{i}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n",
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{i}}}\nspec:\n"
            f"  replicas: 1\n  selector: {{matchLabels: {{app: app-{i}}}}}\n  template:\n"
            f"    metadata: {{labels: {{app: app-{i}}}}}\n    spec:\n      containers:\n"
            f"        - {{name: main, image: 'example/app:1.0'}}\n",
        ]
    return "---\n".join(docs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.kubeconfig = kubeconfig = root / "kubeconfig"
        self._counts = root / "counts.json"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _SERVER,
                *(str(free_port()), str(self._counts)),
                str(kubeconfig),
            ],
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not self.kubeconfig.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the API test server did not start")
            time.sleep(0.05)

    def counts(self) -> dict[str, int]:
        self._counts.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        while not self._counts.exists():
            time.sleep(0.01)
        time.sleep(0.02)
        return dict(json.loads(self._counts.read_text()))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return wall


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def requests_per_object(before: dict[str, int], after: dict[str, int], objects: int) -> str:
    spent = {verb: after.get(verb, 0) - before.get(verb, 0) for verb in after}
    total = sum(spent.values())
    parts = ", ".join(f"{verb} {n}" for verb, n in sorted(spent.items()) if n)
    return f"{total / objects:4.2f}/object ({parts})"


def main(per_kind: int, rounds: int) -> None:
    _bytecode.compile_gitward()
    objects = per_kind * 5
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
        }
        work = root / "repo"
        (work / "app").mkdir(parents=True)
        rendered = work / "app" / "all.yaml"
        rendered.write_text(manifests(per_kind))
        git("init", "-q", "-b", "main", cwd=work, env=env)
        git("add", "-A", cwd=work, env=env)
        git("commit", "-q", "-m", "bench", cwd=work, env=env)
        server = Server(root, env)
        walls: dict[str, dict[str, list[float]]] = {
            case: {"gitward": [], "kubectl": []} for case in TARGETS
        }
        spent: dict[str, dict[str, str]] = {case: {} for case in TARGETS}
        try:
            kube = [KUBECTL, "--kubeconfig", str(server.kubeconfig)]
            for index in range(rounds):
                mine, theirs = f"gitward-{index}", f"kubectl-{index}"
                for namespace in (mine, theirs):
                    run([*kube, "create", "namespace", namespace], env)
                app_file = root / f"{mine}.yaml"
                app_file.write_text(
                    "apiVersion: gitward.dev/v1\nkind: Application\n"
                    f"metadata: {{name: {mine}}}\nspec:\n"
                    f"  source: {{repoURL: '{work.as_uri()}', ref: main, path: app}}\n"
                    "  render: {directory: {}}\n"
                    f"  destination: {{target: bench, namespace: {mine}}}\n"
                )
                gitward = [
                    GITWARD,
                    "sync",
                    str(app_file),
                    "--kubeconfig",
                    str(server.kubeconfig),
                    "--cache-dir",
                    str(root / f"cache-{index}"),
                ]
                kubectl = [*kube, "apply", "--server-side", "-n", theirs, "-f", str(rendered)]
                for case in TARGETS:
                    for tool, argv in (("gitward", gitward), ("kubectl", kubectl)):
                        before = server.counts()
                        walls[case][tool].append(run(argv, env))
                        spent[case][tool] = requests_per_object(before, server.counts(), objects)
        finally:
            server.stop()

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{objects} objects (ConfigMap, Secret, ServiceAccount, Service, Deployment x{per_kind})")
    print(f"{rounds} rounds, alternating gitward / kubectl; load average after: {load}")
    for case, target in TARGETS.items():
        mine = statistics.median(walls[case]["gitward"])
        theirs = statistics.median(walls[case]["kubectl"])
        ratio = mine / theirs
        verdict = "ok" if ratio <= target else "MISSED"
        print(
            f"{case:6} gitward sync {mine:6.2f} s | kubectl apply --server-side {theirs:6.2f} s"
            f" | ratio {ratio:4.2f} (target <= {target:.1f}: {verdict})"
        )
        print(f"       requests gitward: {spent[case]['gitward']}")
        print(f"       requests kubectl: {spent[case]['kubectl']}")
        rounds_text = ", ".join(
            f"{a:.2f}/{b:.2f}"
            for a, b in zip(walls[case]["gitward"], walls[case]["kubectl"], strict=True)
        )
        print(f"       each round (gitward/kubectl): {rounds_text}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    main(arguments.per_kind, arguments.rounds)
