"""Issue 12 acceptance: ``gitward bootstrap`` into a bare repository and the API test server.

No container runs on the test server, so the test starts gitward "the way the
pod would": ``gitward serve`` with the configuration bootstrap put in the
cluster's ConfigMap, reaching the API through the in-cluster path (service
account token, CA and namespace files, KUBERNETES_SERVICE_HOST/PORT); only
the file locations and the listen address are moved to the test's directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gitward.testing import kubeapi
from tests.fixtures import KUBECTL

pytestmark = pytest.mark.slow

TOKEN = "bootstrap-admin-token"
PATH = "clusters/test"
IMAGE = "registry.example.com/gitward:1.2.3"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-settings}\ndata: {a: b}\n"


@pytest.fixture
def secure_cluster(tmp_path: Path) -> Iterator[Any]:
    with kubeapi.running(tls=True, token=TOKEN, workload_delay=0.1) as server:
        server.kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        yield server


def _git(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def bare(tmp_path: Path, env: dict[str, str]) -> Path:
    """An empty bare repository: no commit, no branch."""
    path = tmp_path / "fleet.git"
    _git(env, "init", "-q", "--bare", "-b", "main", str(path))
    return path


def _kubectl(
    cluster: Any, *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
        input=stdin,
        env={"PATH": os.environ["PATH"], "HOME": str(Path(cluster.kubeconfig).parent)},
    )


def _kget(cluster: Any, *args: str) -> Any:
    done = _kubectl(cluster, "get", "-o", "json", *args, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def _gitward(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gitward", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _eventually(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PodAgent:
    """``gitward serve`` configured as the pod would be, from the cluster's ConfigMap."""

    def __init__(self, tmp_path: Path, env: dict[str, str], cluster: Any) -> None:
        config_map = _kget(cluster, "configmap", "gitward-config", "-n", "gitward-system")
        config = yaml.safe_load(config_map["data"]["gitward.yaml"])
        account = tmp_path / "serviceaccount"
        account.mkdir()
        (account / "token").write_text(TOKEN)
        (account / "ca.crt").write_bytes(cluster.ca_pem)
        (account / "namespace").write_text("gitward-system")
        self.port = _free_port()
        # Only where files live and where it listens differ from the pod.
        config["targets"]["in-cluster"]["serviceAccountDir"] = str(account)
        config["store"] = f"sqlite:///{tmp_path / 'state.db'}"
        config["cacheDir"] = str(tmp_path / "agent-cache")
        config["listen"] = f"127.0.0.1:{self.port}"
        config["pollInterval"] = "0.5s"
        self.config = tmp_path / "gitward.yaml"
        self.config.write_text(yaml.safe_dump(config))
        self.env = env | {
            "KUBERNETES_SERVICE_HOST": cluster.host,
            "KUBERNETES_SERVICE_PORT": str(cluster.port),
            "GITWARD_LOG_FORMAT": "json",
        }
        self.log = tmp_path / "agent.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gitward", "serve", "--config", str(self.config)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).is_success
            except httpx.HTTPError:
                return False

        _eventually(ready, "the agent to be ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def _wait_for_line(proc: subprocess.Popen[str], needle: str) -> list[str]:
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never printed:\n{''.join(seen)}")


def _applications_table(cluster: Any) -> dict[str, list[str]]:
    table = _kubectl(cluster, "get", "applications", "-A").stdout.splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "SYNC", "HEALTH", "REVISION", "AGE"]
    return {" ".join(row.split()[:2]): row.split()[2:] for row in table[1:]}


def test_bootstrap_installs_gitward_which_then_manages_itself(
    tmp_path: Path, env: dict[str, str], secure_cluster: Any, bare: Path
) -> None:
    cluster = secure_cluster
    url = bare.as_uri()
    args = (
        "bootstrap", "--repo", url, "--path", PATH, "--kubeconfig", str(cluster.kubeconfig),
        "--image", IMAGE, "--timeout", "120",
    )  # fmt: skip
    proc = _gitward(env, *args)
    agent: PodAgent | None = None
    try:
        _wait_for_line(proc, "pushed")
        # Everything is in place before the pod could start.
        deployment = _kget(cluster, "deploy", "gitward", "-n", "gitward-system")
        pod = deployment["spec"]["template"]["spec"]
        assert pod["containers"][0]["image"] == IMAGE
        assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["serviceAccountName"] == "gitward"
        assert _kget(cluster, "crd", "applications.gitward.dev") is not None
        (tmp_path / "pod").mkdir()
        agent = PodAgent(tmp_path / "pod", env, cluster)
        agent.start()
        code, out, err = _finish(proc)
        assert code == 0, f"{out}\n{err}\n{agent.log.read_text()}"
        assert "Synced at" in out

        commits = _git(env, "log", "--format=%H %s", "main", cwd=bare).splitlines()
        assert len(commits) == 1 and "gitward bootstrap" in commits[0]
        files = _git(env, "ls-tree", "-r", "--name-only", "main", cwd=bare).splitlines()
        assert files == [f"{PATH}/apps/gitward.yaml", f"{PATH}/gitward/install.yaml"]

        rows = _eventually(
            lambda: (
                (t := _applications_table(cluster)).get("gitward-system gitward", [""])[1]
                == "Healthy"
                and t
            ),
            "gitward to report itself Healthy",
        )
        sync, health, revision = rows["gitward-system gitward"][:3]
        assert (sync, health, revision) == ("Synced", "Healthy", commits[0].split()[0])
        deploy_table = _kubectl(cluster, "get", "deploy", "-n", "gitward-system").stdout
        assert "gitward" in deploy_table

        # Run again: nothing to commit, nothing changed.
        code, out, err = _finish(_gitward(env, *args))
        assert code == 0, err
        assert "nothing changed" in out
        assert len(_git(env, "log", "--format=%H", "main", cwd=bare).splitlines()) == 1

        # An upgrade is a commit; an Application applied to the cluster is picked
        # up and reports back.
        work = tmp_path / "work"
        _git(env, "clone", "-q", url, str(work))
        install = work / PATH / "gitward" / "install.yaml"
        install.write_text(install.read_text().replace(IMAGE, IMAGE.replace("1.2.3", "1.2.4")))
        (work / "web").mkdir()
        (work / "web" / "cm.yaml").write_text(CONFIGMAP)
        _git(env, "add", "-A", cwd=work)
        _git(env, "commit", "-qm", "upgrade gitward; web", cwd=work)
        _git(env, "push", "-q", "origin", "HEAD:main", cwd=work)
        _kubectl(cluster, "create", "namespace", "web")
        web = {
            "apiVersion": "gitward.dev/v1",
            "kind": "Application",
            "metadata": {"name": "web", "namespace": "gitward-system"},
            "spec": {
                "source": {"repoURL": url, "ref": "main", "path": "web"},
                "destination": {"target": "in-cluster", "namespace": "web"},
                "syncPolicy": {"automated": {"prune": True}},
            },
        }
        _kubectl(cluster, "apply", "-f", "-", stdin=json.dumps(web))
        _eventually(
            lambda: (
                _applications_table(cluster).get("gitward-system web", [""])[:2]
                == ["Synced", "Healthy"]
            ),
            "the cluster-declared Application to sync",
        )
        assert _kget(cluster, "configmap", "web-settings", "-n", "web") is not None
        _eventually(
            lambda: _kget(cluster, "deploy", "gitward", "-n", "gitward-system")["spec"]["template"][
                "spec"
            ]["containers"][0]["image"].endswith(":1.2.4"),
            "gitward to apply its own upgrade",
        )
    finally:
        if agent is not None:
            agent.stop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    # Uninstall (the pod is gone with its Deployment; here: stopped above).
    done = _finish(
        _gitward(
            env,
            "uninstall",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--repo",
            url,
            "--path",
            PATH,
        )
    )
    assert done[0] == 0, done
    assert _kget(cluster, "deploy", "gitward", "-n", "gitward-system") is None
    assert _kget(cluster, "crd", "applications.gitward.dev") is None
    assert _kget(cluster, "clusterrole", "gitward-gitward-system") is None
    # What the Applications deployed keeps running.
    assert _kget(cluster, "configmap", "web-settings", "-n", "web") is not None
    files = _git(env, "ls-tree", "-r", "--name-only", "main", cwd=bare).splitlines()
    assert files == ["web/cm.yaml"]


def _install_objects(cluster: Any) -> list[str]:
    """What of the install is in the cluster (a namespace being deleted counts as gone)."""
    found = []
    for args in (
        ("crd", "applications.gitward.dev"),
        ("crd", "projects.gitward.dev"),
        ("clusterrole", "gitward-gitward-system"),
        ("deploy", "gitward", "-n", "gitward-system"),
        ("configmap", "gitward-config", "-n", "gitward-system"),
    ):
        if _kget(cluster, *args) is not None:
            found.append(" ".join(args))
    namespace = _kget(cluster, "namespace", "gitward-system")
    if namespace is not None and namespace["status"].get("phase") != "Terminating":
        found.append("namespace gitward-system")
    return found


def _bootstrap_fails(env: dict[str, str], url: str, kubeconfig: Path) -> tuple[int, str]:
    code, out, err = _finish(
        _gitward(
            env,
            *("bootstrap", "--repo", url, "--path", PATH, "--kubeconfig", str(kubeconfig)),
            *("--timeout", "5"),
        )
    )
    assert code != 0, out
    return code, " ".join(err.split())


def test_a_path_holding_other_files_is_refused_before_anything_is_applied(
    tmp_path: Path, env: dict[str, str], secure_cluster: Any, bare: Path
) -> None:
    work = tmp_path / "work"
    _git(env, "clone", "-q", bare.as_uri(), str(work))
    (work / PATH).mkdir(parents=True)
    (work / PATH / "README.md").write_text("the production cluster\n")
    _git(env, "add", "-A", cwd=work)
    _git(env, "commit", "-qm", "readme", cwd=work)
    _git(env, "push", "-q", "origin", "HEAD:main", cwd=work)
    before = _git(env, "rev-parse", "main", cwd=bare)

    code, err = _bootstrap_fails(env, bare.as_uri(), secure_cluster.kubeconfig)
    assert code == 2
    assert f"{PATH} in {bare.as_uri()}" in err and "README.md" in err
    assert _git(env, "rev-parse", "main", cwd=bare) == before
    assert _install_objects(secure_cluster) == []


def test_an_unreachable_cluster_is_named_and_nothing_is_committed(
    tmp_path: Path, env: dict[str, str], bare: Path
) -> None:
    port = _free_port()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    code, err = _bootstrap_fails(env, bare.as_uri(), kubeconfig)
    assert code == 3
    assert f"127.0.0.1:{port}" in err
    assert _git(env, "for-each-ref", cwd=bare) == ""  # still no commit at all


def test_a_refused_push_removes_what_was_applied(
    env: dict[str, str], secure_cluster: Any, bare: Path
) -> None:
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected: pushes need a review' >&2\nexit 1\n")
    hook.chmod(0o755)
    code, err = _bootstrap_fails(env, bare.as_uri(), secure_cluster.kubeconfig)
    assert code == 2
    assert "rejected" in err and bare.as_uri() in err and "protected" in err
    assert "created)" in err  # it had applied, and took it back
    assert _git(env, "for-each-ref", cwd=bare) == ""
    assert _install_objects(secure_cluster) == []
