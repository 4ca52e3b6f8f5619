"""The background-thread runner, kubeconfigs and the ``gitward testing kube-api`` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from gitward.testing import kubeapi

from .objects import CM_PATH, configmap


def test_running_serves_sync_clients(tmp_path: Path) -> None:
    with kubeapi.running(token="tok") as server:
        path = server.write_kubeconfig(tmp_path / "kc", context="ctx", namespace="team")
        config = yaml.safe_load(path.read_text())
        assert config["current-context"] == "ctx"
        assert config["clusters"][0]["cluster"]["server"] == server.url
        assert config["users"][0]["user"] == {"token": "tok"}
        assert config["contexts"][0]["context"]["namespace"] == "team"
        assert path.stat().st_mode & 0o777 == 0o600
        headers = {"Authorization": "Bearer tok"}
        with httpx.Client(base_url=server.url, headers=headers) as client:
            assert client.post(CM_PATH, json=configmap("a")).status_code == 201
            assert client.get(f"{CM_PATH}/a").json()["data"] == {"key": "value"}
        url = server.url
    with pytest.raises(httpx.ConnectError), httpx.Client() as client:
        client.get(f"{url}/version")


async def test_port_in_use_is_a_named_error() -> None:
    async with kubeapi.KubeAPIServer() as first:
        with pytest.raises(kubeapi.ServerStartError, match=str(first.port)):
            await kubeapi.KubeAPIServer(port=first.port).start()


async def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = kubeapi.KubeAPIServer().url


@pytest.mark.slow
def test_cli_command(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    code = "from gitward.cli.testing_commands import app; app()"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "kube-api",
            "--port",
            "0",
            "--kubeconfig-out",
            str(kubeconfig),
            "--token",
            "cli-token",
            "--workload-delay",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        deadline = time.monotonic() + 20
        while not kubeconfig.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert kubeconfig.exists()
        config = yaml.safe_load(kubeconfig.read_text())
        url = config["clusters"][0]["cluster"]["server"]
        response = httpx.get(
            f"{url}/api/v1/namespaces", headers={"Authorization": "Bearer cli-token"}
        )
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "no containers run" in out
    assert "stopped" in out


def test_cli_help_says_no_containers_run() -> None:
    code = "from gitward.cli.testing_commands import app; app()"
    result = subprocess.run(
        [sys.executable, "-c", code, "kube-api", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=True,
    )
    assert "NO CONTAINERS RUN" in result.stdout
