"""Benchmark: plan + apply of one Application with 500 resources, and a no-op re-plan,
compared with ``kubectl apply --server-side`` of the same manifests on the same server.

Run: ``.venv/bin/python bench/pipeline.py [--resources 500]``. Prints wall times.
Everything runs on this machine: a local bare git repository and gitward's
Kubernetes API test server (no containers run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gitward.cli import logs
from gitward.config import applications, settings
from gitward.engine import reconciling, runtimes

KUBECTL = str(Path(sys.executable).parent / "kubectl")


def manifests(count: int, namespace: str, tag: str) -> str:
    docs = []
    for i in range(count):
        if i % 2:
            docs.append(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                f"  name: cm-{i}\n  namespace: {namespace}\n"
                f"data:\n  key: value-{i}\n  tag: '{tag}'\n"
            )
        else:
            docs.append(
                f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dep-{i}\n"
                f"  namespace: {namespace}\nspec:\n  replicas: 1\n  selector:\n"
                f"    matchLabels: {{app: dep-{i}}}\n  template:\n    metadata:\n"
                f"      labels: {{app: dep-{i}}}\n    spec:\n      containers:\n"
                f"        - name: app\n          image: example/app:{tag}\n"
            )
    return "---\n".join(docs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git(*args: str, cwd: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@x",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        work = root / "work"
        (work / "app").mkdir(parents=True)
        (work / "app" / "all.yaml").write_text(manifests(count, "bench", "v1"))
        (work / "kubectl").mkdir()
        (work / "kubectl" / "all.yaml").write_text(manifests(count, "kubectl", "v1"))
        git("init", "-q", "-b", "main", cwd=work)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "bench", cwd=work)

        # The API server in its own process, like a real cluster: gitward and
        # kubectl are measured against the same, separate server.
        kubeconfig = root / "kubeconfig"
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gitward",
                "testing",
                "kube-api",
                "--port",
                str(port),
                "--kubeconfig-out",
                str(kubeconfig),
                "--workload-delay",
                "0.05",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(400):
                if kubeconfig.exists():
                    break
                await asyncio.sleep(0.05)
            env = {**os.environ, "HOME": str(root)}
            for ns in ("bench", "kubectl"):
                await asyncio.to_thread(
                    subprocess.run,
                    [KUBECTL, "--kubeconfig", str(kubeconfig), "create", "namespace", ns],
                    check=True,
                    capture_output=True,
                    env=env,
                )
            conf = settings.Settings.model_validate(
                {
                    "targets": {"bench": {"kubeconfig": str(kubeconfig)}},
                    "cacheDir": str(root / "cache"),
                }
            )
            app = applications.parse(
                {
                    "apiVersion": "gitward.dev/v1",
                    "kind": "Application",
                    "metadata": {"name": "bench"},
                    "spec": {
                        "source": {"repoURL": work.as_uri(), "ref": "main", "path": "app"},
                        "render": {"directory": {}},
                        "destination": {"target": "bench", "namespace": "bench"},
                    },
                },
                "bench",
            )
            async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=conf)) as rt:
                start = time.perf_counter()
                report = await reconciling.sync(rt, app, trigger="bench")
                first = time.perf_counter() - start
                assert report.operation.phase.value == "Succeeded", report.operation.message
                start = time.perf_counter()
                desired = await reconciling.desired_state(rt, app)
                plan = await reconciling.plan(rt, app, desired)
                replan = time.perf_counter() - start
                assert plan.in_sync, plan.summary()
                start = time.perf_counter()
                await reconciling.sync(rt, app, trigger="bench")
                noop_sync = time.perf_counter() - start

            def kubectl_apply() -> float:
                start = time.perf_counter()
                subprocess.run(
                    [
                        KUBECTL,
                        "--kubeconfig",
                        str(kubeconfig),
                        "apply",
                        "--server-side",
                        "-f",
                        str(work / "kubectl" / "all.yaml"),
                    ],
                    check=True,
                    capture_output=True,
                    env=env,
                )
                return time.perf_counter() - start

            kubectl_first = await asyncio.to_thread(kubectl_apply)
            kubectl_again = await asyncio.to_thread(kubectl_apply)
        finally:
            server.terminate()
            server.wait(10)

    print(f"resources: {count}")
    print(f"gitward first sync (fetch+render+plan+apply): {first:7.2f} s")
    print(f"gitward no-op re-plan (fetch+render+plan):     {replan:7.2f} s")
    print(f"gitward no-op sync:                            {noop_sync:7.2f} s")
    print(f"kubectl apply --server-side, first:            {kubectl_first:7.2f} s")
    print(f"kubectl apply --server-side, again (no-op):    {kubectl_again:7.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=500)
    logs.configure()
    asyncio.run(main(parser.parse_args().resources))
