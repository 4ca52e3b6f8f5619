"""Each provider against a real HTTP (or SMTP) receiver following the service's
documented request shape."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import socket
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gitward import errors
from gitward.testing import receivers
from gitward.testing.kubeapi import certificates
from tests.engine.notifications import helpers


@pytest.fixture
def receiver() -> Any:
    with receivers.Receiver() as server:
        yield server


async def test_webhook_posts_the_documented_event_signed_with_hmac(
    receiver: receivers.Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret-hook-key")
    settings = helpers.provider(type="webhook", url=receiver.url + "/hook", secretEnv="HOOK_SECRET")
    await helpers.send(settings, helpers.document())
    (request,) = receiver.wait_for(1)
    assert request.method == "POST" and request.path == "/hook"
    expected = hmac.new(b"s3cret-hook-key", request.body, hashlib.sha256).hexdigest()
    assert request.header("X-Gitward-Signature") == f"sha256={expected}"
    assert request.header("X-Gitward-Event") == "SyncSucceeded"
    assert request.header("X-Gitward-Delivery") == "11"
    body = request.json()
    assert body["version"] == 1
    assert body["event"] == {
        "id": 7,
        "reason": "SyncSucceeded",
        "type": "Normal",
        "message": "applied 3 objects",
        "revision": helpers.SHA,
        "time": "2026-12-04T14:02:00+00:00",
    }
    assert body["application"]["name"] == "web"
    assert body["status"] is None
    assert "text" not in body


async def test_webhook_without_secret_is_unsigned_and_template_adds_text(
    receiver: receivers.Receiver,
) -> None:
    settings = helpers.provider(type="webhook", url=receiver.url)
    await helpers.send(settings, helpers.document(), "{{ app.name }} is {{ app.health }}")
    (request,) = receiver.wait_for(1)
    assert request.header("X-Gitward-Signature") == ""
    assert request.json()["text"] == "web is Healthy"


async def test_slack_incoming_webhook(receiver: receivers.Receiver) -> None:
    await helpers.send(
        helpers.provider(type="slack", url=receiver.url + "/services/T/B/X"), helpers.document()
    )
    body = receiver.wait_for(1)[0].json()
    assert body["text"] == f"SyncSucceeded of web at {helpers.SHA[:12]}: applied 3 objects"
    (attachment,) = body["attachments"]
    assert attachment["color"] == "#2eb67d"
    assert {"title": "Application", "value": "web", "short": True} in attachment["fields"]
    assert "channel" not in body


async def test_slack_chat_post_message_with_bot_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT", "xoxb-canary-slack")
    with receivers.Receiver(body=b'{"ok": true}', content_type="application/json") as server:
        settings = helpers.provider(
            type="slack",
            url=server.url + "/api/chat.postMessage",
            tokenEnv="SLACK_BOT",
            channel="C123",
        )
        await helpers.send(settings, helpers.document("SyncFailed"))
        request = server.wait_for(1)[0]
    assert request.path == "/api/chat.postMessage"
    assert request.header("Authorization") == "Bearer xoxb-canary-slack"
    body = request.json()
    assert body["channel"] == "C123"
    assert body["attachments"][0]["color"] == "#e01e5a"


async def test_slack_chat_post_message_error_is_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT", "xoxb-canary-slack")
    answer = b'{"ok": false, "error": "channel_not_found"}'
    with receivers.Receiver(body=answer, content_type="application/json") as server:
        settings = helpers.provider(
            type="slack", url=server.url, tokenEnv="SLACK_BOT", channel="C404"
        )
        with pytest.raises(errors.NotificationRejected, match="channel_not_found") as caught:
            await helpers.send(settings, helpers.document())
    assert "xoxb" not in str(caught.value)


async def test_msteams_workflows_webhook_gets_an_adaptive_card(
    receiver: receivers.Receiver,
) -> None:
    await helpers.send(
        helpers.provider(type="msteams", url=receiver.url), helpers.document("HealthDegraded")
    )
    body = receiver.wait_for(1)[0].json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    title, text, facts = card["body"]
    assert title == {
        "type": "TextBlock",
        "text": "web: HealthDegraded",
        "weight": "Bolder",
        "size": "Medium",
        "color": "Attention",
        "wrap": True,
    }
    assert text["text"].startswith("HealthDegraded of web")
    assert {"title": "Revision", "value": helpers.SHA[:12]} in facts["facts"]


async def test_discord_webhook(receiver: receivers.Receiver) -> None:
    await helpers.send(helpers.provider(type="discord", url=receiver.url), helpers.document())
    body = receiver.wait_for(1)[0].json()
    assert body["content"].startswith("SyncSucceeded of web")
    assert body["embeds"][0]["title"] == "web: SyncSucceeded"
    assert body["embeds"][0]["color"] == 0x2EB67D
    assert body["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize(
    ("kind", "reason", "path", "expected"),
    [
        (
            "github",
            "SyncStarted",
            f"/repos/acme/deploy/statuses/{helpers.SHA}",
            {"state": "pending", "context": "gitward/web"},
        ),
        (
            "github",
            "Deployed",
            f"/repos/acme/deploy/statuses/{helpers.SHA}",
            {"state": "success", "context": "gitward/web", "description": "synced and healthy"},
        ),
        (
            "gitlab",
            "SyncFailed",
            f"/api/v4/projects/acme%2Fdeploy/statuses/{helpers.SHA}",
            {"state": "failed", "name": "gitward/web"},
        ),
        (
            "gitea",
            "Deployed",
            f"/api/v1/repos/acme/deploy/statuses/{helpers.SHA}",
            {"state": "success", "context": "gitward/web"},
        ),
        (
            "forgejo",
            "HealthDegraded",
            f"/api/v1/repos/acme/deploy/statuses/{helpers.SHA}",
            {"state": "failure", "context": "gitward/web"},
        ),
        (
            "bitbucket",
            "SyncStarted",
            f"/2.0/repositories/acme/deploy/commit/{helpers.SHA}/statuses/build",
            {
                "state": "INPROGRESS",
                "key": "gitward/web",
                "url": "https://github.com/Acme/deploy.git",
            },
        ),
    ],
)
async def test_commit_statuses_follow_each_forge_api(
    receiver: receivers.Receiver,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    reason: str,
    path: str,
    expected: dict[str, str],
) -> None:
    monkeypatch.setenv("FORGE_TOKEN", "canary-forge-token")
    settings = helpers.provider(type=kind, url=receiver.url, tokenEnv="FORGE_TOKEN")
    await helpers.send(settings, helpers.document(reason))
    request = receiver.wait_for(1)[0]
    assert request.path == path
    body = request.json()
    assert expected.items() <= body.items()
    auth = {
        "github": ("Authorization", "Bearer canary-forge-token"),
        "gitlab": ("PRIVATE-TOKEN", "canary-forge-token"),
        "gitea": ("Authorization", "token canary-forge-token"),
        "forgejo": ("Authorization", "token canary-forge-token"),
        "bitbucket": ("Authorization", "Bearer canary-forge-token"),
    }[kind]
    assert request.header(auth[0]) == auth[1]
    if kind == "github":
        assert request.header("Accept") == "application/vnd.github+json"


async def test_commit_status_skips_events_that_set_none(
    receiver: receivers.Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGE_TOKEN", "t")
    settings = helpers.provider(type="github", url=receiver.url, tokenEnv="FORGE_TOKEN")
    await helpers.send(settings, helpers.document("DriftDetected"))
    await asyncio.sleep(0.05)
    assert receiver.requests == []


async def test_gitlab_nested_group_under_a_path_prefix(
    receiver: receivers.Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGE_TOKEN", "t")
    settings = helpers.provider(type="gitlab", url=receiver.url + "/gitlab", tokenEnv="FORGE_TOKEN")
    doc = helpers.document("SyncStarted", repoURL=f"{receiver.url}/gitlab/platform/team/deploy.git")
    await helpers.send(settings, doc)
    assert receiver.wait_for(1)[0].path == (
        f"/gitlab/api/v4/projects/platform%2Fteam%2Fdeploy/statuses/{helpers.SHA}"
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (503, errors.NotificationUnavailable),
        (429, errors.NotificationUnavailable),
        (404, errors.NotificationRejected),
    ],
)
async def test_answers_sort_into_retry_or_refusal(status: int, error: type[Exception]) -> None:
    with (
        receivers.Receiver(answers=[status], body=b"nope") as server,
        pytest.raises(error, match=f"HTTP {status}"),
    ):
        await helpers.send(helpers.provider(type="webhook", url=server.url), helpers.document())


async def test_unreachable_receiver_is_retryable() -> None:
    with receivers.Receiver() as server:
        url = server.url
    with pytest.raises(errors.NotificationUnavailable):
        await helpers.send(helpers.provider(type="webhook", url=url), helpers.document())


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]/",
    ],
)
async def test_link_local_and_metadata_addresses_are_refused(url: str) -> None:
    with pytest.raises(errors.NotificationRejected, match="allowLinkLocal"):
        await helpers.send(helpers.provider(type="webhook", url=url), helpers.document())


async def test_webhook_url_from_an_environment_variable_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with receivers.Receiver(answers=[500]) as server:
        monkeypatch.setenv("TEAMS_URL", server.url + "/workflows/secret-path-token")
        settings = helpers.provider(type="msteams", urlEnv="TEAMS_URL")
        with pytest.raises(errors.NotificationUnavailable) as caught:
            await helpers.send(settings, helpers.document())
        assert server.wait_for(1)[0].path == "/workflows/secret-path-token"
    assert "secret-path-token" not in str(caught.value)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes, bool]] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.ssl is not None)
        )
        return "250 OK"


async def test_email_over_smtp_with_starttls(tmp_path: Path) -> None:
    certificate = certificates.ServingCertificate("127.0.0.1")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(certificate.ca_pem)
    inbox = _Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=certificate.context,
        require_starttls=True,
    )
    controller.start()
    try:
        port = controller.port
        settings = helpers.provider(
            type="email",
            address=f"127.0.0.1:{port}",
            **{"from": "gitward@example.com"},
            to=["ops@example.com", "dev@example.com"],
            caFile=str(ca),
        )
        await helpers.send(settings, helpers.document("SyncFailed"))
    finally:
        controller.stop()
    ((sender, recipients, content, encrypted),) = inbox.messages
    assert sender == "gitward@example.com"
    assert recipients == ["ops@example.com", "dev@example.com"]
    assert encrypted
    mail = email.message_from_bytes(content, policy=email.policy.default)
    assert mail["Subject"] == "[gitward] web: SyncFailed"
    assert mail["X-Gitward-Event"] == "SyncFailed"
    assert mail.get_content().startswith("SyncFailed of web")


async def test_email_refuses_a_server_without_starttls() -> None:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        port = controller.port
        settings = helpers.provider(
            type="email",
            address=f"127.0.0.1:{port}",
            **{"from": "g@example.com"},
            to=["ops@example.com"],
        )
        with pytest.raises(errors.NotificationRejected, match="STARTTLS"):
            await helpers.send(settings, helpers.document())
    finally:
        controller.stop()
    assert inbox.messages == []
