"""Reading a webhook request body from ASGI with a size limit and a time limit.

Called by the agent's webhook endpoint before :func:`verify` and
:func:`parse`: it is the guard against bodies too large to hold in memory and
against clients that trickle bytes to tie up a connection. It works on the
raw ASGI ``receive`` callable (Starlette's ``request.receive``), so it does
not depend on a framework.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from gitward import errors
from gitward.source.webhooks import _payloads, events

Receive = Callable[[], Awaitable[Mapping[str, object]]]


async def read_body(
    receive: Receive,
    *,
    limit: int,
    # The brief's interface takes the limit as a value (it comes from settings);
    # the deadline covers the whole body, not each receive().
    timeout: float,  # noqa: ASYNC109
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """The whole request body, at most ``limit`` bytes, received within ``timeout`` seconds.

    A ``Content-Length`` in ``headers`` (any case) larger than ``limit`` is
    refused before reading anything; the limit is enforced again while
    streaming (chunked bodies have no length). Raises
    :class:`events.BodyTooLarge` (413), :class:`events.BodyTimeout` (408), or
    :class:`events.WebhookRejected` (400) for an invalid ``Content-Length``
    or a client that disconnects before the end of the body.
    """
    if limit < 0 or timeout <= 0:
        raise errors.ConfigError(
            f"webhook body limit ({limit}) must be >= 0 and timeout ({timeout}) positive"
        )
    declared = _content_length(headers)
    if declared is not None and declared > limit:
        raise events.BodyTooLarge(
            f"webhook body of {declared} bytes (Content-Length) exceeds the limit of {limit} bytes"
        )
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                kind = message.get("type")
                if kind == "http.disconnect":
                    raise events.WebhookRejected(
                        f"webhook client disconnected after {len(body)} bytes of the body"
                    )
                if kind != "http.request":
                    continue
                chunk = message.get("body", b"")
                if not isinstance(chunk, bytes | bytearray):
                    raise events.WebhookRejected(
                        "ASGI server delivered a webhook body that is not bytes", status=500
                    )
                if len(body) + len(chunk) > limit:
                    raise events.BodyTooLarge(f"webhook body exceeds the limit of {limit} bytes")
                body += chunk
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise events.BodyTimeout(
            f"webhook body not received within {timeout:g} s ({len(body)} bytes arrived)"
        ) from None
    return bytes(body)


def _content_length(headers: Mapping[str, str] | None) -> int | None:
    if headers is None:
        return None
    value = _payloads.lower_headers(headers).get("content-length")
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise events.WebhookRejected("webhook request has an invalid Content-Length header")
    return int(value)
