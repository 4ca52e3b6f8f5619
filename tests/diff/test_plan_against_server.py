"""Plans against the Kubernetes API test server: apply, re-plan, expect no change.

The structural path and the server-side dry-run path must agree with what a
real apply did: nothing to do after an apply, the same field changes after
someone edits the live object, and an HPA-style scale ignored by rule.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from gitward.diff import base, planning, reports
from gitward.model import plans, resources
from gitward.targets.kubernetes import KubernetesTarget
from gitward.testing import kubeapi

APP = "shop"
PRUNE = base.PlanOptions(prune=True)

pytestmark = pytest.mark.usefixtures("isolated_home")


def _manifests(replicas: int = 2, db_value: str = "first-value") -> list[resources.Manifest]:
    bodies: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "shop"},
            "data": {"mode": "fast"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "shop"},
            "stringData": {"password": db_value},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.27",
                                "ports": [{"containerPort": 80}],
                                "resources": {"limits": {"cpu": 1, "memory": "1024Mi"}},
                            }
                        ]
                    },
                },
            },
        },
    ]
    return [resources.Manifest.from_body(b, f"{b['metadata']['name']}.yaml") for b in bodies]


async def _plan(
    target: KubernetesTarget,
    manifests: list[resources.Manifest],
    *,
    server_side: bool,
    options: base.PlanOptions = PRUNE,
) -> plans.Plan:
    prepared = await target.prepare(manifests, app=APP, namespace="shop")
    live = await target.read([m.key for m in prepared])
    inventory = await target.inventory(APP)
    predicted = None
    if server_side:
        existing = [m for m in prepared if live.get(m.key) is not None]
        results = await asyncio.gather(*(target.dry_run(m, force=True) for m in existing))
        predicted = {m.key: dict(r) for m, r in zip(existing, results, strict=True)}
    return planning.build(APP, "c0ffee", prepared, live, inventory, options, predicted=predicted)


async def _apply(target: KubernetesTarget, manifests: list[resources.Manifest]) -> None:
    for manifest in await target.prepare(manifests, app=APP, namespace="shop"):
        await target.apply(manifest, force=False)


@pytest.mark.parametrize("server_side", [False, True])
async def test_apply_then_replan_is_unchanged(target: KubernetesTarget, server_side: bool) -> None:
    first = await _plan(target, _manifests(), server_side=server_side)
    assert [c.action for c in first.changes] == [plans.Action.CREATE] * 4
    await _apply(target, _manifests())
    again = await _plan(target, _manifests(), server_side=server_side)
    assert again.in_sync, [(str(c.key), c.field_changes) for c in again.changes if c.is_change]
    assert {c.action for c in again.changes} == {plans.Action.UNCHANGED}


@pytest.mark.parametrize("server_side", [False, True])
async def test_changes_in_git_and_removed_objects(
    target: KubernetesTarget, server_side: bool
) -> None:
    await _apply(target, _manifests())
    changed = _manifests(replicas=4, db_value="rotated-value")
    del changed[1]  # the ConfigMap leaves Git
    plan = await _plan(target, changed, server_side=server_side)
    rows = {(str(c.key), c.action) for c in plan.changes}
    assert ("ConfigMap shop/settings", plans.Action.PRUNE) in rows
    web = next(c for c in plan.changes if c.key.name == "web")
    assert web.field_changes == (plans.FieldChange("/spec/replicas", 2, 4),)
    secret = next(c for c in plan.changes if c.key.kind == "Secret")
    assert secret.field_changes == (plans.FieldChange("/data/password", plans.MASK, plans.MASK),)
    assert "rotated-value" not in reports.text(plan) + json.dumps(reports.to_dict(plan))
    assert plan.changes[-1].live_uid


async def test_scaled_by_another_manager_is_ignored_by_rule(
    server: kubeapi.KubeAPIServer, target: KubernetesTarget
) -> None:
    await _apply(target, _manifests())
    # Another manager takes /spec/replicas over with a forced server-side apply,
    # as an autoscaler would.
    scaled = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 6},
    }
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
        response = await client.patch(
            "/apis/apps/v1/namespaces/shop/deployments/web",
            params={"fieldManager": "autoscaler", "force": "true"},
            headers={"Content-Type": "application/apply-patch+yaml"},
            content=json.dumps(scaled),
        )
        assert response.status_code == 200, response.text
    drifted = await _plan(target, _manifests(), server_side=False)
    web_change = next(c for c in drifted.changes if c.key.name == "web")
    assert web_change.field_changes == (plans.FieldChange("/spec/replicas", 6, 2),)
    rule = base.IgnoreRule(kind="Deployment", managed_fields_managers=("autoscaler",))
    options = base.PlanOptions(prune=True, ignore_differences=(rule,))
    for server_side in (False, True):
        assert (await _plan(target, _manifests(), server_side=server_side, options=options)).in_sync
