"""Which events a status change announces: once per transition."""

from __future__ import annotations

import pytest

from gitward.engine import transitions
from gitward.model import status

H, D, P = status.HealthStatus.HEALTHY, status.HealthStatus.DEGRADED, status.HealthStatus.PROGRESSING
SYNCED, OUT = status.SyncStatus.SYNCED, status.SyncStatus.OUT_OF_SYNC


@pytest.mark.parametrize(
    ("before", "after", "sync", "synced", "this_run", "announced", "expected"),
    [
        (P, H, SYNCED, "a", "a", "", ["Deployed"]),
        (H, H, SYNCED, "a", "a", "a", []),  # already announced
        (P, H, SYNCED, "a", "", "", []),  # synced by an earlier run: nothing new
        (P, H, OUT, "a", "a", "", []),
        (P, P, SYNCED, "a", "a", "", []),
        (P, D, SYNCED, "a", "a", "", ["HealthDegraded"]),
        (D, D, SYNCED, "a", "a", "", []),
        (D, H, SYNCED, "a", "a", "a", ["HealthRecovered"]),
        (D, H, SYNCED, "b", "b", "a", ["HealthRecovered", "Deployed"]),
    ],
)
def test_announcements(
    before: status.HealthStatus,
    after: status.HealthStatus,
    sync: status.SyncStatus,
    synced: str,
    this_run: str,
    announced: str,
    expected: list[str],
) -> None:
    found = transitions.health(
        before,
        status.HealthResult(after, "why"),
        sync=sync,
        synced_revision=synced,
        synced_this_run=this_run,
        announced_revision=announced,
    )
    assert [a.reason for a in found] == expected
    assert all(a.revision == synced for a in found)
