"""Issue 4 acceptance: ``gitward serve`` as a real process reconciling continuously.

Real git repositories (a bare remote the test pushes to), the Kubernetes API
test server (in the test process), the agent as a subprocess with its SQLite
store, read back by the test through the store itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gitward.store import storing
from tests.fixtures import Git, create_namespace, kget, kubectl
from tests.manifests import deployment

pytestmark = pytest.mark.slow

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  value: "{value}"
"""


def application(name: str, url: str, path: str, *, self_heal: bool = True, extra: str = "") -> str:
    return f"""\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: {path}}}
  destination: {{target: test, namespace: agent}}
  syncPolicy:
    automated: {{prune: true, selfHeal: {str(self_heal).lower()}}}
    retry: {{limit: 3, backoff: {{duration: 1s, factor: 2, maxDuration: 4s}}}}
    healthTimeout: 60s
{extra}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AgentProcess:
    def __init__(
        self,
        tmp_path: Path,
        env: dict[str, str],
        cluster: Any,
        root_url: str,
        *,
        poll: str = "0.5s",
        webhook_secret: str = "",
        extra_config: str = "",
    ) -> None:
        self.tmp = tmp_path
        self.port = free_port()
        self.db = tmp_path / "state.db"
        self.config = tmp_path / "gitward.yaml"
        webhooks = ""
        if webhook_secret:
            webhooks = 'webhooks:\n  - {url: "*", secretEnv: HOOK_SECRET}\n'
        self.config.write_text(
            f"targets:\n  test: {{kubeconfig: {cluster.kubeconfig}}}\n"
            f'root: {{repoURL: "{root_url}", ref: main, path: apps}}\n'
            f"store: sqlite:///{self.db}\n"
            f"cacheDir: {tmp_path / 'agent-cache'}\n"
            f"pollInterval: {poll}\n"
            f"listen: 127.0.0.1:{self.port}\n{webhooks}{extra_config}"
        )
        self.env = env | {"HOOK_SECRET": webhook_secret, "GITWARD_LOG_FORMAT": "json"}
        self.log = tmp_path / "agent.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, ready: bool = True) -> None:
        """Start ``gitward serve``; wait for ``/readyz`` unless ``ready`` is False
        (then only for ``/healthz`` to answer, whatever it says)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gitward", "serve", "--config", str(self.config)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                probe = httpx.get(f"{self.url}/{'readyz' if ready else 'healthz'}", timeout=1)
                if probe.status_code == 200 or not ready:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("agent not ready:\n" + self.log.read_text())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def store_call(self, call: Callable[[storing.SqlStore], Any]) -> Any:
        async def run() -> Any:
            store = storing.SqlStore(f"sqlite:///{self.db}")
            await store.open()
            try:
                return await call(store)
            finally:
                await store.close()

        return asyncio.run(run())

    def status(self, app: str) -> Any:
        return self.store_call(lambda s: s.get_status(app))

    def operations(self, app: str) -> list[Any]:
        return list(self.store_call(lambda s: s.list_operations(app)))

    def events(self, app: str) -> list[Any]:
        return list(self.store_call(lambda s: s.list_events(app=app)))


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (AssertionError, KeyError, TypeError):
            last = None
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture
def agent_factory(
    tmp_path: Path, env: dict[str, str], cluster: Any
) -> Iterator[Callable[..., AgentProcess]]:
    made: list[AgentProcess] = []

    def make(root_url: str, **kwargs: Any) -> AgentProcess:
        agent = AgentProcess(tmp_path, env, cluster, root_url, **kwargs)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.stop()


def image_of(cluster: Any, name: str) -> str | None:
    live = kget(cluster, "-n", "agent", "deployment", name)
    return live["spec"]["template"]["spec"]["containers"][0]["image"] if live else None


def test_commit_is_applied_and_drift_corrected_without_calling_gitward(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess]
) -> None:
    create_namespace(cluster, "agent")
    git.commit(
        "two apps",
        {
            "apps/web.yaml": application("web", git.url, "web"),
            "apps/report.yaml": application("report", git.url, "report", self_heal=False),
            "web/deploy.yaml": deployment("web", "example/web:1"),
            "web/settings.yaml": CONFIGMAP.format(name="web-settings", value="a"),
            "report/cm.yaml": CONFIGMAP.format(name="report", value="v1"),
        },
    )
    agent = agent_factory(git.url)
    agent.start()
    eventually(lambda: image_of(cluster, "web") == "example/web:1", "first sync")

    # A commit is applied with no call to gitward (polling).
    sha = git.commit("web 2", {"web/deploy.yaml": deployment("web", "example/web:2")})
    eventually(lambda: image_of(cluster, "web") == "example/web:2", "commit applied")

    def recorded() -> list[Any] | None:
        # The objects are written before the operation is recorded as finished.
        ops = agent.operations("web")
        done = any(
            o.operation.revision.sha == sha and o.operation.phase.value == "Succeeded" for o in ops
        )
        return ops if done else None

    ops = eventually(recorded, "the sync of web 2 recorded as Succeeded")
    assert ops[0].operation.revision.author == "Ada Author <ada@example.com>"

    # Prune on file removal.
    git.commit("drop settings", {"web/settings.yaml": None})
    eventually(lambda: kget(cluster, "-n", "agent", "configmap", "web-settings") is None, "prune")

    # selfHeal: a manual scale is reverted from the watch, quickly.
    kubectl(cluster, "-n", "agent", "scale", "deployment", "web", "--replicas=4")
    started = time.monotonic()
    eventually(
        lambda: kget(cluster, "-n", "agent", "deployment", "web")["spec"]["replicas"] == 1,
        "drift corrected",
    )
    assert time.monotonic() - started < 10
    reasons = [e.reason for e in agent.events("web")]
    assert "DriftDetected" in reasons and "DriftCorrected" in reasons

    # Without selfHeal, drift is reported (OutOfSync, event, since) and left alone.
    kubectl(
        cluster,
        "-n",
        "agent",
        "patch",
        "configmap",
        "report",
        "--type=merge",
        "-p",
        '{"data":{"value":"by-hand"}}',
    )
    status = eventually(
        lambda: (s := agent.status("report")) and s.sync.value == "OutOfSync" and s, "drift report"
    )
    assert status.drift_since is not None
    assert kget(cluster, "-n", "agent", "configmap", "report")["data"]["value"] == "by-hand"
    drift_events = [e for e in agent.events("report") if e.reason == "DriftDetected"]
    assert drift_events and "/data/value" in drift_events[0].message
    # Drift that says who: kubectl patch records itself in managedFields.
    assert "/data/value by kubectl-patch (Update) at " in drift_events[0].message


def test_webhook_triggers_sync_at_once(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess]
) -> None:
    create_namespace(cluster, "agent")
    git.commit(
        "app",
        {
            "apps/web.yaml": application("web", git.url, "web"),
            "web/deploy.yaml": deployment("web", "example/web:1"),
        },
    )
    agent = agent_factory(git.url, poll="10m", webhook_secret="s3cret")
    agent.start()
    eventually(lambda: image_of(cluster, "web") == "example/web:1", "first sync")
    before = git.run("rev-parse", "HEAD")
    after = git.commit("web 2", {"web/deploy.yaml": deployment("web", "example/web:2")})
    payload = json.dumps(
        {
            "ref": "refs/heads/main",
            "before": before,
            "after": after,
            "deleted": False,
            "repository": {"clone_url": git.url, "html_url": git.url, "full_name": "org/web"},
            "pusher": {"name": "ada"},
            "commits": [],
        }
    ).encode()
    bad = httpx.post(
        f"{agent.url}/api/v1/webhooks",
        content=payload,
        headers={
            "X-GitHub-Event": "push",
            "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + "0" * 64,
        },
    )
    assert bad.status_code in (401, 403)
    signature = hmac.new(b"s3cret", payload, hashlib.sha256).hexdigest()
    started = time.monotonic()
    good = httpx.post(
        f"{agent.url}/api/v1/webhooks",
        content=payload,
        headers={
            "X-GitHub-Event": "push",
            "Content-Type": "application/json",
            "X-Hub-Signature-256": f"sha256={signature}",
        },
    )
    assert good.status_code == 200, good.text
    assert good.json()["queued"] == ["web"]
    eventually(lambda: image_of(cluster, "web") == "example/web:2", "webhook sync", timeout=10)
    assert time.monotonic() - started < 10
    huge = httpx.post(
        f"{agent.url}/api/v1/webhooks",
        content=b"x" * (2 * 1024 * 1024),
        headers={"X-GitHub-Event": "push"},
    )
    assert huge.status_code == 413


def test_broken_app_does_not_delay_others_and_source_outage_prunes_nothing(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    create_namespace(cluster, "agent")
    git.commit(
        "apps",
        {
            "apps/good.yaml": application("good", git.url, "good"),
            "apps/broken.yaml": application("broken", git.url, "broken"),
            "good/cm.yaml": CONFIGMAP.format(name="good", value="1"),
            "broken/cm.yaml": "apiVersion: v1\nkind: [ConfigMap\n",
        },
    )
    agent = agent_factory(git.url)
    agent.start()
    eventually(lambda: kget(cluster, "-n", "agent", "configmap", "good"), "good app synced")
    broken = eventually(
        lambda: (s := agent.status("broken")) and s.conditions and s, "broken app status"
    )
    reconciled = {c.type: c for c in broken.conditions}["Reconciled"]
    assert reconciled.reason == "RenderFailed" and "broken/cm.yaml" in reconciled.message

    # The git server goes away: status says so, nothing is pruned; it resumes.
    hidden = tmp_path / "hidden.git"
    git.remote.rename(hidden)
    status = eventually(
        lambda: (
            (s := agent.status("good"))
            and {c.type: c for c in s.conditions}.get("SourceAvailable")
            and not {c.type: c for c in s.conditions}["SourceAvailable"].status
            and s
        ),
        "source unavailable",
    )
    assert "SourceFailed" in {c.reason for c in status.conditions}
    assert kget(cluster, "-n", "agent", "configmap", "good") is not None
    hidden.rename(git.remote)
    git.commit("good 2", {"good/cm.yaml": CONFIGMAP.format(name="good", value="2")})
    eventually(
        lambda: kget(cluster, "-n", "agent", "configmap", "good")["data"]["value"] == "2",
        "resumed after the outage",
    )


def test_sigkill_mid_sync_then_restart_converges(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess]
) -> None:
    create_namespace(cluster, "agent")
    # Wave 0 never becomes healthy (the image says fail), so the sync waits
    # before wave 1: the moment to kill the agent.
    git.commit(
        "slow",
        {
            "apps/slow.yaml": application("slow", git.url, "slow"),
            "slow/deploy.yaml": deployment("slow", "example/slow:fail"),
            "slow/late.yaml": CONFIGMAP.format(name="late", value="1").replace(
                "metadata:\n", 'metadata:\n  annotations: {gitward.dev/sync-wave: "1"}\n'
            ),
        },
    )
    agent = agent_factory(git.url)
    agent.start()
    eventually(
        lambda: any(op.operation.phase.value == "Running" for op in agent.operations("slow")),
        "a sync running",
    )
    agent.kill()
    git.commit("fix", {"slow/deploy.yaml": deployment("slow", "example/slow:2")})
    agent.start()
    eventually(lambda: kget(cluster, "-n", "agent", "configmap", "late"), "converged after restart")
    ops = agent.operations("slow")
    interrupted = [op for op in ops if op.operation.reason == "Interrupted"]
    assert interrupted and interrupted[0].operation.phase.value == "Failed"
    eventually(
        lambda: not any(op.operation.phase.value == "Running" for op in agent.operations("slow")),
        "no operation left Running",
    )


def test_depends_on_waits_for_synced_and_healthy_dependencies(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess]
) -> None:
    create_namespace(cluster, "agent")
    git.commit(
        "db then api",
        {
            "apps/db.yaml": application("db", git.url, "db"),
            "apps/api.yaml": application("api", git.url, "api").replace(
                "  syncPolicy:", "  dependsOn: [db]\n  syncPolicy:", 1
            ),
            "db/deploy.yaml": deployment("db", "example/db:fail"),
            "api/cm.yaml": CONFIGMAP.format(name="api", value="1"),
        },
    )
    agent = agent_factory(git.url)
    agent.start()
    waiting = eventually(
        lambda: (
            (s := agent.status("api"))
            and {c.type: c for c in s.conditions}.get("DependenciesReady")
            and s
        ),
        "api waiting for db",
    )
    condition = {c.type: c for c in waiting.conditions}["DependenciesReady"]
    assert not condition.status and condition.reason == "WaitingForDependencies"
    assert "db" in condition.message
    assert kget(cluster, "-n", "agent", "configmap", "api") is None
    git.commit("db fixed", {"db/deploy.yaml": deployment("db", "example/db:2")})
    eventually(lambda: kget(cluster, "-n", "agent", "configmap", "api"), "api synced after db")


def test_application_removed_from_git_stops_and_cascades_only_when_asked(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess]
) -> None:
    create_namespace(cluster, "agent")
    git.commit(
        "two apps",
        {
            "apps/kept.yaml": application("kept", git.url, "kept"),
            "apps/gone.yaml": application("gone", git.url, "gone").replace(
                "    healthTimeout: 60s\n", "    healthTimeout: 60s\n    cascadeDelete: true\n"
            ),
            "apps/stays.yaml": application("stays", git.url, "stays"),
            "kept/cm.yaml": CONFIGMAP.format(name="kept", value="1"),
            "gone/cm.yaml": CONFIGMAP.format(name="gone", value="1"),
            "stays/cm.yaml": CONFIGMAP.format(name="stays", value="1"),
        },
    )
    agent = agent_factory(git.url)
    agent.start()
    eventually(lambda: kget(cluster, "-n", "agent", "configmap", "kept"), "kept synced")
    eventually(lambda: kget(cluster, "-n", "agent", "configmap", "gone"), "gone synced")
    git.commit("remove both Applications", {"apps/kept.yaml": None, "apps/gone.yaml": None})
    eventually(lambda: agent.status("kept") is None, "kept no longer reconciled")
    eventually(lambda: kget(cluster, "-n", "agent", "configmap", "gone") is None, "cascade")
    assert agent.status("stays") is not None
    # Without cascadeDelete the objects stay, and drift on them is no longer corrected.
    kubectl(
        cluster,
        "-n",
        "agent",
        "patch",
        "configmap",
        "kept",
        "--type=merge",
        "-p",
        '{"data":{"value":"by-hand"}}',
    )
    time.sleep(2)
    assert kget(cluster, "-n", "agent", "configmap", "kept")["data"]["value"] == "by-hand"
