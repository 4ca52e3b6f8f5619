"""Chat services: ``slack`` (incoming webhook, or ``chat.postMessage`` with a bot
token), ``msteams`` (a Teams Workflows webhook receiving an Adaptive Card) and
``discord`` (a channel webhook). Each renders the alert's template (or the
default) into the shape the service documents.
"""

from __future__ import annotations

from typing import Any

from gitward import errors
from gitward.engine.notifications import messages, references
from gitward.engine.notifications.providers import base, posting

_COLOURS = {"good": "#2eb67d", "warning": "#ecb22e", "danger": "#e01e5a"}
_TEAMS_COLOURS = {"good": "Good", "warning": "Warning", "danger": "Attention"}
_DISCORD_LIMIT = 2000


def _url(outgoing: base.Outgoing) -> str:
    settings = outgoing.settings
    return references.read(settings.url_env, settings.url_file, outgoing.what) or settings.endpoint


def _facts(outgoing: base.Outgoing) -> list[tuple[str, str]]:
    app = outgoing.document.get("application", {})
    event = outgoing.document.get("event", {})
    facts = [("Application", str(app.get("name", ""))), ("Project", str(app.get("project", "")))]
    if event.get("revision"):
        facts.append(("Revision", str(event["revision"])[:12]))
    facts.append(("Sync / Health", f"{app.get('sync', '')} / {app.get('health', '')}"))
    return facts


async def slack(outgoing: base.Outgoing) -> None:
    settings = outgoing.settings
    text = messages.render(outgoing.template, outgoing.document)
    body: dict[str, Any] = {
        "text": text,
        "attachments": [
            {
                "color": _COLOURS[messages.severity(outgoing.document)],
                "fields": [{"title": k, "value": v, "short": True} for k, v in _facts(outgoing)],
            }
        ],
    }
    token = references.read(settings.token_env, settings.token_file, outgoing.what)
    if not token:
        await posting.send(outgoing, "POST", _url(outgoing), json=body)
        return
    body["channel"] = settings.channel
    response = await posting.send(
        outgoing,
        "POST",
        _url(outgoing),
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    # chat.postMessage answers 200 with {"ok": false, "error": ...} on failure.
    try:
        answer = response.json()
    except ValueError:
        raise errors.NotificationRejected(f"{outgoing.what}: the answer is not JSON") from None
    if not answer.get("ok"):
        error = str(answer.get("error", "unknown error"))
        if error in ("ratelimited", "service_unavailable", "internal_error", "fatal_error"):
            raise errors.NotificationUnavailable(f"{outgoing.what}: chat.postMessage: {error}")
        raise errors.NotificationRejected(f"{outgoing.what}: chat.postMessage: {error}")


async def msteams(outgoing: base.Outgoing) -> None:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": messages.render("", outgoing.document, "title"),
                "weight": "Bolder",
                "size": "Medium",
                "color": _TEAMS_COLOURS[messages.severity(outgoing.document)],
                "wrap": True,
            },
            {
                "type": "TextBlock",
                "text": messages.render(outgoing.template, outgoing.document),
                "wrap": True,
            },
            {
                "type": "FactSet",
                "facts": [{"title": k, "value": v} for k, v in _facts(outgoing)],
            },
        ],
    }
    body = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
    await posting.send(outgoing, "POST", _url(outgoing), json=body)


async def discord(outgoing: base.Outgoing) -> None:
    text = messages.render(outgoing.template, outgoing.document)
    colour = _COLOURS[messages.severity(outgoing.document)]
    body = {
        "content": text[:_DISCORD_LIMIT],
        "embeds": [
            {
                "title": messages.render("", outgoing.document, "title")[:256],
                "color": int(colour.lstrip("#"), 16),
                "fields": [
                    {"name": k, "value": v or "-", "inline": True} for k, v in _facts(outgoing)
                ],
            }
        ],
        "allowed_mentions": {"parse": []},
    }
    await posting.send(outgoing, "POST", _url(outgoing), json=body)
