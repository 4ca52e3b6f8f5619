"""Webhook signature and token verification, per provider."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gitward.source import webhooks

P = webhooks.Provider
SECRET = "s3cr3t-Webhook-Key"
BODY = b'{"ref":"refs/heads/main"}'


def hexmac(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed(provider: webhooks.Provider, body: bytes, secret: str = SECRET) -> dict[str, str]:
    """The headers each provider sends for ``body`` under ``secret``."""
    digest = hexmac(body, secret)
    if provider is P.GITHUB:
        sha1 = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}", "X-Hub-Signature": f"sha1={sha1}"}
    if provider is P.GITLAB:
        return {"X-Gitlab-Token": secret}
    if provider in (P.GITEA, P.FORGEJO, P.GOGS):
        return {
            "X-Gitea-Signature": digest,
            "X-Gogs-Signature": digest,
            "X-Hub-Signature-256": f"sha256={digest}",
        } | ({"X-Forgejo-Signature": digest} if provider is P.FORGEJO else {})
    return {"X-Hub-Signature": f"sha256={digest}"}


@pytest.mark.parametrize("provider", list(P))
def test_good_signature_accepted(provider: webhooks.Provider) -> None:
    webhooks.verify(provider, signed(provider, BODY), BODY, SECRET)


@pytest.mark.parametrize("provider", list(P))
def test_header_names_are_case_insensitive(provider: webhooks.Provider) -> None:
    headers = {name.lower(): value for name, value in signed(provider, BODY).items()}
    webhooks.verify(provider, headers, BODY, SECRET)
    headers = {name.upper(): value for name, value in signed(provider, BODY).items()}
    webhooks.verify(provider, headers, BODY, SECRET)


# GitLab sends a token, not a signature of the body.
@pytest.mark.parametrize("provider", [p for p in P if p is not P.GITLAB])
def test_tampered_body_rejected(provider: webhooks.Provider) -> None:
    headers = signed(provider, BODY)
    with pytest.raises(webhooks.WebhookRejected, match="does not match") as caught:
        webhooks.verify(provider, headers, BODY + b" ", SECRET)
    assert caught.value.status == 401


@pytest.mark.parametrize("provider", list(P))
def test_wrong_secret_rejected_without_echoing(provider: webhooks.Provider) -> None:
    headers = signed(provider, BODY, secret="other-secret")
    with pytest.raises(webhooks.WebhookRejected) as caught:
        webhooks.verify(provider, headers, BODY, SECRET)
    message = str(caught.value)
    assert caught.value.status == 401
    assert str(provider) in message
    assert SECRET not in message and "other-secret" not in message
    for value in headers.values():
        assert value not in message
        assert value[-16:] not in message


@pytest.mark.parametrize("provider", list(P))
def test_missing_signature_rejected(provider: webhooks.Provider) -> None:
    with pytest.raises(webhooks.WebhookRejected, match="no signature header") as caught:
        webhooks.verify(provider, {"Content-Type": "application/json"}, BODY, SECRET)
    assert caught.value.status == 401


@pytest.mark.parametrize("provider", list(P))
def test_secret_required_unless_unsigned_allowed(provider: webhooks.Provider) -> None:
    for secret in (None, ""):
        with pytest.raises(webhooks.WebhookRejected, match="no webhook secret") as caught:
            webhooks.verify(provider, {}, BODY, secret)
        assert caught.value.status == 403
        webhooks.verify(provider, {}, BODY, secret, allow_unsigned=True)


def test_allow_unsigned_still_checks_when_a_secret_is_set() -> None:
    with pytest.raises(webhooks.WebhookRejected):
        webhooks.verify(P.GITHUB, {}, BODY, SECRET, allow_unsigned=True)


def test_github_sha1_only_is_refused() -> None:
    sha1 = hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    with pytest.raises(webhooks.WebhookRejected, match=r"only a SHA-1 signature") as caught:
        webhooks.verify(P.GITHUB, {"X-Hub-Signature": f"sha1={sha1}"}, BODY, SECRET)
    assert sha1 not in str(caught.value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha256=",
        "sha1=" + "0" * 64,
        "sha256:" + "0" * 64,
        "sha256=" + "z" * 64,
        "sha256=" + "0" * 63,
        "sha256=" + "é" * 64,
        "sha256=" + hexmac(BODY) + "00",
    ],
)
def test_malformed_github_signatures(value: str) -> None:
    with pytest.raises(webhooks.WebhookRejected):
        webhooks.verify(P.GITHUB, {"X-Hub-Signature-256": value}, BODY, SECRET)


def test_uppercase_hex_and_prefix_accepted() -> None:
    value = "SHA256=" + hexmac(BODY).upper()
    webhooks.verify(P.GITHUB, {"X-Hub-Signature-256": value}, BODY, SECRET)


def test_gitea_every_signature_sent_must_match() -> None:
    headers = signed(P.GITEA, BODY) | {"X-Gogs-Signature": hexmac(BODY, "wrong")}
    with pytest.raises(webhooks.WebhookRejected, match="X-Gogs-Signature does not match"):
        webhooks.verify(P.GITEA, headers, BODY, SECRET)
    # One signature header alone is enough (older Gitea, Gogs).
    webhooks.verify(P.GOGS, {"X-Gogs-Signature": hexmac(BODY)}, BODY, SECRET)
    webhooks.verify(P.GITEA, {"X-Gitea-Signature": hexmac(BODY)}, BODY, SECRET)


def test_gitlab_token_with_non_ascii_secret() -> None:
    secret = "clé-secrète"
    # An ASGI server hands the header over decoded as latin-1.
    received = secret.encode("utf-8").decode("latin-1")
    webhooks.verify(P.GITLAB, {"X-Gitlab-Token": received}, BODY, secret)
    webhooks.verify(P.GITLAB, {"X-Gitlab-Token": secret}, BODY, secret)
    with pytest.raises(webhooks.WebhookRejected, match="X-Gitlab-Token does not match"):
        webhooks.verify(P.GITLAB, {"X-Gitlab-Token": secret[:-1]}, BODY, secret)


def test_sign_matches_hmac() -> None:
    assert webhooks.sign(BODY, SECRET) == hexmac(BODY)


FORGEABLE = {
    P.GITHUB: ("X-Hub-Signature-256", "sha256="),
    P.GITLAB: ("X-Gitlab-Token", ""),
    P.GITEA: ("X-Gitea-Signature", ""),
    P.FORGEJO: ("X-Forgejo-Signature", ""),
    P.GOGS: ("X-Gogs-Signature", ""),
    P.BITBUCKET_CLOUD: ("X-Hub-Signature", "sha256="),
    P.BITBUCKET_SERVER: ("X-Hub-Signature", "sha256="),
}


@settings(max_examples=400, deadline=None)
@given(
    provider=st.sampled_from(list(P)),
    body=st.binary(max_size=200),
    secret=st.text(min_size=1, max_size=30),
    forged=st.text(max_size=80) | st.binary(min_size=32, max_size=32).map(bytes.hex),
    prefixed=st.booleans(),
)
def test_wrong_signature_never_accepted(
    provider: webhooks.Provider, body: bytes, secret: str, forged: str, prefixed: bool
) -> None:
    header, prefix = FORGEABLE[provider]
    value = prefix + forged if prefixed else forged
    if provider is P.GITLAB:
        # The same bytes read as text or as latin-1 (how ASGI decodes headers).
        assume(value != secret)
        assume(value != secret.encode().decode("latin-1"))
    else:
        assume(value.strip().lower().removeprefix("sha256=") != hexmac(body, secret))
    with pytest.raises(webhooks.WebhookRejected) as caught:
        webhooks.verify(provider, {header: value}, body, secret)
    assert caught.value.status == 401
