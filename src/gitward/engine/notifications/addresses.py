"""Refusing provider URLs that point at link-local or cloud metadata addresses.

A notification provider is a request gitward makes on a user's behalf; a URL
resolving to 169.254.169.254 (AWS, GCP, Azure metadata), fd00:ec2::254 or any
link-local address would let whoever writes the configuration read the node's
cloud credentials through delivery errors (server-side request forgery). Such
addresses are refused unless the provider sets ``allowLinkLocal``. The check
runs on every delivery, after resolution, so a DNS name changed to point at
the metadata service is caught too. Called by the provider modules.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from gitward import errors

_METADATA = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    # Alibaba Cloud's metadata service.
    ipaddress.ip_network("100.100.100.200/32"),
)


def refused(address: str) -> bool:
    """Whether ``address`` (an IP literal) is link-local or a metadata address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_link_local or any(ip in net for net in _METADATA)


async def check_host(host: str, port: int, what: str, *, allow_link_local: bool) -> None:
    """Raise NotificationRejected when ``host`` resolves to a refused address."""
    if allow_link_local:
        return
    if refused(host.strip("[]")):
        raise errors.NotificationRejected(
            f"{what}: {host} is a link-local or metadata address; set allowLinkLocal "
            "on the provider to allow it"
        )
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise errors.NotificationUnavailable(f"{what}: cannot resolve {host}: {exc}") from None
    for info in infos:
        if refused(str(info[4][0])):
            raise errors.NotificationRejected(
                f"{what}: {host} resolves to the link-local or metadata address "
                f"{info[4][0]}; set allowLinkLocal on the provider to allow it"
            )


async def check_url(url: str, what: str, *, allow_link_local: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.NotificationRejected(f"{what}: {_safe(url)} is not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    await check_host(parts.hostname, port, what, allow_link_local=allow_link_local)


def _safe(url: str) -> str:
    """``url`` without its path and query, which may carry a token (Slack, Teams)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


def display(url: str) -> str:
    """What a log or error may show of a provider URL: scheme and host only.

    Incoming-webhook URLs (Slack, Teams, Discord) are themselves secrets.
    """
    return _safe(url)
