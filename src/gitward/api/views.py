"""JSON views of Applications, operations and events, as the API answers them.

Shared by the routes and the live stream (``streaming``), so a status looks
the same whether it was fetched or pushed. Nothing here holds field values of
live or desired objects: conditions and messages are the engine's own words,
drift lists JSON pointers only, plans go through ``engine.reports`` (masked).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gitward.config import applications
from gitward.engine import reports, states
from gitward.model import resources, status
from gitward.store import base as store_base


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def key_dict(key: resources.ResourceKey) -> dict[str, str]:
    return {
        "resource": str(key),
        "group": key.group,
        "kind": key.kind,
        "namespace": key.namespace,
        "name": key.name,
    }


def condition_dict(condition: status.Condition) -> dict[str, Any]:
    return {
        "type": condition.type,
        "status": condition.status,
        "reason": condition.reason,
        "message": condition.message,
        "lastTransitionTime": _time(condition.last_transition),
    }


def resource_dict(row: status.ResourceStatus) -> dict[str, Any]:
    return {
        **key_dict(row.key),
        "sync": row.sync.value,
        "health": row.health.status.value,
        "healthMessage": row.health.message,
        "message": row.message,
    }


def _source(source: applications.Source) -> dict[str, Any]:
    if source.is_chart:
        shown: dict[str, Any] = {"repoURL": source.repo_url, "version": source.version}
        if source.chart:
            shown["chart"] = source.chart
    else:
        shown = {"repoURL": source.repo_url, "ref": source.ref, "path": source.path}
    if source.name:
        shown["name"] = source.name
    return shown


def application(state: states.AppState) -> dict[str, Any]:
    """An Application's definition summary and full status."""
    app = state.app
    spec = app.spec
    return {
        "name": state.name,
        "project": app.metadata.project,
        "labels": dict(app.metadata.labels),
        "file": state.file,
        "source": _source(spec.source),
        "sources": [_source(s) for s in spec.sources],
        "destination": {
            "target": spec.destination.target,
            "namespace": spec.destination.namespace,
        },
        "automated": state.automated,
        "suspended": state.is_suspended,
        "suspendedBySpec": spec.suspend,
        "pinnedRevision": state.pinned_revision,
        "sync": {
            "status": state.sync.value,
            "revision": state.revision,
            "syncedRevision": state.synced_revision,
        },
        "health": {"status": state.health.status.value, "message": state.health.message},
        "ready": state.ready(),
        "conditions": [condition_dict(state.conditions[t]) for t in sorted(state.conditions)],
        "resources": [resource_dict(row) for row in state.resource_statuses],
        "drift": {"since": _time(state.drift_since), "fields": list(state.drifted)}
        if state.drift_since is not None
        else None,
        "lastOperationId": state.last_operation,
        "reconciledAt": _time(state.reconciled_at),
        "message": state.message,
    }


def plan_summary(summary: store_base.PlanSummary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {
        "revision": summary.revision,
        "counts": dict(summary.counts),
        "hooks": summary.hooks,
        "serverSide": summary.server_side,
        "inSync": summary.in_sync,
        "warnings": list(summary.warnings),
    }


def operation(record: store_base.OperationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        **reports.operation_dict(record.operation),
        "plan": plan_summary(record.plan),
    }


def event(record: store_base.EventRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "app": record.app,
        "time": record.time.isoformat(),
        "type": record.type.value,
        "reason": record.reason,
        "message": record.message,
        "revision": record.revision,
        "operationId": record.operation_id,
    }
