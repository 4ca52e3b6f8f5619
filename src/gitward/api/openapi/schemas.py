"""The schemas of the JSON views (``gitward.api.views``) and request bodies."""

from __future__ import annotations

from typing import Any

from gitward.api.openapi.common import _ref

SCHEMAS: dict[str, Any] = {
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
    "Replicas": {
        "type": "object",
        "description": "enabled false: a single replica owns every Application.",
        "required": ["enabled", "coordinator", "applications", "members", "handoffs"],
        "properties": {
            "enabled": {"type": "boolean"},
            "coordinator": {"type": "string", "description": "Where the leases are."},
            "identity": {"type": "string", "description": "The replica that answered."},
            "fence": {"type": "string", "description": "Its fencing token ('' when none)."},
            "view": {"type": "integer", "description": "Member set changes it has seen."},
            "applications": {"type": "integer"},
            "unowned": {"type": "integer"},
            "settling": {"type": "integer"},
            "renewFailures": {"type": "integer"},
            "timings": {
                "type": ["object", "null"],
                "properties": {
                    "leaseDuration": {"type": "number"},
                    "renewDeadline": {"type": "number"},
                    "retryPeriod": {"type": "number"},
                },
            },
            "members": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "identity": {"type": "string"},
                        "address": {"type": "string"},
                        "lease": {"type": "string"},
                        "fence": {"type": "string"},
                        "acquiredAt": {"type": "string", "format": "date-time"},
                        "renewedAt": {"type": "string", "format": "date-time"},
                        "expiresAt": {"type": "string", "format": "date-time"},
                        "owned": {"type": "integer"},
                        "me": {"type": "boolean"},
                    },
                },
            },
            "handoffs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "app": {"type": "string"},
                        "from": {"type": "string"},
                        "to": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    },
}
