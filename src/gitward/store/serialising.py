"""Explicit to/from-dict conversion of the values the store persists.

Used by :mod:`gitward.store.storing` for its JSON columns and usable by the API
for its responses. Conventions: datetimes are ISO 8601 in UTC with a ``Z``
suffix and must be timezone-aware (a naive datetime is refused rather than
guessed); enums are stored by value; keys are camelCase, as in Kubernetes.
Per-resource results, the bulk of the history, omit fields that hold their
default so 100 operations of a large app stay small.

``*_from_dict`` raise :class:`gitward.store.base.InvalidRecord` naming the
document and the field when a stored document is malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from gitward.model import operations, plans, resources, status
from gitward.store import base

_T = TypeVar("_T")


# --- datetimes ------------------------------------------------------------------


def datetime_to_str(value: datetime, what: str) -> str:
    """``value`` as ISO 8601 UTC (``2026-01-02T03:04:05.123456Z``); ``what`` names it in errors."""
    return utc(value, what).isoformat().replace("+00:00", "Z")


def datetime_from_str(value: str, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise base.InvalidRecord(f"{what}: {value!r} is not an ISO 8601 datetime") from exc
    if parsed.tzinfo is None:
        raise base.InvalidRecord(f"{what}: {value!r} has no timezone")
    return parsed.astimezone(UTC)


def utc(value: datetime, what: str) -> datetime:
    """``value`` converted to UTC; a naive datetime is refused (its zone is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise base.InvalidRecord(f"{what}: datetime {value.isoformat()} has no timezone")
    return value.astimezone(UTC)


def _opt_dt_to_str(value: datetime | None, what: str) -> str | None:
    return None if value is None else datetime_to_str(value, what)


def _opt_dt_from_str(value: Any, what: str) -> datetime | None:
    return None if value is None else datetime_from_str(str(value), what)


def _read(doc: Mapping[str, Any], what: str, reader: Callable[[Mapping[str, Any]], _T]) -> _T:
    """Run ``reader`` on ``doc``, turning a missing key or bad value into InvalidRecord."""
    if not isinstance(doc, dict) and not isinstance(doc, Mapping):
        raise base.InvalidRecord(f"{what}: expected an object, got {type(doc).__name__}")
    try:
        return reader(doc)
    except KeyError as exc:
        raise base.InvalidRecord(f"{what}: missing field {exc.args[0]!r}") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise base.InvalidRecord(f"{what}: {exc}") from exc


# --- model values -----------------------------------------------------------------


def key_to_dict(key: resources.ResourceKey) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": key.kind, "name": key.name}
    if key.group:
        doc["group"] = key.group
    if key.namespace:
        doc["namespace"] = key.namespace
    return doc


def key_from_dict(doc: Mapping[str, Any]) -> resources.ResourceKey:
    return _read(
        doc,
        "resource key",
        lambda d: resources.ResourceKey(
            group=str(d.get("group", "")),
            kind=str(d["kind"]),
            namespace=str(d.get("namespace", "")),
            name=str(d["name"]),
        ),
    )


def revision_to_dict(revision: operations.Revision) -> dict[str, Any]:
    return {
        "sha": revision.sha,
        "ref": revision.ref,
        "author": revision.author,
        "message": revision.message,
        "committedAt": _opt_dt_to_str(
            revision.committed_at, f"commit time of revision {revision.sha}"
        ),
    }


def revision_from_dict(doc: Mapping[str, Any]) -> operations.Revision:
    return _read(
        doc,
        "revision",
        lambda d: operations.Revision(
            sha=str(d["sha"]),
            ref=str(d.get("ref", "")),
            author=str(d.get("author", "")),
            message=str(d.get("message", "")),
            committed_at=_opt_dt_from_str(d.get("committedAt"), "revision committedAt"),
        ),
    )


def result_to_dict(result: operations.ResourceResult) -> dict[str, Any]:
    doc = key_to_dict(result.key)
    doc["action"] = result.action.value
    doc["code"] = result.code.value
    if result.message:
        doc["message"] = result.message
    if result.reason:
        doc["reason"] = result.reason
    if result.phase is not plans.Phase.SYNC:
        doc["phase"] = result.phase.value
    if result.wave:
        doc["wave"] = result.wave
    return doc


# Per-resource results are most of what history pages read (2,500 per page of
# 100 operations of 25 resources): enum values are looked up in plain dicts,
# a third of the cost of calling the enum class.
_ACTIONS = {a.value: a for a in plans.Action}
_CODES = {c.value: c for c in operations.ResultCode}
_PHASES = {p.value: p for p in plans.Phase}


def _member(members: Mapping[str, _T], value: Any, field: str) -> _T:
    found = members.get(value)
    if found is None:
        raise ValueError(f"{value!r} is not a valid {field}")
    return found


def result_from_dict(doc: Mapping[str, Any]) -> operations.ResourceResult:
    return _read(
        doc,
        "resource result",
        lambda d: operations.ResourceResult(
            key=resources.ResourceKey(
                group=str(d.get("group", "")),
                kind=str(d["kind"]),
                namespace=str(d.get("namespace", "")),
                name=str(d["name"]),
            ),
            action=_member(_ACTIONS, d["action"], "action"),
            code=_member(_CODES, d["code"], "result code"),
            message=str(d.get("message", "")),
            reason=str(d.get("reason", "")),
            phase=_member(_PHASES, d.get("phase", "Sync"), "phase"),
            wave=int(d.get("wave", 0)),
        ),
    )


def operation_to_dict(op: operations.Operation) -> dict[str, Any]:
    what = f"operation of app {op.app}"
    return {
        "app": op.app,
        "revision": revision_to_dict(op.revision),
        "trigger": op.trigger,
        "startedAt": datetime_to_str(op.started_at, f"start of {what}"),
        "phase": op.phase.value,
        "finishedAt": _opt_dt_to_str(op.finished_at, f"end of {what}"),
        "dryRun": op.dry_run,
        "results": [result_to_dict(r) for r in op.results],
        "message": op.message,
        "reason": op.reason,
        "fence": op.fence,
    }


def operation_from_dict(doc: Mapping[str, Any]) -> operations.Operation:
    return _read(
        doc,
        "operation",
        lambda d: operations.Operation(
            app=str(d["app"]),
            revision=revision_from_dict(d["revision"]),
            trigger=str(d["trigger"]),
            started_at=datetime_from_str(d["startedAt"], "operation startedAt"),
            phase=operations.OperationPhase(d["phase"]),
            finished_at=_opt_dt_from_str(d.get("finishedAt"), "operation finishedAt"),
            dry_run=bool(d.get("dryRun", False)),
            results=tuple(result_from_dict(r) for r in d.get("results", ())),
            message=str(d.get("message", "")),
            reason=str(d.get("reason", "")),
            fence=str(d.get("fence", "")),
        ),
    )


def health_to_dict(health: status.HealthResult) -> dict[str, Any]:
    doc: dict[str, Any] = {"status": health.status.value}
    if health.message:
        doc["message"] = health.message
    return doc


def health_from_dict(doc: Mapping[str, Any]) -> status.HealthResult:
    return _read(
        doc,
        "health",
        lambda d: status.HealthResult(
            status=status.HealthStatus(d["status"]), message=str(d.get("message", ""))
        ),
    )


def condition_to_dict(condition: status.Condition) -> dict[str, Any]:
    return {
        "type": condition.type,
        "status": condition.status,
        "reason": condition.reason,
        "message": condition.message,
        "lastTransition": _opt_dt_to_str(
            condition.last_transition, f"last transition of condition {condition.type}"
        ),
    }


def condition_from_dict(doc: Mapping[str, Any]) -> status.Condition:
    def read(d: Mapping[str, Any]) -> status.Condition:
        if not isinstance(d["status"], bool):
            raise ValueError(f"condition status {d['status']!r} is not a boolean")
        return status.Condition(
            type=str(d["type"]),
            status=d["status"],
            reason=str(d["reason"]),
            message=str(d.get("message", "")),
            last_transition=_opt_dt_from_str(d.get("lastTransition"), "condition lastTransition"),
        )

    return _read(doc, "condition", read)


def resource_status_to_dict(row: status.ResourceStatus) -> dict[str, Any]:
    doc = key_to_dict(row.key)
    doc["sync"] = row.sync.value
    doc["health"] = health_to_dict(row.health)
    if row.message:
        doc["message"] = row.message
    return doc


def resource_status_from_dict(doc: Mapping[str, Any]) -> status.ResourceStatus:
    return _read(
        doc,
        "resource status",
        lambda d: status.ResourceStatus(
            key=key_from_dict(d),
            sync=status.SyncStatus(d["sync"]),
            health=health_from_dict(d["health"]),
            message=str(d.get("message", "")),
        ),
    )


# --- store records -------------------------------------------------------------------


def plan_summary_to_dict(summary: base.PlanSummary) -> dict[str, Any]:
    return {
        "revision": summary.revision,
        "counts": {str(k): int(v) for k, v in summary.counts.items()},
        "hooks": summary.hooks,
        "serverSide": summary.server_side,
        "warnings": list(summary.warnings),
    }


def plan_summary_from_dict(doc: Mapping[str, Any]) -> base.PlanSummary:
    return _read(
        doc,
        "plan summary",
        lambda d: base.PlanSummary(
            revision=str(d["revision"]),
            counts={str(k): int(v) for k, v in d["counts"].items()},
            hooks=int(d.get("hooks", 0)),
            server_side=bool(d.get("serverSide", True)),
            warnings=tuple(str(w) for w in d.get("warnings", ())),
        ),
    )


def app_to_dict(app: base.AppRecord) -> dict[str, Any]:
    what = f"status of app {app.name}"
    return {
        "name": app.name,
        "project": app.project,
        "sync": app.sync.value,
        "desiredRevision": app.desired_revision,
        "syncedRevision": (
            None if app.synced_revision is None else revision_to_dict(app.synced_revision)
        ),
        "health": health_to_dict(app.health),
        "conditions": [condition_to_dict(c) for c in app.conditions],
        "resources": [resource_status_to_dict(r) for r in app.resources],
        "suspended": app.suspended,
        "pinnedRevision": app.pinned_revision,
        "lastOperationId": app.last_operation_id,
        "driftSince": _opt_dt_to_str(app.drift_since, f"drift time in {what}"),
        "updatedAt": _opt_dt_to_str(app.updated_at, f"update time in {what}"),
        "labels": dict(app.labels),
        "plan": None if app.plan is None else plan_summary_to_dict(app.plan),
        **(
            {"owner": app.owner, "file": app.file, "generated": dict(app.generated)}
            if app.owner and app.generated is not None
            else {}
        ),
    }


def app_from_dict(doc: Mapping[str, Any]) -> base.AppRecord:
    def read(d: Mapping[str, Any]) -> base.AppRecord:
        synced = d.get("syncedRevision")
        plan = d.get("plan")
        last_op = d.get("lastOperationId")
        return base.AppRecord(
            name=str(d["name"]),
            project=str(d["project"]),
            sync=status.SyncStatus(d["sync"]),
            desired_revision=str(d.get("desiredRevision", "")),
            synced_revision=None if synced is None else revision_from_dict(synced),
            health=health_from_dict(d["health"]),
            conditions=tuple(condition_from_dict(c) for c in d.get("conditions", ())),
            resources=tuple(resource_status_from_dict(r) for r in d.get("resources", ())),
            suspended=bool(d.get("suspended", False)),
            pinned_revision=str(d.get("pinnedRevision", "")),
            last_operation_id=None if last_op is None else int(last_op),
            drift_since=_opt_dt_from_str(d.get("driftSince"), "app driftSince"),
            updated_at=_opt_dt_from_str(d.get("updatedAt"), "app updatedAt"),
            labels={str(k): str(v) for k, v in d.get("labels", {}).items()},
            plan=None if plan is None else plan_summary_from_dict(plan),
            owner=str(d.get("owner", "")),
            file=str(d.get("file", "")),
            generated=_opt_mapping(d.get("generated"), "app generated"),
        )

    return _read(doc, "app status", read)


def _opt_mapping(value: object, what: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{what}: expected a mapping")
    return value


def event_to_dict(event: base.EventRecord) -> dict[str, Any]:
    return {
        "id": event.id,
        "app": event.app,
        "time": datetime_to_str(event.time, f"time of event {event.reason} of app {event.app}"),
        "type": event.type.value,
        "reason": event.reason,
        "message": event.message,
        "revision": event.revision,
        "operationId": event.operation_id,
    }


def event_from_dict(doc: Mapping[str, Any]) -> base.EventRecord:
    def read(d: Mapping[str, Any]) -> base.EventRecord:
        event_id = d.get("id")
        op_id = d.get("operationId")
        return base.EventRecord(
            app=str(d["app"]),
            time=datetime_from_str(d["time"], "event time"),
            type=base.EventType(d["type"]),
            reason=str(d["reason"]),
            message=str(d.get("message", "")),
            revision=str(d.get("revision", "")),
            operation_id=None if op_id is None else int(op_id),
            id=None if event_id is None else int(event_id),
        )

    return _read(doc, "event", read)


def token_to_dict(token: base.TokenRecord) -> dict[str, Any]:
    return {
        "name": token.name,
        "sha256": token.sha256_hash,
        "role": token.role,
        "projects": list(token.projects),
        "createdAt": datetime_to_str(token.created_at, f"creation time of token {token.name}"),
    }


def token_from_dict(doc: Mapping[str, Any]) -> base.TokenRecord:
    return _read(
        doc,
        "token",
        lambda d: base.TokenRecord(
            name=str(d["name"]),
            sha256_hash=str(d["sha256"]),
            role=str(d["role"]),
            projects=tuple(str(p) for p in d["projects"]),
            created_at=datetime_from_str(d["createdAt"], "token createdAt"),
        ),
    )
