"""What a provider is given to send one notification (:class:`Outgoing`), and the
shape every provider module follows (:class:`Sender`).

A sender raises ``errors.NotificationUnavailable`` for what a retry may cure
(connection errors, timeouts, 5xx, 429) and ``errors.NotificationRejected``
for what it will not (4xx, a refused address, a missing secret). It never puts
a secret or a webhook URL's path in an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from gitward.config import notifications as config


@dataclass(frozen=True, slots=True)
class Outgoing:
    provider: str
    settings: config.ProviderSettings
    document: Mapping[str, Any]
    template: str
    client: httpx.AsyncClient
    delivery_id: int = 0

    @property
    def what(self) -> str:
        return f"notification provider {self.provider} ({self.settings.type})"


class Sender(Protocol):
    async def __call__(self, outgoing: Outgoing) -> None: ...
