"""Issue 19 acceptance: a host target reconciled by a real ``gitward serve``.

Real git repositories, temporary roots on the real filesystem, the agent as
a subprocess (beside a Kubernetes target on the API test server, so one
agent serves both kinds), read back through files, its store and its API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitward.model import operations
from tests.e2e.test_agent import AgentProcess, agent_factory, eventually
from tests.fixtures import Git, create_namespace, kget

pytestmark = pytest.mark.slow
__all__ = ["agent_factory"]  # the fixture, shared with the agent tests


def host_application(name: str, url: str, path: str, *, self_heal: bool = True) -> str:
    return f"""\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: {path}}}
  destination: {{target: edge}}
  syncPolicy:
    automated: {{prune: true, selfHeal: {str(self_heal).lower()}}}
    retry: {{limit: 2, backoff: {{duration: 1s, factor: 2, maxDuration: 2s}}}}
"""


def kube_application(name: str, url: str, path: str) -> str:
    return f"""\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: {path}}}
  destination: {{target: test, namespace: agent}}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
"""


def host_file(
    name: str, path: Path | str, *, content: str = "", from_file: str = "", extra: str = ""
) -> str:
    source = f"fromFile: {from_file}" if from_file else f"content: {json.dumps(content)}"
    return f"""\
---
apiVersion: host.gitward.dev/v1
kind: File
metadata: {{name: {name}}}
spec: {{path: "{path}", {source}{extra}}}
"""


def with_host_target(agent: AgentProcess, roots: list[Path]) -> AgentProcess:
    listed = ", ".join(f'"{r}"' for r in roots)
    config = agent.config.read_text().replace(
        "targets:\n",
        f"targets:\n  edge: {{type: host, roots: [{listed}], allowCommands: true, "
        "rescanInterval: 1s}\n",
        1,
    )
    agent.config.write_text(config)
    return agent


@pytest.fixture
def roots(tmp_path: Path) -> list[Path]:
    made = [tmp_path / "host" / "etc" / "myapp", tmp_path / "host" / "srv" / "www"]
    for root in made:
        root.mkdir(parents=True)
    return made


def text(path: Path) -> str:
    """The file's text; '' while it does not exist."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def last_operation(agent: AgentProcess, app: str) -> Any:
    """The Application's latest operation once it has finished (its results
    are recorded then: the PostSync hook runs just before)."""
    ops = agent.operations(app)
    if not ops or ops[0].operation.phase is operations.OperationPhase.RUNNING:
        return None
    return ops[0].operation


def test_files_and_a_command_sync_drift_is_healed_or_reported_and_prune_is_careful(
    git: Git,
    cluster: Any,
    roots: list[Path],
    tmp_path: Path,
    agent_factory: Callable[..., AgentProcess],
) -> None:
    etc, www = roots
    marker, announced = tmp_path / "reloads", tmp_path / "announced"
    create_namespace(cluster, "agent")
    reload = f"""\
---
apiVersion: host.gitward.dev/v1
kind: Command
metadata: {{name: reload-nginx}}
spec:
  command: [sh, -c, 'echo reloading nginx; echo reload >> "{marker}"']
  timeout: 10s
---
apiVersion: host.gitward.dev/v1
kind: Command
metadata:
  name: announce
  annotations: {{gitward.dev/hook: PostSync, gitward.dev/sync-wave: "2"}}
spec: {{command: [sh, -c, 'echo synced >> "{announced}"']}}
"""
    git.commit(
        "a host next to a cluster",
        {
            "apps/edge.yaml": host_application("edge", git.url, "edge"),
            "apps/audit.yaml": host_application("audit", git.url, "audit", self_heal=False),
            "apps/web.yaml": kube_application("web", git.url, "web"),
            "web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n",
            "edge/host.yaml": reload
            + host_file(
                "nginx",
                etc / "nginx.conf",
                from_file="files/nginx.conf",
                extra=", mode: '0640', onChange: [reload-nginx]",
            )
            + host_file("index", www / "index.html", content="<h1>v1</h1>\n"),
            "edge/files/nginx.conf": "worker_processes 2;\n",
            "audit/host.yaml": host_file("audit-conf", etc / "audit.conf", content="level=info\n"),
        },
    )
    agent = with_host_target(agent_factory(git.url), roots)
    agent.start()
    eventually(lambda: text(www / "index.html") == "<h1>v1</h1>\n", "first host sync")
    eventually(
        lambda: kget(cluster, "-n", "agent", "configmap", "web"), "the cluster app beside it"
    )
    assert text(etc / "nginx.conf") == "worker_processes 2;\n"
    assert oct((etc / "nginx.conf").stat().st_mode & 0o777) == "0o640"
    assert text(marker) == "reload\n"
    eventually(lambda: text(announced).startswith("synced\n"), "the PostSync hook ran")
    op = eventually(lambda: last_operation(agent, "edge"), "edge's operation")
    said = " ".join(r.message for r in op.results)
    assert "onChange reload-nginx exited 0" in said and "reloading nginx" in said
    eventually(lambda: agent.status("edge").sync.value == "Synced", "edge Synced")

    # A commit changes the file: applied, and the Command runs again.
    git.commit("nginx 4", {"edge/files/nginx.conf": "worker_processes 4;\n"})
    eventually(lambda: text(etc / "nginx.conf") == "worker_processes 4;\n", "commit")
    eventually(lambda: text(marker) == "reload\nreload\n", "the command ran again")

    # selfHeal: a hand edit is taken back within a second.
    time.sleep(0.5)
    (www / "index.html").write_text("defaced\n")
    edited = time.monotonic()
    eventually(lambda: text(www / "index.html") == "<h1>v1</h1>\n", "healed", 10)
    healed_after = time.monotonic() - edited
    assert healed_after < 1.0, f"hand edit taken back after {healed_after:.2f}s"
    reasons = [e.reason for e in agent.events("edge")]
    assert "DriftDetected" in reasons and "DriftCorrected" in reasons

    # Audit (no selfHeal): reported as drift, the file left as edited.
    (etc / "audit.conf").write_text("level=debug\n")
    edited = time.monotonic()
    status = eventually(
        lambda: (s := agent.status("audit")) and s.sync.value == "OutOfSync" and s, "reported", 10
    )
    reported_after = time.monotonic() - edited
    assert reported_after < 1.0, f"hand edit reported after {reported_after:.2f}s"
    assert status.drift_since is not None
    drift = [e for e in agent.events("audit") if e.reason == "DriftDetected"]
    assert drift and "/spec/content" in drift[0].message
    assert text(etc / "audit.conf") == "level=debug\n"
    # `gitward diff` shows it as a unified diff of the text: live (-) against Git (+).
    (tmp_path / "audit-app.yaml").write_text(host_application("audit", git.url, "audit"))
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "gitward",
            "diff",
            "--config",
            str(agent.config),
            str(tmp_path / "audit-app.yaml"),
        ],
        env=agent.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 1, shown.stderr
    assert "~ update File.host.gitward.dev audit-conf" in shown.stdout
    assert "    ~ /spec/content:\n" in shown.stdout
    assert "        -level=debug\n        +level=info\n" in shown.stdout, shown.stdout

    # Prune: a file that left Git goes; a file gitward never created stays.
    (www / "mine.txt").write_text("not gitward's\n")
    git.commit(
        "drop index",
        {
            "edge/host.yaml": reload
            + host_file(
                "nginx",
                etc / "nginx.conf",
                from_file="files/nginx.conf",
                extra=", mode: '0640', onChange: [reload-nginx]",
            )
        },
    )
    eventually(lambda: not (www / "index.html").exists(), "pruned")
    assert text(www / "mine.txt") == "not gitward's\n"
    assert (etc / "nginx.conf").exists()


def test_paths_and_symlinks_leaving_the_roots_are_refused_by_name(
    git: Git,
    cluster: Any,
    roots: list[Path],
    tmp_path: Path,
    agent_factory: Callable[..., AgentProcess],
) -> None:
    www = roots[1]
    outside = tmp_path / "outside"
    outside.mkdir()
    (www / "escape").symlink_to(outside)
    git.commit(
        "escapes",
        {
            "apps/path.yaml": host_application("path", git.url, "path"),
            "apps/link.yaml": host_application("link", git.url, "link"),
            "apps/parent.yaml": host_application("parent", git.url, "parent"),
            "path/host.yaml": host_file(
                "passwd", tmp_path / "host" / "etc" / "passwd", content="x"
            ),
            "link/host.yaml": f"""\
apiVersion: host.gitward.dev/v1
kind: Symlink
metadata: {{name: shadow}}
spec: {{path: "{www}/shadow", target: ../../../../../../../../etc/shadow}}
""",
            "parent/host.yaml": host_file("owned", www / "escape" / "owned", content="x"),
        },
    )
    agent = with_host_target(agent_factory(git.url), roots)
    agent.start()

    def failed(app: str) -> str:
        status = agent.status(app)
        condition = {c.type: c for c in status.conditions}["Reconciled"]
        assert condition.reason == "ApplyFailed"
        return str(condition.message)

    said = eventually(lambda: failed("path"), "path refused", 60)
    assert f"'{tmp_path}/host/etc/passwd' is outside the target's roots" in said
    said = eventually(lambda: failed("link"), "symlink refused", 60)
    assert "Symlink.host.gitward.dev shadow" in said and "symlink target" in said
    said = eventually(lambda: failed("parent"), "symlinked parent refused", 60)
    assert f"{www}/escape is a symlink" in said and "outside the target's roots" in said
    assert not (tmp_path / "host" / "etc" / "passwd").exists()
    assert not (www / "shadow").exists()
    assert list(outside.iterdir()) == []


def test_sigkill_during_apply_leaves_every_file_old_or_new(
    git: Git,
    cluster: Any,
    roots: list[Path],
    agent_factory: Callable[..., AgentProcess],
) -> None:
    www = roots[1]
    count, size = 80, 128 * 1024

    def content(version: str, index: int) -> str:
        line = f"{version} file {index:03d} ".ljust(63, ".") + "\n"
        return line * (size // 64)

    def commit(version: str) -> None:
        files: dict[str, str | None] = {
            f"big/files/f{i:03d}.txt": content(version, i) for i in range(count)
        }
        files["big/host.yaml"] = "".join(
            host_file(f"f{i:03d}", www / f"f{i:03d}.txt", from_file=f"files/f{i:03d}.txt")
            for i in range(count)
        )
        git.commit(version, files)

    git.commit("app", {"apps/big.yaml": host_application("big", git.url, "big")})
    commit("old")
    agent = with_host_target(agent_factory(git.url), roots)
    agent.start()
    paths = [www / f"f{i:03d}.txt" for i in range(count)]
    olds = [content("old", i) for i in range(count)]
    news = [content("new", i) for i in range(count)]
    eventually(
        lambda: all(p.exists() and text(p) == o for p, o in zip(paths, olds, strict=True)),
        "old files",
        60,
    )

    commit("new")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(text(p) == n for p, n in zip(paths, news, strict=True)):
            break
        time.sleep(0.002)
    agent.kill()  # SIGKILL to the agent's whole process group, mid-apply

    states = []
    for path, old, new in zip(paths, olds, news, strict=True):
        found = path.read_text()
        assert found in (old, new), f"{path.name} is neither old nor new ({len(found)} bytes)"
        states.append(found == new)
    assert any(states), "the kill came before any file was written"

    # Restarted, the agent finishes the job and leaves no temporary file behind.
    agent.start()
    eventually(lambda: all(text(p) == n for p, n in zip(paths, news, strict=True)), "new files", 60)
    assert [n for n in os.listdir(www) if n.startswith(".")] == []
