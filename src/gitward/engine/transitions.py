"""The events a change of an Application's status announces (pure, table-tested).

Notifications, commit statuses and the delivery figures key on these
reasons, so each is emitted once per transition, not on every reconcile:

* ``HealthDegraded`` (Warning) when health turns Degraded;
* ``HealthRecovered`` when it is Healthy again after Degraded;
* ``Deployed`` when the Application is Synced and Healthy at a revision a
  sync of this run applied and no ``Deployed`` named yet (commit status
  ``success``; the end of lead time).

Called by the agent after each health refresh, with the state before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitward.model import status

DEPLOYED = "Deployed"
DEGRADED = "HealthDegraded"
RECOVERED = "HealthRecovered"
SYNC_STARTED = "SyncStarted"
SYNC_SUCCEEDED = "SyncSucceeded"
SYNC_FAILED = "SyncFailed"


@dataclass(frozen=True, slots=True)
class Announcement:
    type: str  # Normal or Warning
    reason: str
    message: str
    revision: str


def health(
    before: status.HealthStatus,
    after: status.HealthResult,
    *,
    sync: status.SyncStatus,
    synced_revision: str,
    synced_this_run: str,
    announced_revision: str,
) -> list[Announcement]:
    """What the move from ``before`` to ``after`` announces.

    ``synced_this_run`` is the revision the last successful sync of this agent
    applied ('' when none); ``announced_revision`` the one a ``Deployed``
    already named.
    """
    found = []
    now = after.status
    if now is status.HealthStatus.DEGRADED and before is not status.HealthStatus.DEGRADED:
        found.append(
            Announcement(
                "Warning", DEGRADED, after.message or "health is Degraded", synced_revision
            )
        )
    if now is status.HealthStatus.HEALTHY and before is status.HealthStatus.DEGRADED:
        found.append(Announcement("Normal", RECOVERED, "healthy again", synced_revision))
    if (
        now is status.HealthStatus.HEALTHY
        and sync is status.SyncStatus.SYNCED
        and synced_this_run
        and synced_this_run == synced_revision
        and announced_revision != synced_revision
    ):
        found.append(
            Announcement(
                "Normal",
                DEPLOYED,
                f"synced and healthy at {synced_revision[:12]}",
                synced_revision,
            )
        )
    return found
