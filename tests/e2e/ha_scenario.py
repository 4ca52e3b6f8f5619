"""Replicas under failure, with real processes: shared by ``tests/e2e/test_replicas.py``
and ``bench/ha.py``.

Three ``gitward serve`` replicas share a real PostgreSQL store and coordinate
through Kubernetes Leases on the API test server, which runs in its own
process (``gitward testing kube-api --write-log``) and records every write with
the User-Agent that names the replica and its fence. N Applications, one
ConfigMap each, labelled with the version of Git it came from. The scenario:

1. start: every Application Synced, each owned by exactly one live replica;
2. a commit, then SIGKILL of the replica that is writing it (mid-sync);
3. a commit, then SIGSTOP of a replica past its lease, then SIGCONT;
4. scale 3 -> 1 (SIGTERM), a commit; 1 -> 3, a commit.

After each step every Application is Synced at the new commit and owned by
exactly one live replica (every live replica sees the same members, none
unowned); at the end the write log must show no Application written by two
replicas in overlapping time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gitward.coordination import hashing
from gitward.testing.kubeapi import auditing

LEASE, RENEW, RETRY = 3.0, 2.0, 0.5
_REPLICA = re.compile(r"\(replica ([^;]+);")

APP = """\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: {name}}}
  destination: {{target: test, namespace: ha}}
  syncPolicy: {{automated: {{prune: true}}}}
"""


def configmap(name: str, version: int) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
        f'  labels: {{version: "{version}"}}\ndata:\n  v: "{version}"\n'
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def eventually(check: Callable[[], Any], what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, ValueError, httpx.HTTPError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


@dataclass
class Replica:
    name: str
    port: int
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Outcome:
    takeovers: list[float] = field(default_factory=list)  # seconds, per Application moved
    double_appliers: list[str] = field(default_factory=list)
    unowned_after_rebalance: int = -1
    steps: list[tuple[str, float]] = field(default_factory=list)

    def line(self) -> str:
        p50 = statistics.median(self.takeovers) if self.takeovers else float("nan")
        top = max(self.takeovers) if self.takeovers else float("nan")
        return (
            f"takeover p50 {p50:.1f} s, max {top:.1f} s, double appliers "
            f"{len(self.double_appliers)}, unowned after rebalance {self.unowned_after_rebalance}"
        )


class Scenario:
    def __init__(
        self, root: Path, store_url: str, git: Any, env: dict[str, str], apps: int = 60
    ) -> None:
        self.root, self.store_url, self.git, self.env = root, store_url, git, env
        self.names = [f"app-{i:02d}" for i in range(apps)]
        self.write_log = root / "writes.jsonl"
        self.kubeconfig = root / "kubeconfig"
        self.replicas = {name: self._replica(name) for name in ("r1", "r2", "r3")}
        self.kubeapi: subprocess.Popen[bytes] | None = None
        self.token = ""
        self.head = ""
        self.outcome = Outcome()

    # --- processes ----------------------------------------------------------------------

    def _gitward(self, *args: str, log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "gitward", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **kwargs,
            )
        finally:
            out.close()

    def _replica(self, name: str) -> Replica:
        port = _free_port()
        config = self.root / f"{name}.yaml"
        return Replica(name, port, config, self.root / f"{name}.log")

    def _write_config(self, replica: Replica) -> None:
        replica.config.write_text(
            f"targets: {{test: {{kubeconfig: {self.kubeconfig}}}}}\n"
            f'root: {{repoURL: "{self.git.url}", ref: main, path: apps}}\n'
            f"store: {self.store_url}\n"
            f"cacheDir: {self.root / ('cache-' + replica.name)}\n"
            "pollInterval: 1s\nworkers: 2\n"
            f"listen: 127.0.0.1:{replica.port}\n"
            f"replicas: {{coordinator: kubernetes, identity: {replica.name}, target: test,"
            f" namespace: gitward, leaseDuration: {LEASE}s, renewDeadline: {RENEW}s,"
            f" retryPeriod: {RETRY}s}}\n"
        )

    def start(self) -> None:
        port = _free_port()
        self.kubeapi = self._gitward(
            "testing",
            "kube-api",
            "--port",
            str(port),
            "--kubeconfig-out",
            str(self.kubeconfig),
            "--write-log",
            str(self.write_log),
            "--workload-delay",
            "0.1",
            # A sync must last long enough for the kill to land in the middle
            # of one: without it a fast machine had written every v2 of r1
            # before the step saw the first.
            "--write-latency",
            "0.2",
            log=self.root / "kubeapi.log",
        )
        eventually(self.kubeconfig.exists, "the API test server", 30)
        for namespace in ("ha", "gitward"):
            self._kubectl("create", "namespace", namespace)
        files: dict[str, str | None] = {}
        for name in self.names:
            files[f"apps/{name}.yaml"] = APP.format(name=name, url=self.git.url)
            files[f"{name}/cm.yaml"] = configmap(name, 1)
        self.head = self.git.commit("v1", files)
        for replica in self.replicas.values():
            self._write_config(replica)
        made = subprocess.run(
            [sys.executable, "-m", "gitward", "token", "create", "ha", "--config",
             str(self.replicas["r1"].config), "--role", "admin", "--project", "*"],
            env=self.env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        self.token = made.stdout.strip()
        for replica in self.replicas.values():
            self.launch(replica)
        self.settled(1, "start", timeout=180)

    def _kubectl(self, *args: str) -> str:
        kubectl = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"
        done = subprocess.run(
            [str(kubectl), "--kubeconfig", str(self.kubeconfig), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def launch(self, replica: Replica) -> None:
        replica.process = self._gitward("serve", "--config", str(replica.config), log=replica.log)

    def stop(self) -> None:
        for replica in self.replicas.values():
            self._end(replica, signal.SIGTERM)
        if self.kubeapi is not None:
            self.kubeapi.send_signal(signal.SIGTERM)
            try:
                self.kubeapi.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.kubeapi.pid, signal.SIGKILL)
                self.kubeapi.wait(10)

    def _end(self, replica: Replica, signum: int) -> None:
        process = replica.process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGCONT)
        process.send_signal(signum)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def live(self) -> list[Replica]:
        return [r for r in self.replicas.values() if r.process and r.process.poll() is None]

    # --- asking ---------------------------------------------------------------------------

    def api(self, replica: Replica, path: str) -> Any:
        answer = httpx.get(
            replica.url + path, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )
        answer.raise_for_status()
        return answer.json()

    def settled(self, version: int, step: str, timeout: float = 90) -> None:
        """Every Application Synced at the head; each owned by exactly one live replica."""
        started = time.monotonic()
        live = sorted(r.name for r in self.live())

        def owners_agree() -> bool:
            for replica in self.live():
                view = self.api(replica, "/api/v1/replicas")
                members = sorted(m["identity"] for m in view["members"])
                if members != live or view["unowned"] or view["settling"]:
                    return False
                if view["applications"] != len(self.names):
                    return False
                if sum(m["owned"] for m in view["members"]) != len(self.names):
                    return False
            return True

        lagging: dict[str, Any] = {}

        def synced() -> bool:
            listed = self.api(self.live()[0], "/api/v1/applications")
            items = listed["items"] if isinstance(listed, dict) else listed
            by_name = {a["name"]: a for a in items}
            lagging.clear()
            for name in self.names:
                found = by_name.get(name)
                if found is None:
                    lagging[name] = "not listed"
                elif (
                    found["sync"]["status"] != "Synced"
                    or found["sync"]["syncedRevision"] != self.head
                ):
                    lagging[name] = {
                        k: found[k] for k in ("sync", "conditions", "reconciledAt", "message")
                    }
            return not lagging

        eventually(owners_agree, f"{step}: live replicas {live} agree, none unowned", timeout)
        try:
            eventually(synced, f"{step}: every Application Synced at {self.head[:12]}", timeout)
        except AssertionError as exc:
            owners = self.owners()
            shown = {name: (owners.get(name), why) for name, why in lagging.items()}
            raise AssertionError(f"{exc}; lagging (owner, status): {shown}") from None
        labels = json.loads(self._kubectl("get", "configmaps", "-n", "ha", "-o", "json"))
        versions = {
            item["metadata"]["name"]: item["metadata"].get("labels", {}).get("version")
            for item in labels["items"]
        }
        assert all(versions.get(name) == str(version) for name in self.names), versions
        self.outcome.steps.append((step, time.monotonic() - started))

    def owners(self) -> dict[str, str]:
        return hashing.assign(self.names, [r.name for r in self.live()])

    def commit(self, version: int) -> float:
        files: dict[str, str | None] = {
            f"{name}/cm.yaml": configmap(name, version) for name in self.names
        }
        self.head = self.git.commit(f"v{version}", files)
        return time.time()

    def writes(self) -> list[auditing.Write]:
        return [w for w in auditing.read_log(self.write_log) if w.kind == "ConfigMap"]

    # --- the steps ----------------------------------------------------------------------------

    def kill_during_a_sync(self) -> None:
        victim = self.replicas["r1"]
        mine = {app for app, owner in self.owners().items() if owner == victim.name}
        committed = self.commit(2)

        def writing() -> bool:
            return any(
                w.started >= committed and w.labels.get("version") == "2"
                and _replica_of(w) == victim.name
                for w in self.writes()
            )  # fmt: skip

        eventually(writing, "r1 syncing v2", 60)
        assert victim.process is not None
        os.killpg(victim.process.pid, signal.SIGKILL)
        killed = time.time()
        victim.process.wait(10)
        done_before = {
            w.name for w in self.writes() if w.labels.get("version") == "2" and w.started < killed
        }
        self.settled(2, "SIGKILL during a sync", timeout=LEASE * 10 + 60)
        for app in sorted(mine - done_before):
            first = min(
                w.started
                for w in self.writes()
                if w.name == app and w.labels.get("version") == "2" and w.started >= killed
            )
            self.outcome.takeovers.append(first - killed)
        self.launch(victim)
        self.settled(2, "r1 back")

    def pause_past_the_lease(self) -> None:
        paused = self.replicas["r2"]
        assert paused.process is not None
        os.killpg(paused.process.pid, signal.SIGSTOP)
        self.commit(3)
        time.sleep(LEASE + RENEW)
        os.killpg(paused.process.pid, signal.SIGCONT)
        self.settled(3, "SIGSTOP past the lease, SIGCONT", timeout=LEASE * 10 + 60)

    def scale_down_and_up(self) -> None:
        for name in ("r2", "r3"):
            self._end(self.replicas[name], signal.SIGTERM)
        self.commit(4)
        self.settled(4, "scaled 3 -> 1")
        for name in ("r2", "r3"):
            self.launch(self.replicas[name])
        self.commit(5)
        self.settled(5, "scaled 1 -> 3")
        self.outcome.unowned_after_rebalance = max(
            self.api(r, "/api/v1/replicas")["unowned"] for r in self.live()
        )

    def check_writes(self) -> None:
        """No Application written by two replicas in overlapping time."""
        by_app: dict[str, list[tuple[float, float, str]]] = {}
        for write in self.writes():
            who = _replica_of(write)
            if who:
                by_app.setdefault(write.name, []).append((write.started, write.finished, who))
        doubles = []
        for app, spans in sorted(by_app.items()):
            spans.sort()
            for i, (start, end, who) in enumerate(spans):
                for other_start, _, other in spans[i + 1 :]:
                    if other_start > end:
                        break
                    if other != who:
                        doubles.append(f"{app}: {who} and {other} at {start:.3f}")
        self.outcome.double_appliers = doubles

    def run(self) -> Outcome:
        self.start()
        self.kill_during_a_sync()
        self.pause_past_the_lease()
        self.scale_down_and_up()
        self.check_writes()
        return self.outcome


def _replica_of(write: auditing.Write) -> str:
    found = _REPLICA.search(write.user_agent)
    return found.group(1) if found else ""


def environment(root: Path) -> dict[str, str]:
    """An isolated environment for the processes (HOME, git identity, this checkout)."""
    home = root / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Ada Author",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Author",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "XDG_CACHE_HOME": str(root / "cache"),
        "GITWARD_LOG_FORMAT": "json",
        "PYTHONPATH": os.environ.get(
            "PYTHONPATH", str(Path(__file__).resolve().parents[2] / "src")
        ),
    }
