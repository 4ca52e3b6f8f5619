"""Fixtures for the Kubernetes target tests: the Kubernetes API test server on
loopback and a KubernetesTarget connected to it through a kubeconfig."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gitward.targets.kubernetes import KubernetesTarget
from gitward.testing import kubeapi


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)


@pytest.fixture
async def server() -> AsyncIterator[kubeapi.KubeAPIServer]:
    async with kubeapi.KubeAPIServer(port=0, workload_delay=0.2) as running:
        yield running


@pytest.fixture
def kubeconfig(server: kubeapi.KubeAPIServer, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    server.write_kubeconfig(path)
    return path


@pytest.fixture
async def target(kubeconfig: Path) -> AsyncIterator[KubernetesTarget]:
    connected = KubernetesTarget.connect(
        "test", kubeconfig=kubeconfig, timeout=5.0, min_discovery_interval=0.05
    )
    try:
        yield connected
    finally:
        await connected.close()
