"""Issue 15, done when: ``gitward serve`` with a webhook provider pointed at a local
receiver sends a signed POST within a second of a sync; a receiver following the
GitHub API shape sees the commit status go pending -> success; and neither
secret appears in the agent's log, the API, the CLI or the UI."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gitward.testing import receivers
from tests.e2e.test_agent import AgentProcess, agent_factory, application, eventually
from tests.fixtures import Git, create_namespace
from tests.manifests import configmap, deployment

pytestmark = pytest.mark.slow
__all__ = ["agent_factory"]

HOOK_SECRET = "canary-hook-5b1f-never-print-me"
FORGE_TOKEN = "canary-forge-9e22-never-print-me"


def test_serve_sends_signed_webhooks_and_commit_statuses(
    git: Git, cluster: Any, agent_factory: Callable[..., AgentProcess]
) -> None:
    create_namespace(cluster, "agent")
    with receivers.Receiver() as hook, receivers.Receiver(answers=[201] * 20) as forge:
        sha = git.commit(
            "web",
            {
                "apps/web.yaml": application("web-shop", git.url, "web"),
                "web/cm.yaml": configmap("web-settings", "blue"),
                "web/deploy.yaml": deployment("web", "example/web:1"),
            },
        )
        agent = agent_factory(
            git.url,
            extra_config=(
                "notifications:\n"
                "  providers:\n"
                f'    hook: {{type: webhook, url: "{hook.url}/gitward",'
                " secretEnv: NOTIFY_SECRET}\n"
                f'    prs: {{type: github, url: "{forge.url}", tokenEnv: GITHUB_TOKEN}}\n'
                "  alerts:\n"
                '    - {provider: hook, events: ["*"], applications: ["*"]}\n'
                "    - {provider: prs, events: [SyncStarted, Deployed, SyncFailed,"
                ' HealthDegraded], applications: ["web-*"]}\n'
            ),
        )
        agent.env = agent.env | {"NOTIFY_SECRET": HOOK_SECRET, "GITHUB_TOKEN": FORGE_TOKEN}
        agent.start()

        # The commit status: pending when the sync starts, success once healthy.
        statuses = eventually(
            lambda: (
                [r for r in forge.requests if r.json()["state"] == "success"] and forge.requests
            ),
            "commit status success",
        )
        states = [r.json()["state"] for r in statuses]
        assert states[0] == "pending" and states[-1] == "success", states
        assert states.index("success") > states.index("pending")
        for request in statuses:
            assert request.path.endswith(f"/statuses/{sha}")
            assert request.path.startswith("/repos/")
            assert request.json()["context"] == "gitward/web-shop"
            assert request.header("Authorization") == f"Bearer {FORGE_TOKEN}"

        # The webhook: every event, signed; the sync's within a second of it.
        events = {e.reason: e for e in agent.events("web-shop")}
        assert "SyncSucceeded" in events
        posts = eventually(
            lambda: [r for r in hook.requests if r.json()["event"]["reason"] == "SyncSucceeded"],
            "webhook for SyncSucceeded",
        )
        for request in hook.requests:
            expected = hmac.new(HOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
            assert request.header("X-Gitward-Signature") == f"sha256={expected}"
        lag = posts[0].received - events["SyncSucceeded"].time
        assert lag < timedelta(seconds=1), lag
        body = posts[0].json()
        assert body["application"]["name"] == "web-shop"
        assert body["event"]["revision"] == sha
        reasons = [r.json()["event"]["reason"] for r in hook.requests]
        assert reasons.index("SyncStarted") < reasons.index("SyncSucceeded")

        # The delivery log, through the API, the CLI and the UI: no secret anywhere.
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "gitward",
                "token",
                "create",
                "ops",
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
        seen: list[str] = []
        with httpx.Client(
            base_url=agent.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as api:
            log = eventually(
                lambda: [
                    d
                    for d in api.get("/api/v1/notifications/deliveries").json()["items"]
                    if d["state"] == "sent"
                ],
                "deliveries logged",
            )
            assert {d["provider"] for d in log} == {"hook", "prs"}
            for path in ("/api/v1/notifications/deliveries", "/api/v1/events", "/metrics"):
                answer = api.get(path)
                assert answer.status_code == 200
                seen.append(answer.text)
            assert 'gitward_notifications_total{outcome="sent",provider="hook"}' in seen[-1]
            assert 'gitward_delivery_deployments{app="web-shop"}' in seen[-1]
            figures = api.get("/api/v1/delivery", params={"app": "web-shop", "since": "1d"}).json()
            assert figures["deploymentFrequency"]["deployments"] == 1
            assert figures["leadTimeForChanges"]["commits"] == 1
            assert figures["changeFailureRate"]["rate"] == 0.0
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "gitward",
                "notifications",
                "log",
                "--server",
                agent.url,
                "--token",
                token,
                "-o",
                "json",
            ],
            env=agent.env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert {d["provider"] for d in json.loads(cli.stdout)} == {"hook", "prs"}
        seen += [cli.stdout, cli.stderr]
        table = subprocess.run(
            [
                sys.executable,
                "-m",
                "gitward",
                "notifications",
                "log",
                "--server",
                agent.url,
                "--token",
                token,
                "--provider",
                "prs",
            ],
            env=agent.env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "Deployed" in table.stdout and "sent" in table.stdout
        assert "hook" not in table.stdout
        seen += [table.stdout, table.stderr]
        with httpx.Client(base_url=agent.url, timeout=10, follow_redirects=True) as ui:
            ui.post("/login", data={"token": token, "next": "/"}, headers={"Origin": agent.url})
            page = ui.get("/notifications")
            assert page.status_code == 200 and "SyncSucceeded" in page.text
            seen.append(page.text)
            seen.append(ui.get("/delivery").text)
        agent.stop()
        seen.append(agent.log.read_text())
    for text in seen:
        assert HOOK_SECRET not in text and FORGE_TOKEN not in text
