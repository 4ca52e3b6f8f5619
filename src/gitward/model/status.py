"""Status of resources and Applications: sync, health, conditions.

Shared by the engine, store, API, CLI and UI so they all say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gitward.model import resources


class SyncStatus(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class HealthStatus(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    MISSING = "Missing"
    UNKNOWN = "Unknown"


# From best to worst, as Argo CD orders them: an app is as healthy as its
# worst resource.
_HEALTH_ORDER: dict[HealthStatus, int] = {
    HealthStatus.HEALTHY: 0,
    HealthStatus.SUSPENDED: 1,
    HealthStatus.PROGRESSING: 2,
    HealthStatus.MISSING: 3,
    HealthStatus.DEGRADED: 4,
    HealthStatus.UNKNOWN: 5,
}


def health_rank(status: HealthStatus) -> int:
    return _HEALTH_ORDER[status]


@dataclass(frozen=True, slots=True)
class HealthResult:
    """Health of one object, with a message a person can act on."""

    status: HealthStatus
    message: str = ""


def worst(results: Iterable[HealthResult]) -> HealthResult:
    """The worst of several results; Healthy when there are none."""
    found = HealthResult(HealthStatus.HEALTHY)
    for result in results:
        if health_rank(result.status) > health_rank(found.status):
            found = result
    return found


@dataclass(frozen=True, slots=True)
class Condition:
    """One status condition: a type, whether it holds, and a named reason.

    Reasons are the stage failure names of :mod:`gitward.errors`
    (SourceFailed, RenderFailed, ApplyFailed, ...).
    """

    type: str
    status: bool
    reason: str
    message: str = ""
    last_transition: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResourceStatus:
    """One managed object's row: is it as declared, and is it healthy."""

    key: resources.ResourceKey
    sync: SyncStatus
    health: HealthResult
    message: str = ""
