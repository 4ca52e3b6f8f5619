"""``webhook``: a POST of the documented event (``messages`` module doc) to a URL.

With a secret (``secretEnv``/``secretFile``) the body is signed:
``X-Gitward-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>``,
as GitHub signs its webhooks, so a receiver verifies with the same code.
``X-Gitward-Event`` names the event reason and ``X-Gitward-Delivery`` the
delivery id (the same on every retry of one notification). With an alert
template, its rendering is added as ``text``.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson

from gitward.engine.notifications import messages, references
from gitward.engine.notifications.providers import base, posting

SIGNATURE_HEADER = "X-Gitward-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def send(outgoing: base.Outgoing) -> None:
    settings = outgoing.settings
    document = dict(outgoing.document)
    if outgoing.template:
        document["text"] = messages.render(outgoing.template, document)
    body = orjson.dumps(document)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "gitward",
        "X-Gitward-Event": str(document.get("event", {}).get("reason", "")),
        "X-Gitward-Delivery": str(outgoing.delivery_id),
    }
    secret = references.read(settings.secret_env, settings.secret_file, outgoing.what)
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    url = references.read(settings.url_env, settings.url_file, outgoing.what) or settings.endpoint
    await posting.send(outgoing, "POST", url, content=body, headers=headers)
