"""Text and JSON views of a Plan (``gitward diff`` and ``-o json``)."""

from __future__ import annotations

import json

import planobjects as k8s

from gitward.diff import base, planning, reports
from gitward.model import plans, resources


def _plan() -> plans.Plan:
    web = k8s.deployment(replicas=5)
    web["metadata"]["labels"]["tier"] = "frontend"
    live_web = k8s.as_live(k8s.deployment(replicas=3))
    live_web["spec"]["paused"] = True
    live_web["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:paused"] = {}
    hook = k8s.tracked(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "migrate",
                "namespace": "shop",
                "annotations": {resources.HOOK_ANNOTATION: "PreSync"},
            },
        }
    )
    same = k8s.configmap("same", a="1")
    new = k8s.configmap("new", a="1")
    new["metadata"]["annotations"][resources.SYNC_WAVE_ANNOTATION] = "1"
    old = k8s.as_live(k8s.configmap("old"), uid="u-old")
    manifests = [
        resources.Manifest.from_body(b, f"{b['metadata']['name']}.yaml")
        for b in (web, hook, same, new)
    ]
    live = {m.key: None for m in manifests}
    live[manifests[0].key] = live_web
    live[manifests[2].key] = k8s.as_live(same)
    return planning.build(
        "shop", "0123456789abcdef", manifests, live, [live_web, old], base.PlanOptions(prune=True)
    )


def test_text() -> None:
    assert reports.text(_plan()) == (
        "Plan for shop at 0123456789ab (structural comparison): 1 to create, 1 to update, "
        "1 to prune, 0 skipped, 1 unchanged\n"
        "+ create Job.batch shop/migrate (PreSync hook; hook: created on every sync)\n"
        "~ update Deployment.apps shop/web (live differs from Git)\n"
        '    + /metadata/labels/tier: "frontend"\n'
        "    - /spec/paused\n"
        "    ~ /spec/replicas: 3 → 5\n"
        "+ create ConfigMap shop/new (wave 1; not on the target)\n"
        "- prune ConfigMap shop/old (no longer in Git)\n"
    )


def test_text_with_unchanged_and_in_sync() -> None:
    same = k8s.configmap("same")
    manifest = resources.Manifest.from_body(same)
    plan = planning.build(
        "shop", "", [manifest], {manifest.key: k8s.as_live(same)}, [], base.PlanOptions()
    )
    assert reports.text(plan, show_unchanged=True).splitlines()[1:] == [
        "= unchanged ConfigMap shop/same",
        "In sync: nothing to create, update or prune.",
    ]
    assert "(unknown revision)" in reports.text(plan)


def test_long_values_are_cut_in_text_only() -> None:
    change = plans.FieldChange("/data/big", None, "x" * 500)
    assert len(reports.field_line(change)) < 220
    assert reports.field_line(change).endswith("…")


def test_to_dict_is_json_ready() -> None:
    data = reports.to_dict(_plan())
    assert json.loads(json.dumps(data)) == data
    assert data["summary"] == {"create": 1, "update": 1, "unchanged": 1, "prune": 1, "skip": 0}
    assert data["serverSide"] is False and data["inSync"] is False
    assert data["matchesGit"] is False
    web = next(c for c in data["changes"] if c["name"] == "web")
    assert web == {
        "resource": "Deployment.apps shop/web",
        "group": "apps",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "action": "update",
        "phase": "Sync",
        "wave": 0,
        "hook": False,
        "adopt": False,
        "reason": "live differs from Git",
        "source": "web.yaml",
        "fieldChanges": [
            {"path": "/metadata/labels/tier", "before": None, "after": "frontend"},
            {"path": "/spec/paused", "before": True, "after": None},
            {"path": "/spec/replicas", "before": 3, "after": 5},
        ],
    }


def test_objects_another_tool_applied_as_git_says_are_adoptions() -> None:
    stamped = k8s.configmap("imported", a="1")  # as gitward prepares it: tracking stamped
    by_other_tool = {
        **stamped,
        "metadata": {"name": "imported", "namespace": "shop", "labels": {"owner": "argocd"}},
    }
    stamped["metadata"]["labels"] = {**stamped["metadata"]["labels"], "owner": "argocd"}
    live = k8s.as_live(by_other_tool, manager="argocd-controller")
    manifest = resources.Manifest.from_body(stamped)
    plan = planning.build("shop", "", [manifest], {manifest.key: live}, [], base.PlanOptions())
    (change,) = plan.changes
    assert change.adopt and change.action is plans.Action.UPDATE
    assert not plan.in_sync and plan.matches_git
    assert "adopted by the next sync" in reports.text(plan)
    # Any other difference is a real update.
    changed = {**stamped, "data": {"a": "2"}}
    manifest = resources.Manifest.from_body(changed)
    plan = planning.build("shop", "", [manifest], {manifest.key: live}, [], base.PlanOptions())
    assert not plan.changes[0].adopt and not plan.matches_git
