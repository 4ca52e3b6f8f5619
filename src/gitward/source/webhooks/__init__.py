"""Webhook deliveries from git forges: detect the provider, verify the
signature, parse the payload, and read the body safely.

The agent's webhook endpoint is the caller; it does, in order::

    headers = request.headers
    body = await webhooks.read_body(request.receive, limit=..., timeout=..., headers=headers)
    provider = webhooks.detect(headers)   # None: not a forge delivery
    webhooks.verify(provider, headers, body, secret)
    for event in webhooks.parse(provider, headers, body):
        ...   # PushEvent: refresh Applications whose repoURL event.matches()

and answers a :class:`WebhookRejected` with its ``status``. This package is
pure (no network, no git): matching events to Applications and deciding
what changed (``PushEvent.changed_paths`` or a tree diff) is the engine's.
Supported: GitHub, GitLab, Gitea, Forgejo, Gogs, Bitbucket Cloud, Bitbucket
Data Center/Server.
"""

from __future__ import annotations

from gitward.source.webhooks import bodies, events, parsing, urls, verifying

Provider = events.Provider
PushEvent = events.PushEvent
PingEvent = events.PingEvent
IgnoredEvent = events.IgnoredEvent
Event = events.Event
WebhookRejected = events.WebhookRejected
BodyTooLarge = events.BodyTooLarge
BodyTimeout = events.BodyTimeout
ZERO_SHA = events.ZERO_SHA

detect = parsing.detect
parse = parsing.parse
verify = verifying.verify
sign = verifying.sign
normalise_url = urls.normalise_url
glob_matches = urls.glob_matches
read_body = bodies.read_body

__all__ = [
    "ZERO_SHA",
    "BodyTimeout",
    "BodyTooLarge",
    "Event",
    "IgnoredEvent",
    "PingEvent",
    "Provider",
    "PushEvent",
    "WebhookRejected",
    "detect",
    "glob_matches",
    "normalise_url",
    "parse",
    "read_body",
    "sign",
    "verify",
]
