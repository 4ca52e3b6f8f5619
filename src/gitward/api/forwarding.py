"""With replicas: actions go to the Application's owner, webhooks to every replica.

Every replica answers reads for every Application (its statuses come from
the shared store, ``engine.replicas``). An action (refresh, sync, rollback,
suspend, resume) changes what one replica does, so it is carried out by the
replica that owns the Application: a replica that receives one for an
Application another owns, once it has checked the caller may do it, sends
the same request, body and ``Authorization`` header to the owner's
advertised URL and answers with the owner's answer (header
``X-Gitward-Replica`` names who carried it out). When the owner cannot be
reached, or nobody owns the Application right now (a handoff is settling),
the answer is 503 naming the owner: retry. A forwarded request is never
forwarded again (``X-Gitward-Forwarded-By``).

Webhooks: the replica that receives a verified delivery queues the
Applications it owns, then passes the same body and headers on to every other
live replica, in the background; each verifies the signature itself (the
replicas share ``webhooks`` secrets) and queues its own. So a push reaches
every owner at once, whichever replica the load balancer picked, with no
extra state in the store. A replica that misses it still sees the commit at
its next poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
import structlog
from starlette.requests import Request
from starlette.responses import Response

from gitward import errors
from gitward.engine import loop

_log = structlog.get_logger(__name__)

FORWARDED_BY = "X-Gitward-Forwarded-By"
SERVED_BY = "X-Gitward-Replica"
# Headers of an action passed on to the owner (the caller's auth included).
_ACTION_HEADERS = ("authorization", "content-type", "accept", "user-agent")
# Headers never passed on with a webhook (hop by hop, or set by the client).
_HOP_HEADERS = frozenset(
    ("host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade", "te")
)
ACTION_TIMEOUT = 600.0  # a sync waits for health; the owner bounds it
WEBHOOK_TIMEOUT = 10.0


class OwnerUnavailable(errors.RetryableError):
    """Another replica owns the Application and cannot take the action now."""

    reason = "OwnerUnavailable"


async def to_owner(agent: loop.Agent, request: Request, app: str) -> Response | None:
    """The owner's answer to ``request`` (an action on ``app``), or None when this
    replica carries it out itself. Call it after the caller is authorised."""
    found = agent.replicas
    if found is None or found.owns(app):
        return None
    owner, address = found.owner(app)
    if request.headers.get(FORWARDED_BY):
        raise OwnerUnavailable(
            f"Application {app} is reconciled by replica {owner or '(none yet)'}, not "
            f"{found.identity} (forwarded by {request.headers[FORWARDED_BY]}): retry"
        )
    if not owner or owner == found.identity:
        raise OwnerUnavailable(
            f"Application {app} is changing owner (now: {owner or 'no replica'}); retry in "
            f"{found.membership.timings.renew_deadline:g}s"
        )
    if not address:
        raise OwnerUnavailable(
            f"Application {app} is reconciled by replica {owner}, which advertises no "
            "address (replicas.advertise): ask it directly"
        )
    headers = {k: v for k, v in request.headers.items() if k.lower() in _ACTION_HEADERS}
    headers[FORWARDED_BY] = found.identity
    url = address + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = await request.body()
    try:
        async with httpx.AsyncClient(timeout=ACTION_TIMEOUT, trust_env=False) as client:
            answer = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise OwnerUnavailable(
            f"Application {app} is reconciled by replica {owner} at {address}, which "
            f"cannot be reached ({type(exc).__name__}): retry"
        ) from None
    kept = {
        k: v
        for k, v in answer.headers.items()
        if k.lower() in ("content-type", "www-authenticate", "retry-after")
    }
    kept[SERVED_BY] = answer.headers.get(SERVED_BY, owner)
    return Response(answer.content, status_code=answer.status_code, headers=kept)


def fan_out(agent: loop.Agent, headers: Mapping[str, str], body: bytes) -> None:
    """Pass a verified webhook delivery on to every other live replica (background)."""
    found = agent.replicas
    if found is None or headers.get(FORWARDED_BY):
        return
    others = [
        row.member.address
        for row in found.membership.snapshot().members
        if not row.me and row.member.address
    ]
    if not others:
        return
    passed = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
    passed[FORWARDED_BY] = found.identity
    task = asyncio.get_running_loop().create_task(_deliver(others, passed, body))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


_pending: set[asyncio.Task[None]] = set()


async def _deliver(addresses: list[str], headers: dict[str, str], body: bytes) -> None:
    async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT, trust_env=False) as client:

        async def one(address: str) -> None:
            try:
                answer = await client.post(
                    address + "/api/v1/webhooks", content=body, headers=headers
                )
            except httpx.HTTPError as exc:
                _log.warning(
                    "webhook not passed on to a replica", to=address, error=type(exc).__name__
                )
                return
            if answer.status_code >= 300:
                _log.warning(
                    "a replica refused a webhook passed on", to=address, status=answer.status_code
                )

        await asyncio.gather(*(one(address) for address in addresses))
