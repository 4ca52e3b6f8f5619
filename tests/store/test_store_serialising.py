"""Round trips of every to/from-dict pair of gitward.store.serialising, and its refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gitward import errors
from gitward.model import operations, plans, status
from gitward.store import base, serialising
from tests.store import records

ROUND_TRIPS: list[tuple[str, Any, Callable[[Any], Any], Callable[[Any], Any]]] = [
    ("key", records.key(), serialising.key_to_dict, serialising.key_from_dict),
    (
        "core key",
        records.key("ns", kind="Namespace", group=""),
        serialising.key_to_dict,
        serialising.key_from_dict,
    ),
    ("revision", records.revision(), serialising.revision_to_dict, serialising.revision_from_dict),
    (
        "bare revision",
        operations.Revision(sha="c" * 40),
        serialising.revision_to_dict,
        serialising.revision_from_dict,
    ),
    *[
        (f"result {i}", r, serialising.result_to_dict, serialising.result_from_dict)
        for i, r in enumerate(records.results())
    ],
    (
        "running operation",
        records.operation(),
        serialising.operation_to_dict,
        serialising.operation_from_dict,
    ),
    (
        "finished operation",
        replace(records.finished(records.operation()), dry_run=True),
        serialising.operation_to_dict,
        serialising.operation_from_dict,
    ),
    (
        "health",
        status.HealthResult(status.HealthStatus.MISSING, "not found"),
        serialising.health_to_dict,
        serialising.health_from_dict,
    ),
    *[
        (f"condition {i}", c, serialising.condition_to_dict, serialising.condition_from_dict)
        for i, c in enumerate(records.app().conditions)
    ],
    *[
        (
            f"resource {i}",
            r,
            serialising.resource_status_to_dict,
            serialising.resource_status_from_dict,
        )
        for i, r in enumerate(records.app().resources)
    ],
    (
        "plan summary",
        records.plan_summary(),
        serialising.plan_summary_to_dict,
        serialising.plan_summary_from_dict,
    ),
    ("app", records.app(), serialising.app_to_dict, serialising.app_from_dict),
    (
        "minimal app",
        base.AppRecord(name="bare"),
        serialising.app_to_dict,
        serialising.app_from_dict,
    ),
    (
        "suspended pinned app",
        replace(
            records.app(), suspended=True, pinned_revision="d" * 40, plan=None, synced_revision=None
        ),
        serialising.app_to_dict,
        serialising.app_from_dict,
    ),
    (
        "event",
        replace(records.event(), id=12),
        serialising.event_to_dict,
        serialising.event_from_dict,
    ),
    (
        "token",
        base.TokenRecord("ci", "0" * 64, "admin", ("web", "api"), records.T0),
        serialising.token_to_dict,
        serialising.token_from_dict,
    ),
]


@pytest.mark.parametrize(
    ("value", "to_dict", "from_dict"),
    [case[1:] for case in ROUND_TRIPS],
    ids=[case[0] for case in ROUND_TRIPS],
)
def test_round_trip_through_json(
    value: Any, to_dict: Callable[[Any], Any], from_dict: Callable[[Any], Any]
) -> None:
    document = json.loads(json.dumps(to_dict(value)))
    assert from_dict(document) == value


def test_datetimes_are_iso_8601_utc_and_enums_by_value() -> None:
    doc = serialising.operation_to_dict(records.finished(records.operation()))
    assert doc["startedAt"] == "2026-11-23T10:00:00.123456Z"
    assert doc["revision"]["committedAt"] == "2026-11-23T10:00:00Z"  # 11:00 at UTC+1
    assert doc["phase"] == "Succeeded"
    assert doc["results"][0] == {
        "kind": "Namespace",
        "name": "ns",
        "namespace": "web",
        "action": "create",
        "code": "Created",
        "phase": "PreSync",
        "wave": -1,
    }
    # Defaults are left out of the bulky per-resource rows.
    assert doc["results"][2] == {
        "kind": "ConfigMap",
        "name": "cm-0",
        "namespace": "web",
        "action": "unchanged",
        "code": "Unchanged",
    }
    parsed = serialising.datetime_from_str("2026-11-23T11:00:00+01:00", "t")
    assert parsed == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert parsed.tzinfo is UTC


def test_a_naive_datetime_is_refused_not_guessed() -> None:
    naive = datetime(2026, 11, 23, 10, 0)
    with pytest.raises(base.InvalidRecord, match="status of app web-staging"):
        serialising.app_to_dict(replace(records.app(), updated_at=naive))
    with pytest.raises(base.InvalidRecord, match="condition Synced"):
        serialising.condition_to_dict(
            status.Condition("Synced", False, "ApplyFailed", last_transition=naive)
        )
    with pytest.raises(base.InvalidRecord, match="no timezone"):
        serialising.datetime_from_str("2026-11-23T10:00:00", "event time")
    assert serialising.utc(
        datetime(2026, 1, 1, 5, tzinfo=timezone(timedelta(hours=5))), "t"
    ) == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("from_dict", "document", "message"),
    [
        (serialising.operation_from_dict, {"app": "web"}, "missing field 'revision'"),
        (
            serialising.operation_from_dict,
            {**serialising.operation_to_dict(records.operation()), "phase": "Paused"},
            "Paused",
        ),
        (
            serialising.result_from_dict,
            {"kind": "Pod", "name": "p", "action": "explode"},
            "explode",
        ),
        (
            serialising.condition_from_dict,
            {"type": "Synced", "status": "yes", "reason": "x"},
            "boolean",
        ),
        (serialising.app_from_dict, ["not", "an", "object"], "expected an object"),
        (serialising.app_from_dict, {"name": "web", "project": "p", "sync": "Synced"}, "'health'"),
        (serialising.event_from_dict, {"app": "web", "time": "yesterday"}, "not an ISO 8601"),
        (
            serialising.plan_summary_from_dict,
            {"revision": "r", "counts": {"create": "many"}},
            "plan summary",
        ),
    ],
)
def test_malformed_documents_raise_invalid_record(
    from_dict: Callable[[Any], Any], document: Any, message: str
) -> None:
    with pytest.raises(base.InvalidRecord, match=message) as caught:
        from_dict(document)
    assert isinstance(caught.value, errors.InputError)


def test_plan_summary_counts_a_plan_without_its_values() -> None:
    key = records.key()
    plan = plans.Plan(
        app="web",
        revision="e" * 40,
        changes=(
            plans.Change(key=key, action=plans.Action.UPDATE),
            plans.Change(key=records.key("gone"), action=plans.Action.PRUNE),
            plans.Change(key=records.key("hook"), action=plans.Action.CREATE, hook=True),
            plans.Change(key=records.key("same"), action=plans.Action.UNCHANGED),
        ),
        server_side=False,
        warnings=("structural comparison",),
    )
    summary = base.PlanSummary.of(plan)
    assert summary == base.PlanSummary(
        revision="e" * 40,
        counts={"create": 0, "update": 1, "unchanged": 1, "prune": 1, "skip": 0},
        hooks=1,
        server_side=False,
        warnings=("structural comparison",),
    )
    assert not summary.in_sync
    assert base.PlanSummary("r", {"unchanged": 3, "skip": 1}).in_sync
