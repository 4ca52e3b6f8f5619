"""Signed commits required: an unsigned commit is not applied, the status names
it, and the last verified commit stays applied."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gitward.config import settings as config_settings
from gitward.engine import loop, runtimes, states
from gitward.testing import stores
from tests.engine.test_rollbacks import APP, configmap, eventually, live_value
from tests.fixtures import Git, create_namespace

pytestmark = pytest.mark.slow


@pytest.fixture
def signing_key(tmp_path: Path) -> Path:
    key = tmp_path / "signer"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(key)], check=True
    )
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ci@example.com {(tmp_path / 'signer.pub').read_text().strip()}\n")
    return key


def signed_commit(git: Git, key: Path, message: str, files: dict[str, str | None]) -> str:
    git.write(files)
    git.run("add", "-A")
    git.run(
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key}.pub",
        "commit",
        "-S",
        "-q",
        "-m",
        message,
    )
    git.run("push", "-q", "origin", "HEAD:main")
    return git.run("rev-parse", "HEAD")


@pytest.fixture
async def agent(
    git: Git, cluster: Any, tmp_path: Path, signing_key: Path
) -> AsyncIterator[loop.Agent]:
    create_namespace(cluster, "rb")
    settings = config_settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
            "root": {"repoURL": git.url, "ref": "main", "path": "apps"},
            "cacheDir": str(tmp_path / "cache"),
            "pollInterval": "0.3s",
            "signingKeys": {"ci": {"sshAllowedSignersFile": str(tmp_path / "allowed_signers")}},
        }
    )
    store = stores.MemoryStore()
    await store.open()
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        running = loop.Agent(settings, runtime, store)  # type: ignore[arg-type]
        task = asyncio.create_task(running.run())
        try:
            yield running
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_unsigned_commit_is_refused_and_last_verified_stays(
    git: Git, cluster: Any, agent: loop.Agent, signing_key: Path
) -> None:
    app = APP.format(url=git.url).replace("path: web}", "path: web, verify: {keyRef: ci}}")
    signed_commit(
        git, signing_key, "signed", {"apps/web.yaml": app, "web/cm.yaml": configmap("signed")}
    )
    await eventually(lambda: live_value(cluster) == "signed", "signed commit applied")
    unsigned = git.commit("unsigned", {"web/cm.yaml": configmap("unsigned")})

    def refused() -> bool:
        condition = agent.apps["web"].conditions.get(states.SOURCE_VERIFIED)
        return condition is not None and not condition.status

    await eventually(refused, "unsigned commit refused")
    condition = agent.apps["web"].conditions[states.SOURCE_VERIFIED]
    assert condition.reason == "SignatureFailed"
    assert unsigned[:12] in condition.message or unsigned in condition.message
    await asyncio.sleep(1)
    assert live_value(cluster) == "signed"
    signed_commit(git, signing_key, "signed again", {"web/cm.yaml": configmap("signed-2")})
    await eventually(lambda: live_value(cluster) == "signed-2", "next signed commit applied")
    assert agent.apps["web"].conditions[states.SOURCE_VERIFIED].status
