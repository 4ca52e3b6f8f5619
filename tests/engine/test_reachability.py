"""Per-target connection health: reachable, version, last error, since when; a hanging
cluster delays only its own row."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitward.engine import reachability
from gitward.targets import kubernetes


def _kubeconfig(tmp_path: Path, name: str, server: str) -> Path:
    path = tmp_path / f"{name}.kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    return path


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung API server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_rows_say_reachable_version_error_and_since(
    tmp_path: Path, cluster: Any, closed_port: int, silent_port: int
) -> None:
    configs = {
        "up": cluster.kubeconfig,
        "down": _kubeconfig(tmp_path, "down", f"http://127.0.0.1:{closed_port}"),
        "hung": _kubeconfig(tmp_path, "hung", f"http://127.0.0.1:{silent_port}"),
    }
    connected = {
        name: kubernetes.KubernetesTarget.connect(name, kubeconfig=path, timeout=30)
        for name, path in configs.items()
    }
    changes: list[tuple[str, bool | None]] = []
    monitor = reachability.Monitor(
        [("up", {"env": "prod"}), ("down", {}), ("hung", {})],
        connected.__getitem__,
        timeout=lambda name: 1.0,
        on_change=lambda row: changes.append((row.name, row.reachable)),
    )
    try:
        started = asyncio.get_running_loop().time()
        up, down = await asyncio.gather(monitor.probe("up"), monitor.probe("down"))
        # Neither waited for the hung cluster, probed in its own task below.
        assert asyncio.get_running_loop().time() - started < 1.0
        hung = await monitor.probe("hung")
    finally:
        for target in connected.values():
            await target.close()
    assert up.reachable is True
    assert up.version.startswith("v1.")
    assert up.labels == {"env": "prod"}
    assert down.reachable is False
    assert str(closed_port) in down.last_error
    assert hung.reachable is False
    assert "no answer within 1s" in hung.last_error
    assert sorted(changes) == [("down", False), ("hung", False), ("up", True)]
    assert [row.name for row in monitor.rows()] == ["down", "hung", "up"]


def test_since_changes_only_when_the_state_does() -> None:
    times = iter(datetime(2026, 1, 1, 0, minute, tzinfo=UTC) for minute in range(10))
    monitor = reachability.Monitor(
        [("eu-1", {})], lambda name: None, timeout=lambda n: 1, clock=lambda: next(times)
    )  # type: ignore[arg-type,return-value]
    monitor.succeeded("eu-1")
    monitor.succeeded("eu-1")
    row = monitor.get("eu-1")
    assert row is not None and row.since is not None and row.since.minute == 0
    assert row.checked_at is not None and row.checked_at.minute == 1
    monitor.failed("eu-1", "connection refused")
    monitor.failed("eu-1", "connection refused")
    row = monitor.get("eu-1")
    assert row is not None and row.since is not None and row.since.minute == 2
    assert row.as_dict()["lastError"] == "connection refused"
    monitor.succeeded("eu-1")
    row = monitor.get("eu-1")
    assert row is not None and row.reachable and row.since is not None and row.since.minute == 4
    assert row.last_error == "connection refused"  # the last one, kept for the operator
