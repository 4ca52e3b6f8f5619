"""The README's first command: ``gitward demo`` runs every step and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_every_step(tmp_path: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gitward", "demo", "--dir", str(tmp_path / "demo")],
        env=env | {"COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "runs no containers" in out
    assert "took over fields from kubectl" in out  # drift corrected
    assert "Pruned" in out
    assert "web-staging image after the revert: ghcr.io/example/web:1.1.0" in out
    assert "demo finished: every step behaved as expected" in out
    assert (tmp_path / "demo" / "demo.kubeconfig").exists()
