"""Who changed a drifted field, from managedFields as the API server writes them."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.diff import attributing


def _live() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "managedFields": [
                {
                    "manager": "gitward",
                    "operation": "Apply",
                    "time": "2026-12-04T13:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:spec": {
                            "f:template": {
                                "f:spec": {
                                    "f:containers": {
                                        'k:{"name":"web"}': {".": {}, "f:name": {}, "f:image": {}}
                                    }
                                }
                            }
                        }
                    },
                },
                {
                    "manager": "kubectl",
                    "operation": "Update",
                    "subresource": "scale",
                    "time": "2026-12-04T14:02:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}},
                },
                {
                    "manager": "kubectl-edit",
                    "operation": "Update",
                    "time": "2026-12-04T14:05:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:spec": {
                            "f:template": {
                                "f:spec": {
                                    "f:containers": {
                                        'k:{"name":"web"}': {
                                            "f:resources": {".": {}, "f:limits": {}}
                                        }
                                    }
                                }
                            }
                        }
                    },
                },
                {
                    "manager": "dashboard",
                    "operation": "Update",
                    "time": "2026-12-04T14:07:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {"f:tier": {}}}},
                },
            ],
            "labels": {"tier": "front"},
        },
        "spec": {
            "replicas": 5,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "web:1", "resources": {"limits": {"cpu": "2"}}}
                    ]
                }
            },
        },
    }


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("/spec/replicas", "kubectl (Update via scale) at 2026-12-04T14:02:00Z"),
        (
            "/spec/template/spec/containers/0/resources/limits/cpu",
            "kubectl-edit (Update) at 2026-12-04T14:05:00Z",
        ),
        ("/metadata/labels/tier", "dashboard (Update) at 2026-12-04T14:07:00Z"),
        ("/spec/template/spec/containers/0/image", None),  # only gitward owns it
        ("/spec/paused", None),  # nobody owns it
        ("not a pointer", None),
    ],
)
def test_the_deepest_other_owner_is_named(pointer: str, expected: str | None) -> None:
    found = attributing.who(_live(), pointer)
    assert (found.describe() if found else None) == expected


def test_objects_without_managed_fields_name_nobody() -> None:
    assert attributing.who({"metadata": {}}, "/spec/replicas") is None
    assert attributing.who(None, "/spec/replicas") is None
