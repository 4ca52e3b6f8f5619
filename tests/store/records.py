"""Sample records for the store tests: fully populated, with non-UTC datetimes,
so a round trip that drops a field or a time zone shows up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from gitward.model import operations, plans, resources, status
from gitward.store import base

T0 = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))


def key(name: str = "web", kind: str = "Deployment", group: str = "apps") -> resources.ResourceKey:
    return resources.ResourceKey(group=group, kind=kind, namespace="web", name=name)


def revision(sha: str = "a" * 40) -> operations.Revision:
    return operations.Revision(
        sha=sha,
        ref="refs/heads/main",
        author="Ada Lovelace <ada@example.com>",
        message="Scale web to 3 replicas\n\nBody with ünïcode.",
        committed_at=datetime(2026, 11, 23, 11, 0, tzinfo=PARIS),
    )


def results(count: int = 3) -> tuple[operations.ResourceResult, ...]:
    found = [
        operations.ResourceResult(
            key=key("ns", kind="Namespace", group=""),
            action=plans.Action.CREATE,
            code=operations.ResultCode.CREATED,
            phase=plans.Phase.PRE_SYNC,
            wave=-1,
        ),
        operations.ResourceResult(
            key=key("web"),
            action=plans.Action.UPDATE,
            code=operations.ResultCode.FAILED,
            message="Deployment.apps web/web: field /spec/replicas owned by kubectl-edit",
            reason="ApplyConflict",
        ),
    ]
    for i in range(max(0, count - len(found))):
        found.append(
            operations.ResourceResult(
                key=key(f"cm-{i}", kind="ConfigMap", group=""),
                action=plans.Action.UNCHANGED,
                code=operations.ResultCode.UNCHANGED,
            )
        )
    return tuple(found[:count])


def operation(
    app: str = "web-staging",
    *,
    started_at: datetime = T0,
    phase: operations.OperationPhase = operations.OperationPhase.RUNNING,
    trigger: str = "commit",
) -> operations.Operation:
    return operations.Operation(
        app=app,
        revision=revision(),
        trigger=trigger,
        started_at=started_at,
        phase=phase,
    )


def finished(
    op: operations.Operation,
    phase: operations.OperationPhase = operations.OperationPhase.SUCCEEDED,
) -> operations.Operation:
    return operations.Operation(
        app=op.app,
        revision=op.revision,
        trigger=op.trigger,
        started_at=op.started_at,
        phase=phase,
        finished_at=op.started_at + timedelta(seconds=42),
        dry_run=False,
        results=results(),
        message="1 created, 1 failed, 1 unchanged",
        reason="ApplyConflict" if phase is operations.OperationPhase.FAILED else "",
    )


def plan_summary() -> base.PlanSummary:
    return base.PlanSummary(
        revision="a" * 40,
        counts={"create": 1, "update": 1, "unchanged": 1, "prune": 0, "skip": 0},
        hooks=2,
        server_side=False,
        warnings=("target unreachable: structural comparison",),
    )


def app(
    name: str = "web-staging",
    *,
    project: str = "default",
    sync: status.SyncStatus = status.SyncStatus.OUT_OF_SYNC,
    health: status.HealthStatus = status.HealthStatus.DEGRADED,
    labels: dict[str, str] | None = None,
) -> base.AppRecord:
    return base.AppRecord(
        name=name,
        project=project,
        sync=sync,
        desired_revision="b" * 40,
        synced_revision=revision(),
        health=status.HealthResult(health, "Deployment web/web: 1 of 3 replicas available"),
        conditions=(
            status.Condition(
                type="Synced",
                status=False,
                reason="ApplyFailed",
                message="Deployment.apps web/web refused: invalid",
                last_transition=datetime(2026, 11, 23, 9, 0, tzinfo=PARIS),
            ),
            status.Condition(type="Healthy", status=True, reason="Healthy"),
        ),
        resources=(
            status.ResourceStatus(
                key=key("web"),
                sync=status.SyncStatus.OUT_OF_SYNC,
                health=status.HealthResult(status.HealthStatus.PROGRESSING, "rolling out"),
                message="drift: /spec/replicas",
            ),
            status.ResourceStatus(
                key=key("ns", kind="Namespace", group=""),
                sync=status.SyncStatus.SYNCED,
                health=status.HealthResult(status.HealthStatus.HEALTHY),
            ),
        ),
        suspended=False,
        pinned_revision="",
        last_operation_id=7,
        drift_since=T0 - timedelta(minutes=5),
        updated_at=T0,
        labels=labels if labels is not None else {"team": "web", "env": "staging"},
        plan=plan_summary(),
    )


def event(
    app: str = "web-staging",
    reason: str = base.EventReason.DRIFT_DETECTED,
    *,
    time: datetime = T0,
    type: base.EventType = base.EventType.WARNING,
) -> base.EventRecord:
    return base.EventRecord(
        app=app,
        time=time,
        type=type,
        reason=reason,
        message=f"{app}: Deployment.apps web/web differs from Git at /spec/replicas",
        revision="a" * 40,
        operation_id=3,
    )
