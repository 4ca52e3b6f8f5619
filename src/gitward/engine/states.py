"""What the agent knows about each Application between reconciles.

An :class:`AppState` is the agent's working memory for one Application: the
status it reports (sync, health, conditions, resources, drift) and the
bookkeeping that drives decisions (the revision last synced, retries, the
input digest of the last render). ``engine.workers`` updates it;
``engine.persisting`` saves it to the store so a restarted agent resumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gitward.config import applications
from gitward.model import resources, status

# Condition types the agent maintains, one concern each.
READY = "Ready"  # synced and healthy: the one line a person reads first
RECONCILED = "Reconciled"  # the last reconcile's outcome, reason = failed stage
SOURCE_AVAILABLE = "SourceAvailable"  # False while the last commit is served stale
DEPENDENCIES_READY = "DependenciesReady"
SOURCE_VERIFIED = "SourceVerified"  # signed-commit policy: False names the refused commit
PINNED = "Pinned"  # rollback --to: held at a revision, automated sync paused
TARGET_REACHABLE = "TargetReachable"  # False while the destination does not answer


@dataclass(frozen=True, slots=True)
class Basis:
    """What an Application's last full reconcile rendered from, so a later
    commit that changes none of it can advance it without a render
    (``engine.untouched``). Held in memory only: after a restart the first
    commit renders every Application again."""

    revision: str  # the commit rendered
    paths: tuple[str, ...]  # the repository paths the render read (Rendered.input_paths)
    # The spec, Project and settings it was rendered with, compared by
    # identity (spec, settings) or equality (Project): any change means a render.
    app: applications.Application
    project: applications.Project | None
    settings: object


@dataclass(slots=True)
class AppState:
    app: applications.Application
    file: str = ""  # where the Application is declared in the root repository
    owner: str = ""  # the ApplicationSet that generated it ('' when declared directly)
    sync: status.SyncStatus = status.SyncStatus.UNKNOWN
    health: status.HealthResult = field(
        default_factory=lambda: status.HealthResult(status.HealthStatus.UNKNOWN)
    )
    revision: str = ""  # the commit the Application's ref resolves to now
    previous_revision: str = ""  # what it resolved to at the reconcile before
    synced_revision: str = ""  # the commit last applied successfully
    # The synced_revision ``health`` was assessed at: a sync that just ended
    # leaves the previous revision's health until the next assessment.
    health_revision: str = ""
    conditions: dict[str, status.Condition] = field(default_factory=dict)
    resource_statuses: list[status.ResourceStatus] = field(default_factory=list)
    # Drift: live differs from Git at a revision already synced.
    drift_since: datetime | None = None
    drifted: tuple[str, ...] = ()  # "Deployment.apps web/web /spec/replicas"
    failures: int = 0  # consecutive failed syncs, for retry backoff
    failed_revision: str = ""
    input_digest: str = ""  # of the last render, for "nothing changed" shortcuts
    basis: Basis | None = None  # what the last full reconcile rendered from
    managed_keys: frozenset[resources.ResourceKey] = frozenset()
    out_of_sync: frozenset[resources.ResourceKey] = frozenset()
    suspended: bool = False  # set by a person (API/CLI); spec.suspend also suspends
    pinned_revision: str = ""  # rollback --to: auto-sync paused until released
    last_operation: int | None = None
    # Notifications: the revision a sync of this run applied, and the one a
    # Deployed event already named (engine.transitions).
    synced_this_run: str = ""
    announced_revision: str = ""
    reconciled_at: datetime | None = None
    message: str = ""
    # When health last became Progressing: healthTimeout applies outside a sync too.
    progressing_since: datetime | None = None

    @property
    def name(self) -> str:
        return self.app.name

    @property
    def is_suspended(self) -> bool:
        return self.suspended or self.app.spec.suspend

    @property
    def automated(self) -> bool:
        return self.app.spec.sync_policy.automated is not None and not self.pinned_revision

    def set_condition(self, type_: str, ok: bool, reason: str, message: str, now: datetime) -> None:
        """Set a condition; its transition time moves only when its status does."""
        previous = self.conditions.get(type_)
        since = now if previous is None or previous.status != ok else previous.last_transition
        self.conditions[type_] = status.Condition(type_, ok, reason, message, since)

    def ready(self) -> bool:
        return (
            self.sync is status.SyncStatus.SYNCED
            and self.health.status is status.HealthStatus.HEALTHY
        )
