"""Fixtures for the diff tests that plan against a server: the Kubernetes API
test server on loopback and a KubernetesTarget connected to it through a
kubeconfig. Modules using them also use ``isolated_home`` (``pytestmark``), so no
kubeconfig of the machine is read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gitward.targets.kubernetes import KubernetesTarget
from gitward.testing import kubeapi


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)


@pytest.fixture
async def server() -> AsyncIterator[kubeapi.KubeAPIServer]:
    async with kubeapi.KubeAPIServer(port=0, workload_delay=0.05) as running:
        yield running


@pytest.fixture
async def target(server: kubeapi.KubeAPIServer, tmp_path: Path) -> AsyncIterator[KubernetesTarget]:
    path = tmp_path / "kubeconfig"
    server.write_kubeconfig(path)
    connected = KubernetesTarget.connect("test", kubeconfig=path, timeout=5.0)
    try:
        yield connected
    finally:
        await connected.close()
