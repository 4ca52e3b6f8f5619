"""Operations: one sync attempt, its per-resource results, and who caused it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from gitward.model import plans, resources


class ResultCode(StrEnum):
    """What happened to one object during a sync."""

    CREATED = "Created"
    CONFIGURED = "Configured"
    UNCHANGED = "Unchanged"
    PRUNED = "Pruned"
    SKIPPED = "Skipped"
    FAILED = "Failed"


class OperationPhase(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class ResourceResult:
    key: resources.ResourceKey
    action: plans.Action
    code: ResultCode
    message: str = ""
    # The condition reason of a failure (ApplyConflict, ApplyFailed, ...).
    reason: str = ""
    phase: plans.Phase = plans.Phase.SYNC
    wave: int = 0


@dataclass(frozen=True, slots=True)
class Revision:
    """A resolved commit and what people need to know about it."""

    sha: str
    ref: str = ""
    author: str = ""
    message: str = ""
    committed_at: datetime | None = None


def short_revision(revision: str) -> str:
    """A revision as people read it: 12 digits of a commit id, ``chart-version`` of a
    chart (``ingress-nginx-4.11.2@sha256:...``), each source of a combined one."""
    parts = []
    for part in revision.split(","):
        chart, found, _ = part.partition("@sha256:")
        parts.append(chart if found else part[:12])
    return ",".join(parts)


@dataclass(frozen=True, slots=True)
class Operation:
    """One sync attempt of one Application."""

    app: str
    revision: Revision
    trigger: str
    started_at: datetime
    phase: OperationPhase = OperationPhase.RUNNING
    finished_at: datetime | None = None
    dry_run: bool = False
    results: tuple[ResourceResult, ...] = field(default_factory=tuple)
    message: str = ""
    reason: str = ""
    # The fencing token the sync wrote under ("holder#transitions") when
    # replicas share the work; '' for a single replica.
    fence: str = ""
