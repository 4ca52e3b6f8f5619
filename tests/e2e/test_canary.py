"""Issue 7 canary: a secret value planted in Git (SOPS-encrypted) reaches the
cluster, and appears in no log line, event, API answer, stream or UI page."""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyrage
import pytest

from tests.e2e.test_agent import AgentProcess, agent_factory, application, eventually
from tests.e2e.test_secrets import encrypt
from tests.fixtures import Git, create_namespace, kget, kubectl

pytestmark = pytest.mark.slow
__all__ = ["agent_factory"]  # the fixture, shared with test_agent

CANARY = "canary-0d5e8b47-never-print-me"
DRIFTED = "drifted-19c4-never-print-me"


def test_secret_value_is_never_shown_anywhere(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    identity = pyrage.x25519.Identity.generate()
    keys = tmp_path / "age.txt"
    keys.write_text(f"{identity}\n")
    secret = encrypt(
        tmp_path,
        str(identity.to_public()),
        (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n"
            f"stringData:\n  token: {CANARY}\n"
        ),
    )
    create_namespace(cluster, "agent")
    app = application("vault", git.url, "vault").replace(
        "  destination:", "  decryption: {keyRef: team}\n  destination:"
    )
    git.commit("secret app", {"apps/vault.yaml": app, "vault/secret.yaml": secret})
    agent = agent_factory(
        git.url, extra_config=f"decryptionKeys:\n  team: {{ageKeyFile: {keys}}}\n"
    )
    agent.env = agent.env | {"GITWARD_LOG_LEVEL": "debug"}
    agent.start()
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "gitward",
            "token",
            "create",
            "canary",
            "--role",
            "admin",
            "--project",
            "*",
            "--config",
            str(agent.config),
        ],
        env=agent.env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip()
    eventually(lambda: kget(cluster, "-n", "agent", "secret", "creds"), "secret applied")
    live = kget(cluster, "-n", "agent", "secret", "creds")
    assert base64.b64decode(live["data"]["token"]).decode() == CANARY

    # Drift on the Secret: detected, reported and corrected (events carry field names).
    kubectl(
        cluster,
        "-n",
        "agent",
        "patch",
        "secret",
        "creds",
        "--type=merge",
        "-p",
        f'{{"stringData":{{"token":"{DRIFTED}"}}}}',
    )
    eventually(
        lambda: (
            base64.b64decode(
                kget(cluster, "-n", "agent", "secret", "creds")["data"]["token"]
            ).decode()
            == CANARY
        ),
        "drift corrected",
    )
    eventually(lambda: "DriftCorrected" in {e.reason for e in agent.events("vault")}, "drift event")

    seen: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=agent.url, headers=headers, timeout=10) as api:
        for path in (
            "/api/v1/applications",
            "/api/v1/applications/vault",
            "/api/v1/applications/vault/diff",
            "/api/v1/applications/vault/operations",
            "/api/v1/applications/vault/events",
            "/api/v1/events",
            "/metrics",
            "/api/v1/openapi.json",
        ):
            answer = api.get(path)
            assert answer.status_code == 200, (path, answer.text)
            seen.append(answer.text)
        dry = api.post("/api/v1/applications/vault/sync", json={"dryRun": True})
        seen.append(dry.text)
        # The stream from the start of the event log, read until it goes quiet.
        chunks: list[str] = []
        with (
            contextlib.suppress(httpx.ReadTimeout),
            api.stream(
                "GET", "/api/v1/stream?after=0", timeout=httpx.Timeout(10, read=2)
            ) as stream,
        ):
            for chunk in stream.iter_text():
                chunks.append(chunk)
        seen.append("".join(chunks))
        assert "DriftCorrected" in seen[-1]
    with httpx.Client(base_url=agent.url, timeout=10, follow_redirects=True) as ui:
        login = ui.post("/login", data={"token": token, "next": "/"}, headers={"Origin": agent.url})
        assert login.status_code == 200, login.text
        for path in ("/", "/apps/vault", "/apps/vault/diff"):
            page = ui.get(path)
            assert page.status_code == 200, (path, page.text[:500])
            seen.append(page.text)
    seen.append(agent.log.read_text())
    seen.extend(f"{e.reason} {e.message}" for e in agent.events("vault"))
    seen.append(created.stderr)

    encoded = [
        CANARY,
        DRIFTED,
        base64.b64encode(CANARY.encode()).decode(),
        base64.b64encode(DRIFTED.encode()).decode(),
    ]
    for text in seen:
        for value in encoded:
            assert value not in text
    assert any("DriftCorrected" in text for text in seen)
    assert any("/data/token" in text or "creds" in text for text in seen)
