"""Side-by-side diff views of a Plan: rows, masking, anchors (pure, table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.model import plans, resources
from gitward.web import diffs

CM = resources.ResourceKey("", "ConfigMap", "web", "settings")
SECRET = resources.ResourceKey("", "Secret", "web", "credentials")


def manifest(key: resources.ResourceKey, body: dict[str, Any]) -> resources.Manifest:
    base = {
        "apiVersion": "v1",
        "kind": key.kind,
        "metadata": {"name": key.name, "namespace": key.namespace},
    }
    return resources.Manifest(key=key, body={**base, **body}, source="web/x.yaml#0")


@pytest.mark.parametrize(
    ("before", "after", "kind", "mark", "live", "git"),
    [
        ("blue", "green", "changed", "~", '"blue"', '"green"'),
        (None, 3, "added", "+", "", "3"),
        (True, None, "removed", "\N{MINUS SIGN}", "true", ""),
        ({"a": 1}, {"a": 2}, "changed", "~", "a: 1\n", "a: 2\n"),
        ("x" * 5000, "y", "changed", "~", '"' + "x" * (diffs.MAX_VALUE_CHARS - 2) + "…", '"y"'),
    ],
)
def test_row(before: Any, after: Any, kind: str, mark: str, live: str, git: str) -> None:
    row = diffs.row("/data/value", before, after)
    assert (row.kind, row.mark, row.live, row.git) == (kind, mark, live, git)


def test_views_keep_changes_only_and_mask_secrets_even_if_the_plan_did_not() -> None:
    plan = plans.Plan(
        app="web",
        revision="a" * 40,
        changes=(
            plans.Change(
                CM,
                plans.Action.UPDATE,
                desired=manifest(CM, {"data": {"value": "green"}}),
                field_changes=(plans.FieldChange("/data/value", "blue", "green"),),
                reason="changed in Git",
            ),
            # A plan built carelessly, with clear Secret values: still masked.
            plans.Change(
                SECRET,
                plans.Action.UPDATE,
                desired=manifest(SECRET, {"stringData": {"password": "hunter2"}}),
                field_changes=(plans.FieldChange("/data/password", "b2xk", "aHVudGVyMg=="),),
            ),
            plans.Change(
                resources.ResourceKey("", "Secret", "web", "new"),
                plans.Action.CREATE,
                desired=manifest(
                    resources.ResourceKey("", "Secret", "web", "new"),
                    {"stringData": {"token": "s3cr3t-value"}},
                ),
            ),
            plans.Change(
                resources.ResourceKey("", "Service", "web", "same"), plans.Action.UNCHANGED
            ),
            plans.Change(resources.ResourceKey("", "ConfigMap", "web", "old"), plans.Action.PRUNE),
        ),
    )
    view = diffs.views(plan)
    assert [c.resource for c in view.changes] == [
        "ConfigMap web/settings",
        "Secret web/credentials",
        "Secret web/new",
        "ConfigMap web/old",
    ]
    assert not view.in_sync
    assert view.summary == {"create": 1, "update": 2, "unchanged": 1, "prune": 1, "skip": 0}
    cm, secret, created, pruned = view.changes
    assert cm.rows == (diffs.Row("/data/value", '"blue"', '"green"', "changed"),)
    assert (cm.reason, cm.source, cm.summary) == ("changed in Git", "web/x.yaml#0", "1 changed")
    text = repr(view)
    for clear in ("b2xk", "aHVudGVyMg==", "hunter2", "s3cr3t-value"):
        assert clear not in text
    assert plans.MASK in secret.rows[0].live and plans.MASK in secret.rows[0].git
    assert "token:" in created.created_body and plans.MASK in created.created_body
    assert (pruned.action, pruned.rows, pruned.created_body) == ("prune", (), "")


def test_anchors_are_html_ids_and_distinct() -> None:
    a = diffs.anchor("ConfigMap web/a.b")
    b = diffs.anchor("ConfigMap web/a-b")
    assert a != b
    assert a.startswith("diff-configmap-web-a-b-")
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in a + diffs.anchor("Ünïcode/ç"))
