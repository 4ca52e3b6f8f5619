"""Fixtures of the CI-seam tests: the end-to-end ones (git, cluster, CLI) plus a registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import Git
from tests.images import registry as registry_server

KUSTOMIZATION = """\
resources:
  - deployment.yaml
images:
  - name: {image}   # bumped by CI
    newTag: {tag}
"""


def application(name: str, url: str, path: str, namespace: str, extra: str = "") -> str:
    return f"""\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: {path}}}
  destination: {{target: test, namespace: {namespace}}}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
    healthTimeout: 60s
{extra}"""


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[registry_server.Registry]:
    if not registry_server.available():
        pytest.skip(f"{registry_server.BINARY} is absent (Debian package docker-registry)")
    with registry_server.running(tmp_path, "open") as server:
        yield server


def log(git: Git, *args: str) -> list[str]:
    """Subjects of the remote's main branch, newest first."""
    out = git.run("--git-dir", str(git.remote), "log", "--format=%s", "main", *args)
    return out.splitlines()


def show(git: Git, path: str, ref: str = "main") -> str:
    """The file at ``ref`` of the remote (trailing newline stripped)."""
    return git.run("--git-dir", str(git.remote), "show", f"{ref}:{path}")
