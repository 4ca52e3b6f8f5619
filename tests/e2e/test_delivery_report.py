"""``gitward report delivery`` over a scripted history: real commits with known
times (a plain ``git revert`` and a rollback revert among them), operations and
events in a real SQLite store; the figures must equal the hand computation
in ``tests/engine/delivery/scenario.py``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.engine.delivery import scenario
from tests.fixtures import Git

APP = """\
apiVersion: gitward.dev/v1
kind: Application
metadata: {name: web, project: shop}
spec:
  source: {repoURL: REPO, ref: main, path: web}
  destination: {target: prod, namespace: web}
"""


def _commit(git: Git, commit: scenario.ScriptedCommit, shas: dict[str, str]) -> str:
    stamp = commit.time.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    env = git.env | {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}

    def run(*args: str) -> None:
        subprocess.run(["git", *args], cwd=git.work, env=env, check=True, capture_output=True)

    if commit.revert_of:
        run("revert", "--no-edit", shas[commit.revert_of])
    elif commit.rollback_of:
        run("revert", "--no-commit", shas[commit.rollback_of])
        run("commit", "-q", "-m", f"Roll back web: revert {shas[commit.rollback_of][:12]}")
    else:
        git.write({f"web/{commit.name}.yaml": f"name: {commit.name}\n"})
        run("add", "-A")
        run("commit", "-q", "-m", f"change {commit.name}")
    run("push", "-q", "origin", "HEAD:main")
    return git.run("rev-parse", "HEAD")


@pytest.mark.slow
def test_report_delivery_matches_the_hand_computation(
    git: Git, env: dict[str, str], tmp_path: Path
) -> None:
    shas: dict[str, str] = {}
    git.commit("applications", {"apps/web.yaml": APP.replace("REPO", git.url)})
    for commit in scenario.COMMITS:
        shas[commit.name] = _commit(git, commit, shas)
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    asyncio.run(scenario.record(store_url, shas))
    config = tmp_path / "gitward.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "targets": {"prod": {"kubeconfig": str(tmp_path / "none")}},
                "root": {"repoURL": git.url, "ref": "main", "path": "apps"},
                "store": store_url,
                "cacheDir": str(tmp_path / "cache"),
                "deliveryMetrics": {"failureWindow": "1h"},
            }
        )
    )
    run_env = env | {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}

    def gitward(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gitward", "report", "delivery", "--config", str(config), *args],
            env=run_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = gitward("--since", "10d", "--until", scenario.UNTIL.isoformat(), "-o", "json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["since"] == scenario.T0.isoformat()
    for field, expected in scenario.EXPECTED.items():
        assert report[field] == expected, field
    assert report["scope"] == {"app": None, "project": None, "target": None}
    (web,) = report["applications"]
    assert web["name"] == "web"

    text = gitward(
        "--project", "shop", "--target", "prod", "--since", "10d", "--until", "2026-11-11"
    )
    assert text.returncode == 0, text.stderr
    assert "Deployment frequency   8 deployments" in text.stdout
    assert "project shop, target prod" in text.stdout
    assert "37.5% (3 of 8 deployments)" in text.stdout

    other = gitward("--app", "nope", "-o", "json")
    assert other.returncode == 2 and "'nope' is not known" in other.stderr
