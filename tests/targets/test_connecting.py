"""Connecting: kubeconfig policy (exec plugins refused), unreachable servers."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gitward import errors
from gitward.model import resources
from gitward.targets.kubernetes import KubernetesTarget


def _write(path: Path, server: str, user: dict[str, object]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "ci-user", "user": user}],
                "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "ci-user"}}],
                "current-context": "ctx",
            }
        )
    )
    return path


EXEC_USER: dict[str, object] = {
    "exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "/bin/sh",
        "args": ["-c", "echo pwned > /tmp/x"],
    }
}


@pytest.mark.parametrize(
    ("user", "words"),
    [
        (EXEC_USER, ["exec credential plugin", "/bin/sh", "ci-user", "allowExec"]),
        ({"auth-provider": {"name": "gcp"}}, ["auth-provider", "ci-user"]),
    ],
)
def test_credential_plugins_are_refused(
    tmp_path: Path, user: dict[str, object], words: list[str]
) -> None:
    path = _write(tmp_path / "kubeconfig", "https://127.0.0.1:1", user)
    with pytest.raises(errors.ConfigError) as caught:
        KubernetesTarget.connect("t", kubeconfig=path)
    for word in [str(path), *words]:
        assert word in str(caught.value)


async def test_exec_plugin_allowed_when_asked(tmp_path: Path) -> None:
    path = _write(tmp_path / "kubeconfig", "https://127.0.0.1:1", EXEC_USER)
    target = KubernetesTarget.connect("t", kubeconfig=path, allow_exec=True)
    await target.close()


@pytest.mark.parametrize(
    ("setup", "context", "expected"),
    [
        ("missing", None, "not found"),
        ("garbage", None, "unreadable kubeconfig"),
        ("valid", "nope", "Context 'nope' not found"),
    ],
)
def test_bad_kubeconfigs_are_config_errors(
    tmp_path: Path, setup: str, context: str | None, expected: str
) -> None:
    path = tmp_path / "kubeconfig"
    if setup == "garbage":
        path.write_text("clusters: [unclosed\n")
    elif setup == "valid":
        _write(path, "https://127.0.0.1:1", {"token": "s3cr3t-token"})
    with pytest.raises(errors.ConfigError) as caught:
        KubernetesTarget.connect("t", kubeconfig=path, context=context)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)
    assert "s3cr3t-token" not in str(caught.value)


@pytest.fixture
def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("which", ["refused_port", "silent_port"])
async def test_unreachable_server_is_target_unavailable(
    tmp_path: Path, which: str, request: pytest.FixtureRequest
) -> None:
    port = request.getfixturevalue(which)
    url = f"http://127.0.0.1:{port}"
    path = _write(tmp_path / "kubeconfig", url, {"token": "s3cr3t-token"})
    target = KubernetesTarget.connect("t", kubeconfig=path, timeout=0.5)
    key = resources.ResourceKey("", "ConfigMap", "default", "x")
    started = time.monotonic()
    try:
        with pytest.raises(errors.TargetUnavailable) as caught:
            await asyncio.wait_for(target.read([key]), timeout=5)
    finally:
        await target.close()
    assert time.monotonic() - started < 3
    assert url in str(caught.value)
    assert "s3cr3t-token" not in str(caught.value)
