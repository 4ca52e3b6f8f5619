"""The application list's filters, read from its query string."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitward.engine import states
from gitward.model import status

SYNC_FILTERS = tuple(s.value for s in status.SyncStatus)
HEALTH_FILTERS = tuple(h.value for h in status.HealthStatus)


@dataclass(frozen=True, slots=True)
class Filters:
    """The list page's filters, from its query string."""

    text: str = ""
    sync: str = ""
    health: str = ""
    project: str = ""

    @classmethod
    def of(cls, query: Mapping[str, str]) -> Filters:
        sync = query.get("sync", "")
        health = query.get("health", "")
        return cls(
            text=query.get("q", "").strip()[:200],
            sync=sync if sync in SYNC_FILTERS else "",
            health=health if health in HEALTH_FILTERS else "",
            project=query.get("project", "").strip()[:100],
        )

    def keep(self, state: states.AppState) -> bool:
        if self.text and self.text.lower() not in state.name.lower():
            return False
        if self.sync and state.sync.value != self.sync:
            return False
        if self.health and state.health.status.value != self.health:
            return False
        return not self.project or state.app.metadata.project == self.project

    def query(self) -> dict[str, str]:
        found = {"q": self.text, "sync": self.sync, "health": self.health, "project": self.project}
        return {k: v for k, v in found.items() if v}


def counts(apps: Sequence[states.AppState]) -> dict[str, int]:
    return {
        "total": len(apps),
        "synced": sum(s.sync is status.SyncStatus.SYNCED for s in apps),
        "out_of_sync": sum(s.sync is status.SyncStatus.OUT_OF_SYNC for s in apps),
        "unhealthy": sum(
            s.health.status not in (status.HealthStatus.HEALTHY, status.HealthStatus.SUSPENDED)
            for s in apps
        ),
    }
