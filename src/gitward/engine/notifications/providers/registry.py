"""The sender of each provider type."""

from __future__ import annotations

from collections.abc import Mapping

from gitward.engine.notifications.providers import base, chats, mailing, statuses, webhooks

SENDERS: Mapping[str, base.Sender] = {
    "webhook": webhooks.send,
    "slack": chats.slack,
    "msteams": chats.msteams,
    "discord": chats.discord,
    "email": mailing.send,
    "github": statuses.send,
    "gitlab": statuses.send,
    "gitea": statuses.send,
    "forgejo": statuses.send,
    "bitbucket": statuses.send,
}


def sender(kind: str) -> base.Sender:
    return SENDERS[kind]
