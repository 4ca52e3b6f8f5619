"""Webhook authenticity: HMAC signatures and shared tokens, per provider.

Called by the agent's webhook endpoint with the raw body, before anything in
the payload is believed (:func:`verify`, then
:func:`gitward.source.webhooks.parsing.parse`). Every comparison is
constant-time (:func:`hmac.compare_digest`); no message ever contains the
secret, the received signature or the received token.

What each provider sends:

* GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``. The
  legacy SHA-1 ``X-Hub-Signature`` alone is refused.
* GitLab: ``X-Gitlab-Token: <the secret token itself>`` (no HMAC).
* Gitea, Forgejo, Gogs: ``X-Gitea-Signature`` / ``X-Forgejo-Signature`` /
  ``X-Gogs-Signature`` (bare hex HMAC-SHA256); recent versions also send
  ``X-Hub-Signature-256`` (``sha256=`` form). Every one present must match.
* Bitbucket Cloud (webhooks with a secret) and Bitbucket Data Center:
  ``X-Hub-Signature: sha256=<hex>``.

A secret is required: with ``secret`` empty or None the delivery is refused
unless the caller passes ``allow_unsigned=True`` (older Bitbucket Cloud hooks
cannot sign; the endpoint should then be reachable only from trusted
networks).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
from collections.abc import Mapping

from gitward.source.webhooks import _payloads, events

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_UNAUTHORIZED = 401
_FORBIDDEN = 403

_GITEA_FAMILY_BARE = ("x-forgejo-signature", "x-gitea-signature", "x-gogs-signature")


def verify(
    provider: events.Provider,
    headers: Mapping[str, str],
    body: bytes,
    secret: str | None,
    *,
    allow_unsigned: bool = False,
) -> None:
    """Return if the delivery is authentic; raise :class:`events.WebhookRejected` otherwise.

    ``headers`` may use any case. ``body`` must be the exact bytes received.
    The error's ``status`` is 401 for a missing, malformed or wrong signature
    or token, 403 when no secret is configured and unsigned deliveries are not
    allowed.
    """
    if not secret:
        if allow_unsigned:
            return
        raise events.WebhookRejected(
            f"{provider} webhook refused: no webhook secret is configured and unsigned "
            "webhooks are not allowed",
            status=_FORBIDDEN,
        )
    lowered = _payloads.lower_headers(headers)
    key = secret.encode("utf-8")
    if provider is events.Provider.GITHUB:
        _verify_github(lowered, body, key)
    elif provider is events.Provider.GITLAB:
        _verify_token(provider, lowered, key)
    elif provider in (events.Provider.GITEA, events.Provider.FORGEJO, events.Provider.GOGS):
        _verify_gitea(provider, lowered, body, key)
    else:
        _verify_prefixed(provider, lowered, "x-hub-signature", body, key)


def sign(body: bytes, secret: str) -> str:
    """The hex HMAC-SHA256 of ``body`` under ``secret`` (what senders put in their header)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _verify_github(headers: Mapping[str, str], body: bytes, key: bytes) -> None:
    provider = events.Provider.GITHUB
    if "x-hub-signature-256" not in headers and "x-hub-signature" in headers:
        raise events.WebhookRejected(
            "github webhook refused: only a SHA-1 signature (X-Hub-Signature) was sent; "
            "SHA-256 (X-Hub-Signature-256) is required",
            status=_UNAUTHORIZED,
        )
    _verify_prefixed(provider, headers, "x-hub-signature-256", body, key)


def _verify_gitea(
    provider: events.Provider, headers: Mapping[str, str], body: bytes, key: bytes
) -> None:
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    checked = 0
    for name in _GITEA_FAMILY_BARE:
        if name in headers:
            _check(provider, name, _hex_digest(provider, name, headers[name], ""), expected)
            checked += 1
    if "x-hub-signature-256" in headers:
        digest = _hex_digest(provider, "x-hub-signature-256", headers["x-hub-signature-256"])
        _check(provider, "x-hub-signature-256", digest, expected)
        checked += 1
    if not checked:
        raise _missing(provider, "X-Gitea-Signature, X-Forgejo-Signature or X-Gogs-Signature")


def _verify_prefixed(
    provider: events.Provider, headers: Mapping[str, str], name: str, body: bytes, key: bytes
) -> None:
    if name not in headers:
        raise _missing(provider, _title(name))
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    _check(provider, name, _hex_digest(provider, name, headers[name]), expected)


def _verify_token(provider: events.Provider, headers: Mapping[str, str], key: bytes) -> None:
    if "x-gitlab-token" not in headers:
        raise _missing(provider, "X-Gitlab-Token")
    matches = [hmac.compare_digest(raw, key) for raw in _raw(headers["x-gitlab-token"])]
    if not any(matches):
        raise events.WebhookRejected(
            f"{provider} webhook refused: X-Gitlab-Token does not match the configured secret",
            status=_UNAUTHORIZED,
        )


def _hex_digest(provider: events.Provider, name: str, value: str, prefix: str = "sha256=") -> str:
    value = value.strip()
    if prefix:
        scheme, sep, value = value.partition("=")
        if not sep or scheme.lower() != prefix[:-1]:
            raise events.WebhookRejected(
                f"{provider} webhook refused: {_title(name)} is not a sha256= signature",
                status=_UNAUTHORIZED,
            )
    if not _HEX_SHA256.fullmatch(value):
        raise events.WebhookRejected(
            f"{provider} webhook refused: {_title(name)} is not a hex HMAC-SHA256 signature",
            status=_UNAUTHORIZED,
        )
    return value.lower()


def _check(provider: events.Provider, name: str, received: str, expected: str) -> None:
    # Both are 64 ASCII hex characters here, as compare_digest requires for str.
    if not hmac.compare_digest(received, expected):
        raise events.WebhookRejected(
            f"{provider} webhook refused: {_title(name)} does not match the body and the "
            "configured secret",
            status=_UNAUTHORIZED,
        )


def _missing(provider: events.Provider, names: str) -> events.WebhookRejected:
    return events.WebhookRejected(
        f"{provider} webhook refused: no signature header ({names})", status=_UNAUTHORIZED
    )


def _raw(value: str) -> tuple[bytes, ...]:
    # ASGI servers decode header bytes as latin-1, so turning them back gives
    # the bytes the sender wrote; a caller may also pass real text. Both
    # readings are compared (a list, not a short-circuit, to keep the time flat).
    readings = [value.encode("utf-8")]
    with contextlib.suppress(UnicodeEncodeError):
        readings.append(value.encode("latin-1"))
    return tuple(readings)


def _title(name: str) -> str:
    return "-".join("GitHub" if part == "github" else part.capitalize() for part in name.split("-"))
