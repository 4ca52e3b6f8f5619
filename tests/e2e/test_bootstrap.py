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
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
