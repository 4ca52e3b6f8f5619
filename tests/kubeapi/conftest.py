"""Fixtures for the Kubernetes API test server's tests: a started server and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gitward.testing import kubeapi


@pytest.fixture
async def server() -> AsyncIterator[kubeapi.KubeAPIServer]:
    async with kubeapi.KubeAPIServer(workload_delay=0.05, progress_deadline=0.3) as srv:
        yield srv


@pytest.fixture
async def client(server: kubeapi.KubeAPIServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
        yield c
