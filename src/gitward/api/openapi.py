"""The OpenAPI 3.1 document of the REST API, served at ``GET /api/v1/openapi.json``.

Hand-maintained beside the routes (the tests check that every route of
``gitward.api.app.create`` is described here with its methods, and nothing
more). Schemas describe the JSON views of ``gitward.api.views``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

import gitward

_REF = "#/components/schemas/"
_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "404": {"$ref": "#/components/responses/NotFound"},
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


def _items(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref(name)}},
    }


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
}


def _read(summary: str, response: dict[str, Any], *params: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": list(params),
            "responses": {"200": response, **_ERRORS},
        }
    }


def _action(
    summary: str,
    response: dict[str, Any],
    body: dict[str, Any] | None = None,
    *,
    status: str = "200",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "description": "Needs the admin role on the Application's Project.",
        "security": [{"bearer": []}],
        "parameters": [_NAME],
        "responses": {status: response, **_ERRORS, **(extra or {})},
    }
    if body is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": body}},
        }
    return {"post": operation}


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "reason", "message"],
                "properties": {
                    "status": {"type": "integer"},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "Condition": {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "boolean"},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "lastTransitionTime": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "ResourceStatus": {
        "type": "object",
        "properties": {
            "resource": {"type": "string"},
            "group": {"type": "string"},
            "kind": {"type": "string"},
            "namespace": {"type": "string"},
            "name": {"type": "string"},
            "sync": {"enum": ["Synced", "OutOfSync", "Unknown"]},
            "health": {
                "enum": ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"]
            },
            "healthMessage": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "Application": {
        "type": "object",
        "required": ["name", "project", "sync", "health"],
        "properties": {
            "name": {"type": "string"},
            "project": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "file": {"type": "string"},
            "source": {
                "type": "object",
                "properties": {
                    "repoURL": {"type": "string"},
                    "ref": {"type": "string"},
                    "path": {"type": "string"},
                },
            },
            "destination": {
                "type": "object",
                "properties": {"target": {"type": "string"}, "namespace": {"type": "string"}},
            },
            "automated": {"type": "boolean"},
            "suspended": {"type": "boolean"},
            "suspendedBySpec": {"type": "boolean"},
            "pinnedRevision": {"type": "string"},
            "sync": {
                "type": "object",
                "properties": {
                    "status": {"enum": ["Synced", "OutOfSync", "Unknown"]},
                    "revision": {"type": "string"},
                    "syncedRevision": {"type": "string"},
                },
            },
            "health": {
                "type": "object",
                "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
            },
            "ready": {"type": "boolean"},
            "conditions": {"type": "array", "items": _ref("Condition")},
            "resources": {"type": "array", "items": _ref("ResourceStatus")},
            "drift": {
                "type": ["object", "null"],
                "properties": {
                    "since": {"type": "string", "format": "date-time"},
                    "fields": {"type": "array", "items": {"type": "string"}},
                },
            },
            "lastOperationId": {"type": ["integer", "null"]},
            "reconciledAt": {"type": ["string", "null"], "format": "date-time"},
            "message": {"type": "string"},
        },
    },
    "Revision": {
        "type": "object",
        "properties": {
            "sha": {"type": "string"},
            "ref": {"type": "string"},
            "author": {"type": "string"},
            "message": {"type": "string"},
            "committedAt": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Plan": {
        "type": "object",
        "description": "What a sync would do; Secret values are masked.",
        "properties": {
            "app": {"type": "string"},
            "revision": {"type": "string"},
            "serverSide": {"type": "boolean"},
            "inSync": {"type": "boolean"},
            "summary": {"type": "object", "additionalProperties": {"type": "integer"}},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "changes": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Diff": {
        "type": "object",
        "properties": {
            "app": {"type": "string"},
            "revision": _ref("Revision"),
            "plan": _ref("Plan"),
            "text": {"type": "string", "description": "The Plan as `gitward diff` prints it."},
        },
    },
    "Operation": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "app": {"type": "string"},
            "revision": _ref("Revision"),
            "trigger": {"type": "string"},
            "phase": {"enum": ["Running", "Succeeded", "Failed"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "dryRun": {"type": "boolean"},
            "startedAt": {"type": "string", "format": "date-time"},
            "finishedAt": {"type": ["string", "null"], "format": "date-time"},
            "results": {"type": "array", "items": {"type": "object"}},
            "plan": {"type": ["object", "null"]},
        },
    },
    "NotificationDelivery": {
        "type": "object",
        "description": "One notification: sent, retrying, pending, failed or dropped, and why.",
        "properties": {
            "id": {"type": "integer"},
            "provider": {"type": "string"},
            "alert": {"type": "string"},
            "app": {"type": "string"},
            "reason": {"type": "string", "description": "The event reason."},
            "message": {"type": "string"},
            "status": {"enum": ["pending", "success", "failure", None]},
            "state": {"enum": ["pending", "retrying", "sent", "failed", "dropped"]},
            "attempts": {"type": "integer"},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": ["string", "null"], "format": "date-time"},
            "nextAttemptAt": {"type": ["string", "null"], "format": "date-time"},
            "error": {"type": "string"},
            "eventId": {"type": ["integer", "null"]},
        },
    },
    "DeliveryFigures": {
        "type": "object",
        "properties": {
            "deploymentFrequency": {
                "type": "object",
                "properties": {
                    "deployments": {"type": "integer"},
                    "perDay": {"type": "number"},
                    "perWeek": {"type": "number"},
                },
            },
            "leadTimeForChanges": {
                "type": "object",
                "description": "Commit time to Synced and Healthy, in seconds.",
                "properties": {
                    "commits": {"type": "integer"},
                    "p50": {"type": ["number", "null"]},
                    "p90": {"type": ["number", "null"]},
                    "unit": {"const": "seconds"},
                },
            },
            "changeFailureRate": {
                "type": "object",
                "properties": {
                    "deployments": {"type": "integer"},
                    "failed": {"type": "integer"},
                    "rate": {"type": ["number", "null"]},
                    "windowSeconds": {"type": "number"},
                },
            },
            "timeToRestore": {
                "type": "object",
                "description": "Failed sync or Degraded to Healthy again, in seconds.",
                "properties": {
                    "incidents": {"type": "integer"},
                    "restored": {"type": "integer"},
                    "open": {"type": "integer"},
                    "p50": {"type": ["number", "null"]},
                    "p90": {"type": ["number", "null"]},
                    "mean": {"type": ["number", "null"]},
                    "unit": {"const": "seconds"},
                },
            },
        },
    },
    "DeliveryReport": {
        "allOf": [
            _ref("DeliveryFigures"),
            {
                "type": "object",
                "properties": {
                    "since": {"type": "string", "format": "date-time"},
                    "until": {"type": "string", "format": "date-time"},
                    "scope": {
                        "type": "object",
                        "properties": {
                            k: {"type": ["string", "null"]} for k in ("app", "project", "target")
                        },
                    },
                    "applications": {
                        "type": "array",
                        "items": {
                            "allOf": [
                                _ref("DeliveryFigures"),
                                {"type": "object", "properties": {"name": {"type": "string"}}},
                            ]
                        },
                    },
                    "series": {
                        "type": "array",
                        "description": "The figures per day (per week beyond 60 days).",
                        "items": {
                            "type": "object",
                            "properties": {
                                "start": {"type": "string", "format": "date-time"},
                                "deployments": {"type": "integer"},
                                "failed": {"type": "integer"},
                                "leadTimeP50": {"type": ["number", "null"]},
                                "timeToRestoreP50": {"type": ["number", "null"]},
                            },
                        },
                    },
                },
            },
        ]
    },
    "Target": {
        "type": "object",
        "description": "A target and whether it answers (engine.reachability).",
        "properties": {
            "name": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "reachable": {"type": ["boolean", "null"], "description": "null: not probed yet."},
            "server": {"type": "string"},
            "version": {"type": "string"},
            "lastError": {"type": "string"},
            "since": {"type": ["string", "null"], "format": "date-time"},
            "checkedAt": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Rollout": {
        "type": "object",
        "description": "An ApplicationSet and where its rollout stands.",
        "properties": {
            "name": {"type": "string"},
            "phase": {"enum": ["Progressing", "Completed", "Paused", "Failed"]},
            "currentStep": {"type": "integer", "description": "0-based; = steps when done."},
            "paused": {"type": "boolean"},
            "promotedThrough": {"type": "integer", "description": "-1: no step promoted."},
            "broken": {"type": "array", "items": {"type": "string"}},
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer"},
                        "selector": {"type": "string"},
                        "open": {"type": "boolean"},
                        "apps": {"type": "array", "items": {"type": "string"}},
                        "done": {"type": "array", "items": {"type": "string"}},
                        "waiting": {"type": "array", "items": {"type": "string"}},
                        "broken": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "Event": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "app": {"type": "string", "description": "Empty for agent-wide events."},
            "time": {"type": "string", "format": "date-time"},
            "type": {"enum": ["Normal", "Warning"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "revision": {"type": "string"},
            "operationId": {"type": ["integer", "null"]},
        },
    },
    "SyncRequest": {
        "type": "object",
        "properties": {
            "prune": {"type": ["boolean", "null"], "description": "Default: the sync policy's."},
            "dryRun": {"type": "boolean"},
            "revision": {"type": "string", "description": "A ref or commit; default: the app's."},
            "resources": {
                "type": "array",
                "description": (
                    "Sync only these resources: 'Kind.group namespace/name', "
                    "'kind[.group]/[namespace/]name', or {group, kind, namespace, name}."
                ),
                "items": {
                    "oneOf": [
                        {"type": "string"},
                        {
                            "type": "object",
                            "required": ["kind", "name"],
                            "properties": {
                                "group": {"type": "string"},
                                "kind": {"type": "string"},
                                "namespace": {"type": "string"},
                                "name": {"type": "string"},
                            },
                        },
                    ]
                },
            },
        },
    },
    "SyncResult": {
        "type": "object",
        "properties": {
            "app": {"type": "string"},
            "operationId": {"type": ["integer", "null"]},
            "operation": _ref("Operation"),
            "plan": _ref("Plan"),
        },
    },
    "RollbackRequest": {
        "type": "object",
        "properties": {
            "to": {"type": "string", "description": "Pin the Application to this revision."},
            "commit": {"type": "string", "description": "Revert this commit in Git."},
        },
    },
    "RollbackResult": {
        "type": "object",
        "properties": {
            "app": {"type": "string"},
            "mode": {"enum": ["revert", "pin"]},
            "revision": {"type": "string"},
            "reverted": {"type": "array", "items": {"type": "string"}},
            "pushedSha": {"type": "string"},
        },
    },
}

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


def _paths() -> dict[str, Any]:
    text = {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    base = "/api/v1/applications/{name}"
    return {
        "/healthz": {"get": {"summary": "Liveness.", "security": [], "responses": {"200": text}}},
        "/readyz": {
            "get": {
                "summary": "Readiness: 503 until the Applications are loaded from Git.",
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


def document(extra_paths: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI document; ``extra_paths`` describes routes added by a hook."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gitward API",
            "version": gitward.__version__,
            "description": (
                "Applications, operations, events and actions of a gitward agent. "
                "Send 'Authorization: Bearer <token>' (see `gitward token create`). "
                "Secret data is masked in every answer."
            ),
        },
        "paths": {**_paths(), **(extra_paths or {})},
        "components": {
            "schemas": _SCHEMAS,
            "responses": {
                name: _json(_ref("Error"), description)
                for name, description in (
                    ("BadRequest", "Malformed parameter or body."),
                    ("Unauthorized", "No valid token."),
                    ("Forbidden", "The token's role or Projects do not allow this."),
                    ("NotFound", "No such Application or operation."),
                )
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def routes(extra_paths: dict[str, Any] | None = None) -> list[BaseRoute]:
    doc = document(extra_paths)

    async def serve(request: Request) -> Response:
        return JSONResponse(doc)

    return [Route("/api/v1/openapi.json", serve, methods=["GET"])]
