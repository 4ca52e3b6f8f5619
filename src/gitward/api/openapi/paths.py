"""Every route of the API, described: what it does, its parameters and answers."""

from __future__ import annotations

from typing import Any

from gitward.api.openapi.common import _ERRORS, _LIMIT, _NAME, _action, _items, _json, _read, _ref

_APPLICATION_FILTERS: list[dict[str, Any]] = [
    {"name": "project", "in": "query", "schema": {"type": "string"}},
    {"name": "sync", "in": "query", "schema": {"enum": ["Synced", "OutOfSync", "Unknown"]}},
    {"name": "health", "in": "query", "schema": {"type": "string"}},
    {
        "name": "label",
        "in": "query",
        "description": "key=value; repeat for several labels (all must match).",
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": True,
    },
]

_CURSORS: list[dict[str, Any]] = [
    _LIMIT,
    {"name": "after", "in": "query", "schema": {"type": "integer"}},
    {"name": "before", "in": "query", "schema": {"type": "integer"}},
]


def paths() -> dict[str, Any]:
    text = {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    base = "/api/v1/applications/{name}"
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness: 503 with the reason while the store fails.",
                "security": [],
                "responses": {"200": text, "503": text},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: 503 with the reason until the Applications are loaded.",
                "security": [],
                "responses": {"200": text, "503": text},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics; needs read access to every Project.",
                "security": [{"bearer": []}],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_ERRORS,
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document.",
                "security": [],
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/api/v1/webhooks": {
            "post": {
                "summary": "Push webhooks (GitHub, GitLab, Gitea, Bitbucket).",
                "description": "Authenticated by each repository's own shared secret.",
                "security": [],
                "responses": {
                    "200": _json({"type": "object"}),
                    "401": _json(_ref("Error")),
                    "413": _json(_ref("Error")),
                },
            }
        },
        "/api/v1/applications": _read(
            "List Applications the caller may read.",
            _json(_items("Application")),
            *_APPLICATION_FILTERS,
        ),
        base: _read("One Application with its status.", _json(_ref("Application")), _NAME),
        f"{base}/diff": _read(
            "The current Plan against the target (Secret values masked).",
            _json(_ref("Diff")),
            _NAME,
            {"name": "revision", "in": "query", "schema": {"type": "string"}},
        ),
        f"{base}/operations": _read(
            "Operations history, newest first.",
            _json(_items("Operation")),
            _NAME,
            _LIMIT,
            {"name": "before", "in": "query", "schema": {"type": "integer"}},
        ),
        f"{base}/events": _read(
            "Events of one Application, oldest first.", _json(_items("Event")), _NAME, *_CURSORS
        ),
        "/api/v1/operations/{id}": _read(
            "One operation.",
            _json(_ref("Operation")),
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
        ),
        "/api/v1/delivery": _read(
            "Delivery (DORA) figures over a window, computed from the history.",
            _json(_ref("DeliveryReport")),
            {"name": "app", "in": "query", "schema": {"type": "string"}},
            {"name": "project", "in": "query", "schema": {"type": "string"}},
            {"name": "target", "in": "query", "schema": {"type": "string"}},
            {
                "name": "since",
                "in": "query",
                "description": "Window: 30d, 2w, 12h (default deliveryMetrics.window).",
                "schema": {"type": "string"},
            },
        ),
        "/api/v1/notifications/deliveries": _read(
            "The notification delivery log, newest first.",
            _json(_items("NotificationDelivery")),
            {"name": "app", "in": "query", "schema": {"type": "string"}},
            {"name": "provider", "in": "query", "schema": {"type": "string"}},
            {
                "name": "state",
                "in": "query",
                "schema": {"enum": ["pending", "sent", "failed", "dropped"]},
            },
            _LIMIT,
            {"name": "before", "in": "query", "schema": {"type": "integer"}},
        ),
        "/api/v1/events": _read(
            "The event log, oldest first; `after` is a cursor.",
            _json(_items("Event")),
            {"name": "app", "in": "query", "schema": {"type": "string"}},
            *_CURSORS,
        ),
        "/api/v1/stream": _read(
            "Server-sent events: `app` (status), `event` (log, with ids), heartbeats.",
            {"description": "OK", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            {"name": "app", "in": "query", "schema": {"type": "string"}},
            {"name": "after", "in": "query", "schema": {"type": "integer"}},
            {"name": "Last-Event-ID", "in": "header", "schema": {"type": "integer"}},
        ),
        f"{base}/refresh": _action(
            "Queue a reconcile now.", _json({"type": "object"}, "Queued"), status="202"
        ),
        f"{base}/sync": _action(
            "Sync now (optionally dry-run, prune, a revision, selected resources).",
            _json(_ref("SyncResult")),
            _ref("SyncRequest"),
            extra={"422": _json(_ref("Error"))},
        ),
        f"{base}/rollback": _action(
            "Roll back by reverting in Git or pinning a revision.",
            _json(_ref("RollbackResult")),
            _ref("RollbackRequest"),
            extra={"422": _json(_ref("Error"))},
        ),
        f"{base}/suspend": _action("Stop reconciling until resumed.", _json(_ref("Application"))),
        f"{base}/resume": _action("Reconcile again.", _json(_ref("Application"))),
        "/api/v1/targets": _read(
            "Every target: labels, whether it answers, API version, last error, since when.",
            _json(_items("Target")),
        ),
        "/api/v1/replicas": _read(
            "The replicas sharing the work: members, leases, Applications each owns, handoffs.",
            _json(_ref("Replicas")),
        ),
        "/api/v1/appsets": _read(
            "ApplicationSets of the Projects the caller may read, with their rollouts.",
            _json(_items("Rollout")),
        ),
        "/api/v1/appsets/{name}": _read(
            "One ApplicationSet's rollout.", _json(_ref("Rollout")), _NAME
        ),
        **{
            f"/api/v1/appsets/{{name}}/{verb}": _appset_action(summary)
            for verb, summary in (
                ("pause", "Hold the rollout: no Application of the set takes a new revision."),
                ("resume", "Let a paused rollout go on."),
                ("promote", "Open the next step now, whatever the state of the current one."),
            )
        },
    }


def _appset_action(summary: str) -> dict[str, Any]:
    described = _action(summary, _json(_ref("Rollout")))
    described["post"]["description"] = "Needs the admin role on the ApplicationSet's Project."
    return described
