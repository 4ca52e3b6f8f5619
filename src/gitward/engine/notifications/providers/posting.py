"""One HTTP request to a receiver, with its answer sorted into retry or give up.

Shared by the HTTP providers. Redirects are not followed (a receiver must not
steer gitward to another address); the destination is checked against
link-local and metadata addresses before each request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from gitward import errors
from gitward.engine.notifications import addresses
from gitward.engine.notifications.providers import base

_BODY_IN_ERROR = 200


async def send(
    outgoing: base.Outgoing,
    method: str,
    url: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> httpx.Response:
    settings = outgoing.settings
    await addresses.check_url(url, outgoing.what, allow_link_local=settings.allow_link_local)
    where = f"{outgoing.what} at {addresses.display(url)}"
    try:
        response = await outgoing.client.request(
            method,
            url,
            json=json,
            content=content,
            headers=dict(headers or {}),
            auth=auth,
            timeout=settings.timeout,
            follow_redirects=False,
        )
    except httpx.TimeoutException:
        raise errors.NotificationUnavailable(
            f"{where}: no answer within {settings.timeout:g}s"
        ) from None
    except httpx.TransportError as exc:
        raise errors.NotificationUnavailable(
            f"{where}: {type(exc).__name__}: {_first_line(str(exc))}"
        ) from None
    status = response.status_code
    if status < 300:
        return response
    detail = _first_line(response.text)[:_BODY_IN_ERROR]
    message = f"{where}: HTTP {status}{f' {detail}' if detail else ''}"
    if status == 429 or status >= 500:
        raise errors.NotificationUnavailable(message)
    raise errors.NotificationRejected(message)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""
