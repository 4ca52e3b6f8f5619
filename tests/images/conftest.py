"""Fixtures of the image tests: a real registry (see ``tests.images.registry``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images import registry as registry_server

needs_registry = pytest.mark.skipif(
    not registry_server.available(),
    reason=f"{registry_server.BINARY} is absent (Debian package docker-registry)",
)


@pytest.fixture
def open_registry(tmp_path: Path) -> Iterator[registry_server.Registry]:
    if not registry_server.available():
        pytest.skip(f"{registry_server.BINARY} is absent (Debian package docker-registry)")
    with registry_server.running(tmp_path, "open") as server:
        yield server
