"""Receiving push webhooks: read, authenticate, parse, and queue what changed.

``gitward.api`` routes ``POST /api/v1/webhooks`` here. The body is read with a
size and time limit; the provider is recognised from its headers; the
payload's repository picks the shared secret configured for it (settings
``webhooks``); only a verified push queues anything. Polling stays the
fallback: a lost webhook costs at most one poll interval.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitward import errors
from gitward.config import settings as config_settings
from gitward.engine import loop
from gitward.source import credentials, webhooks

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Rejected = webhooks.WebhookRejected  # carries the HTTP status for the edge
_BODY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Received:
    """What a webhook did: the event kind and the Applications it queued."""

    event: str
    queued: tuple[str, ...] = ()
    # The verified body: replicas pass it on to the others (api.forwarding).
    body: bytes = b""


def _secret(entry: config_settings.WebhookSettings) -> str | None:
    if entry.secret_env:
        return credentials.SecretRef(env=entry.secret_env).read()
    if entry.secret_file:
        return credentials.SecretRef(file=Path(entry.secret_file).expanduser()).read()
    return None


async def receive(
    agent: loop.Agent,
    settings: config_settings.Settings,
    headers: Mapping[str, str],
    receive_body: Receive,
) -> Received:
    """Handle one webhook request; raises ``webhooks.WebhookRejected`` (with an
    HTTP status) for anything not accepted."""
    body = await webhooks.read_body(
        receive_body, limit=settings.webhook_max_bytes, timeout=_BODY_SECONDS, headers=headers
    )
    provider = webhooks.detect(headers)
    if provider is None:
        raise webhooks.WebhookRejected("not a webhook delivery of a known git provider")
    # The payload says which repository it is about, which selects the secret;
    # nothing is acted upon before the signature is verified.
    events = webhooks.parse(provider, headers, body)
    urls = sorted({url for event in events for url in getattr(event, "repo_urls", ())})
    entry = next(
        (e for url in urls if (e := settings.webhook_for(url, webhooks.glob_matches)) is not None),
        None,
    )
    if entry is None:
        named = credentials.strip_userinfo(urls[0])[0] if urls else "(none named)"
        raise webhooks.WebhookRejected(
            f"no webhook secret is configured for repository {named}", status=403
        )
    try:
        secret = _secret(entry)
    except errors.ConfigError as exc:
        raise webhooks.WebhookRejected(f"webhook secret unavailable: {exc}", status=503) from None
    webhooks.verify(provider, headers, body, secret, allow_unsigned=entry.allow_unsigned)
    queued: list[str] = []
    kinds = []
    for event in events:
        kinds.append(type(event).__name__.removesuffix("Event").lower())
        if isinstance(event, webhooks.PushEvent) and not event.deleted:
            queued.extend(q for q in await agent.push(event) if q not in queued)
    return Received(",".join(kinds) or "none", tuple(queued), body)
