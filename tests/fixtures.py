"""Shared fixtures: real git repositories, the Kubernetes API test server, and the
``gitward`` command run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitward.testing import kubeapi

KUBECTL = str(Path(sys.executable).parent / "kubectl")


class Git:
    """A working clone whose commits the tests push to a bare "remote"."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.remote = root / "remote.git"
        self.work = root / "work"
        self.env = env
        self.run("init", "--bare", "-b", "main", str(self.remote), cwd=root)
        self.run("clone", "-q", str(self.remote), str(self.work), cwd=root)

    @property
    def url(self) -> str:
        return self.remote.as_uri()

    def run(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd or self.work,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def write(self, files: dict[str, str | None]) -> None:
        for rel, text in files.items():
            path = self.work / rel
            if text is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def commit(self, message: str, files: dict[str, str | None]) -> str:
        self.write(files)
        self.run("add", "-A")
        self.run("commit", "-q", "-m", message)
        self.run("push", "-q", "origin", "HEAD:main")
        return self.run("rev-parse", "HEAD")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "Ada Author",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Author",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"),
        # A worktree's tests run its own src/ in the gitward processes they start.
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
    }


@pytest.fixture
def git(tmp_path: Path, env: dict[str, str]) -> Git:
    return Git(tmp_path, env)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Any]:
    with kubeapi.running(workload_delay=0.1, progress_deadline=3.0) as server:
        server.kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        yield server


class Gitward:
    """Runs ``python -m gitward`` as a real process."""

    def __init__(self, env: dict[str, str], kubeconfig: Path, cwd: Path) -> None:
        self.env, self.kubeconfig, self.cwd = env, kubeconfig, cwd

    def __call__(
        self, *args: str, expect: int | None = 0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "gitward", *args],
            env=self.env | (env or {}),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if expect is not None:
            assert done.returncode == expect, (
                f"gitward {' '.join(args)} exited {done.returncode}, expected {expect}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def json(self, *args: str, expect: int | None = 0) -> Any:
        return json.loads(self(*args, "-o", "json", expect=expect).stdout)


@pytest.fixture
def gitward(env: dict[str, str], cluster: Any, tmp_path: Path) -> Gitward:
    return Gitward(env | {"KUBECONFIG": str(cluster.kubeconfig)}, cluster.kubeconfig, tmp_path)


def kubectl(
    cluster: Any, *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
        input=stdin,
        env={"PATH": os.environ["PATH"], "HOME": str(Path(cluster.kubeconfig).parent / "home")},
    )


def kget(cluster: Any, *args: str) -> Any:
    done = kubectl(cluster, "get", "-o", "json", *args, check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)


def create_namespace(cluster: Any, name: str) -> None:
    """A namespace made by a person with kubectl (not managed by gitward)."""
    kubectl(
        cluster,
        "apply",
        "-f",
        "-",
        stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n",
    )
