"""Builders shared by the notification tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from gitward.config import notifications as config
from gitward.engine.notifications import messages
from gitward.engine.notifications.providers import base, registry

T0 = datetime(2026, 12, 4, 14, 2, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"


def document(reason: str = "SyncSucceeded", **app: Any) -> dict[str, Any]:
    application = {
        "name": "web",
        "project": "default",
        "labels": {"team": "shop"},
        "repoURL": "https://github.com/Acme/deploy.git",
        "path": "web",
        "targetRevision": "main",
        "sync": "Synced",
        "health": "Healthy",
        **app,
    }
    return messages.payload(
        event_id=7,
        reason=reason,
        type_="Warning" if reason in ("SyncFailed", "HealthDegraded") else "Normal",
        message="applied 3 objects",
        revision=SHA,
        time=T0,
        application=application,
    )


def provider(**fields: Any) -> config.ProviderSettings:
    return config.ProviderSettings.model_validate(fields)


async def send(settings: config.ProviderSettings, doc: dict[str, Any], template: str = "") -> None:
    async with httpx.AsyncClient() as client:
        outgoing = base.Outgoing(
            provider="p",
            settings=settings,
            document=doc,
            template=template,
            client=client,
            delivery_id=11,
        )
        await registry.sender(settings.type)(outgoing)
