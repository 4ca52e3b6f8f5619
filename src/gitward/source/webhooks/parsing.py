"""Which forge sent a delivery, and what it says.

Called by the agent's webhook endpoint: :func:`detect` on the request
headers, :func:`gitward.source.webhooks.verifying.verify` on the raw body,
then :func:`parse`. Only the payload fields gitward acts on are read, and
each is type-checked; anything malformed is a
:class:`~gitward.source.webhooks.events.WebhookRejected` naming the provider
and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gitward.source.webhooks import _payloads, bitbucket, events, gitea, github, gitlab

_Parser = Callable[[events.Provider, str, Callable[[], _payloads.Obj]], tuple[events.Event, ...]]

# Forgejo also sends the X-Gitea-* and X-Gogs-* headers, and Gitea sends
# X-GitHub-Event and X-Gogs-Event for compatibility, so the most specific
# header decides, in this order.
_EVENT_HEADERS: tuple[tuple[str, events.Provider], ...] = (
    ("x-forgejo-event", events.Provider.FORGEJO),
    ("x-gitea-event", events.Provider.GITEA),
    ("x-gogs-event", events.Provider.GOGS),
    ("x-gitlab-event", events.Provider.GITLAB),
    ("x-event-key", events.Provider.BITBUCKET_CLOUD),
    ("x-github-event", events.Provider.GITHUB),
)

_PROVIDER_EVENT_HEADERS: dict[events.Provider, tuple[str, ...]] = {
    events.Provider.GITHUB: ("x-github-event",),
    events.Provider.GITLAB: ("x-gitlab-event",),
    events.Provider.GITEA: ("x-gitea-event", "x-gogs-event"),
    events.Provider.FORGEJO: ("x-forgejo-event", "x-gitea-event"),
    events.Provider.GOGS: ("x-gogs-event",),
    events.Provider.BITBUCKET_CLOUD: ("x-event-key",),
    events.Provider.BITBUCKET_SERVER: ("x-event-key",),
}

# Event keys only Bitbucket Data Center/Server sends (Cloud uses repo:push,
# pullrequest:*, repo:updated...).
_SERVER_KEY_PREFIXES = (
    "repo:refs_changed",
    "repo:modified",
    "repo:forked",
    "repo:comment:",
    "repo:secret_detected",
    "diagnostics:",
    "pr:",
    "mirror:",
    "project:",
)

_PARSERS: dict[events.Provider, _Parser] = {
    events.Provider.GITHUB: github.parse,
    events.Provider.GITLAB: gitlab.parse,
    events.Provider.GITEA: gitea.parse,
    events.Provider.FORGEJO: gitea.parse,
    events.Provider.GOGS: gitea.parse,
    events.Provider.BITBUCKET_CLOUD: bitbucket.parse_cloud,
    events.Provider.BITBUCKET_SERVER: bitbucket.parse_server,
}


def detect(headers: Mapping[str, str]) -> events.Provider | None:
    """The provider a delivery comes from, by its event header (any case), or None."""
    lowered = _payloads.lower_headers(headers)
    for name, provider in _EVENT_HEADERS:
        if name not in lowered:
            continue
        if provider is events.Provider.BITBUCKET_CLOUD and _is_bitbucket_server(lowered):
            return events.Provider.BITBUCKET_SERVER
        return provider
    return None


def _is_bitbucket_server(headers: Mapping[str, str]) -> bool:
    if "x-hook-uuid" in headers or "x-request-uuid" in headers:
        return False
    if "x-request-id" in headers:
        return True
    return headers["x-event-key"].strip().startswith(_SERVER_KEY_PREFIXES)


def event_name(provider: events.Provider, headers: Mapping[str, str]) -> str:
    """The delivery's event name (``push``, ``Push Hook``, ``repo:push``...)."""
    lowered = _payloads.lower_headers(headers)
    for name in _PROVIDER_EVENT_HEADERS[provider]:
        value = lowered.get(name, "").strip()
        if value:
            return value
    raise events.WebhookRejected(
        f"{provider} webhook has no {' or '.join(_PROVIDER_EVENT_HEADERS[provider])} header"
    )


def parse(
    provider: events.Provider, headers: Mapping[str, str], body: bytes
) -> tuple[events.Event, ...]:
    """The events one delivery carries, in payload order.

    GitHub, GitLab and Gitea send one event per delivery; Bitbucket may batch
    several ref changes (one :class:`events.PushEvent` each). A ping is a
    :class:`events.PingEvent`; any other event an :class:`events.IgnoredEvent`
    (its payload is not decoded). Raises :class:`events.WebhookRejected`
    (status 400) for a missing event header, a body that is not JSON (or a
    form with a ``payload`` field), and missing or mistyped fields.
    """
    lowered = _payloads.lower_headers(headers)
    name = event_name(provider, lowered)

    def decode() -> _payloads.Obj:
        return _payloads.decode(provider, lowered, body)

    return _PARSERS[provider](provider, name, decode)
