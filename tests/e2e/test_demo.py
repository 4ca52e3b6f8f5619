"""The README's first command: ``gitward demo`` runs every step and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_agent import free_port

pytestmark = pytest.mark.slow


def test_demo_runs_every_step(tmp_path: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gitward",
            "demo",
            "--once",
            "--dir",
            str(tmp_path / "demo"),
            "--api-port",
            str(free_port()),
        ],
        env=env | {"COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "runs no containers" in out
    assert "web-staging runs 1.2.0 after" in out
    assert "web-production back to 3 replicas after" in out  # drift corrected
    assert "DriftCorrected" in out
    assert "Service web-staging/api-staging pruned after" in out
    assert "web-staging back on 1.1.0 after" in out
    # The host target beside the cluster: a file from Git, its onChange Command, selfHeal.
    conf = tmp_path / "demo" / "host" / "etc" / "web" / "web.conf"
    assert "web.conf written from Git after" in out
    assert "onChange reload-web exited 0" in out
    assert "web.conf back as Git says after" in out
    assert "workers 8" in conf.read_text()
    assert "demo finished: every step behaved as expected" in out
    assert (tmp_path / "demo" / "demo.kubeconfig").exists()
