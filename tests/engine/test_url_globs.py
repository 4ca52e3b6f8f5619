"""Issue 11 (6a): URL globs written as docs/configuration.md shows them match.

Webhook payloads name their repository by a scheme-less key; the glob
``https://git.example.com/org/*`` once never matched it, so every push got 403
and sync silently fell back to polling.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from gitward.config import settings as config_settings
from gitward.engine import runtimes, webhooks
from gitward.source import webhooks as source_webhooks

DOCUMENTED = "https://git.example.com/org/*"


class Pushes:
    """The agent's side of a webhook: which Applications a push queued."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    async def push(self, event: Any) -> list[str]:
        self.events.append(event)
        return ["web"]


def payload(clone_url: str) -> bytes:
    return json.dumps(
        {
            "ref": "refs/heads/main",
            "before": "1" * 40,
            "after": "2" * 40,
            "repository": {"clone_url": clone_url, "html_url": clone_url, "full_name": "org/x"},
            "commits": [],
        }
    ).encode()


async def deliver(settings: config_settings.Settings, body: bytes) -> webhooks.Received:
    signature = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    headers = {
        "x-github-event": "push",
        "content-type": "application/json",
        "x-hub-signature-256": f"sha256={signature}",
        "content-length": str(len(body)),
    }
    sent = False

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return await webhooks.receive(Pushes(), settings, headers, receive)  # type: ignore[arg-type]


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> config_settings.Settings:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    return config_settings.parse(
        {
            "webhooks": [{"url": DOCUMENTED, "secretEnv": "HOOK_SECRET"}],
            "repositories": [
                {"url": DOCUMENTED, "username": "gitward", "passwordEnv": "GIT_TOKEN"},
                {"url": "ssh://git@git.example.com/*", "sshKeyFile": "/keys/deploy"},
            ],
        },
        "test",
    )


async def test_documented_webhook_glob_matches_a_push(settings: config_settings.Settings) -> None:
    received = await deliver(settings, payload("https://git.example.com/org/deploy.git"))
    assert received.queued == ("web",)
    with pytest.raises(source_webhooks.WebhookRejected) as caught:
        await deliver(settings, payload("https://git.example.com/other/deploy.git"))
    assert caught.value.status == 403


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://git.example.com/org/deploy.git", "https"),
        ("https://git.example.com/org/deploy", "https"),
        ("https://Git.Example.com/org/deploy.git", "https"),
        ("https://ci@git.example.com/org/deploy.git", "https"),
        ("https://git.example.com:443/org/deploy.git", "https"),
        ("ssh://git@git.example.com/org/deploy.git", "ssh"),
        ("git@git.example.com:org/deploy.git", "ssh"),
        ("https://git.example.com/elsewhere/deploy.git", None),
        ("https://evil.example.com/org/deploy.git", None),
    ],
)
async def test_credential_globs_match_normalised_and_by_transport(
    settings: config_settings.Settings, tmp_path: Path, url: str, kind: str | None
) -> None:
    options = runtimes.RuntimeOptions(settings=settings, cache_dir=tmp_path)
    async with runtimes.Runtime.open(options) as runtime:
        credentials = runtime.repo(url).credentials
    found = None if credentials is None else type(credentials).__name__
    assert found == {"https": "HttpsCredentials", "ssh": "SshCredentials", None: None}[kind]


@pytest.mark.parametrize(
    ("pattern", "url", "expected"),
    [
        (DOCUMENTED, "git.example.com/org/deploy", True),  # a payload's key
        (DOCUMENTED, "git.example.com/org2/deploy", False),
        ("*", "git.example.com/org/deploy", True),
        ("https://github.com/Org/*", "github.com/org/repo", True),
        ("git.example.com/org/*", "https://git.example.com/org/x.git", True),
        ("https://[", "git.example.com/org/deploy", False),  # no usable key: no match
    ],
)
def test_glob_matches(pattern: str, url: str, expected: bool) -> None:
    assert source_webhooks.glob_matches(pattern, url) is expected
