"""When a plan may skip the server-side dry run of an object (issue 14).

``planning.known_unchanged`` says an object is exactly as gitward last applied
it, so a no-op re-plan reads each kind once and dry-runs nothing. Each case
here also computes the full plan with the server's dry run and checks that the
shortcut agrees with it: drift made by others (an edit, a scale, a removed
field) and fields Git dropped must still be found.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gitward.diff import base, planning
from gitward.model import plans, resources
from gitward.targets.kubernetes import KubernetesTarget, preparing
from gitward.testing import kubeapi

APP = "shop"
OPTIONS = base.PlanOptions()
SETTINGS = "/api/v1/namespaces/shop/configmaps/settings"
WEB = "/apis/apps/v1/namespaces/shop/deployments/web"

pytestmark = pytest.mark.usefixtures("isolated_home")


def _bodies(data: dict[str, str] | None = None, replicas: int = 2) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "shop"},
            "data": data if data is not None else {"mode": "fast", "level": "3"},
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
                            {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "shop"},
            "stringData": {"password": "hunter2"},
        },
    ]


async def _prepared(target: KubernetesTarget, **kwargs: Any) -> list[resources.Manifest]:
    manifests = [resources.Manifest.from_body(b, source="git") for b in _bodies(**kwargs)]
    return await target.prepare(manifests, app=APP, namespace="shop")


async def _apply_all(target: KubernetesTarget, **kwargs: Any) -> list[resources.Manifest]:
    prepared = await _prepared(target, **kwargs)
    for manifest in prepared:
        await target.apply(manifest, force=False)
    return prepared


async def _shortcut_and_plan(
    target: KubernetesTarget,
    prepared: list[resources.Manifest],
    options: base.PlanOptions = OPTIONS,
) -> tuple[dict[str, bool], dict[str, plans.Change]]:
    """known_unchanged per object, and the plan computed with a dry run of every object."""
    live = await target.read([m.key for m in prepared])
    known = {
        m.key.kind: planning.known_unchanged(m, current, options)
        for m in prepared
        if (current := live[m.key]) is not None
    }
    predicted = {m.key: dict(await target.dry_run(m, force=True)) for m in prepared}
    inventory = await target.inventory(APP)
    plan = planning.build(APP, "sha", prepared, live, inventory, options, predicted=predicted)
    return known, {c.key.kind: c for c in plan.changes}


async def _patch(
    server: kubeapi.KubeAPIServer,
    path: str,
    body: Any,
    *,
    manager: str,
    content_type: str = "application/merge-patch+json",
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.patch(
            path,
            params={"fieldManager": manager},
            content=httpx.Request("PATCH", "/", json=body).content,
            headers={"Content-Type": content_type},
        )
    assert response.status_code == 200, response.text


def _all_agree(known: dict[str, bool], changes: dict[str, plans.Change]) -> None:
    for kind, unchanged in known.items():
        if unchanged:
            assert changes[kind].action is plans.Action.UNCHANGED, (kind, changes[kind])


async def test_objects_as_last_applied_need_no_dry_run(target: KubernetesTarget) -> None:
    prepared = await _apply_all(target)
    known, changes = await _shortcut_and_plan(target, prepared)
    assert known == {
        "Namespace": True,
        "ConfigMap": True,
        "Deployment": True,
        "Service": True,
        "Secret": True,  # stringData in Git, data on the server
    }
    _all_agree(known, changes)


def _with(manifest: resources.Manifest, **fields: Any) -> resources.Manifest:
    return resources.Manifest.from_body({**manifest.body, **fields}, source=manifest.source)


async def test_values_changed_under_gitwards_own_name_are_found(target: KubernetesTarget) -> None:
    # Applied as gitward (its field manager, its digest): only the values differ.
    prepared = await _apply_all(target)
    by_kind = {m.key.kind: m for m in prepared}
    await target.apply(
        _with(by_kind["ConfigMap"], data={"mode": "slow", "level": "3"}), force=False
    )
    await target.apply(_with(by_kind["Secret"], stringData={"password": "changed"}), force=False)
    known, changes = await _shortcut_and_plan(target, prepared)
    assert known["ConfigMap"] is False
    assert known["Secret"] is False
    assert known["Service"] is True
    assert [c.path for c in changes["ConfigMap"].field_changes] == ["/data/mode"]
    assert changes["Secret"].action is plans.Action.UPDATE


async def test_differences_ignored_by_a_rule_leave_an_object_known_unchanged(
    target: KubernetesTarget,
) -> None:
    prepared = await _apply_all(target)
    settings = next(m for m in prepared if m.key.kind == "ConfigMap")
    await target.apply(_with(settings, data={"mode": "slow", "level": "3"}), force=False)
    rule = base.IgnoreRule(kind="ConfigMap", json_pointers=("/data/mode",))
    ignoring = base.PlanOptions(ignore_differences=(rule,))
    known, changes = await _shortcut_and_plan(target, prepared, ignoring)
    assert known["ConfigMap"] is True
    _all_agree(known, changes)
    known, _ = await _shortcut_and_plan(target, prepared)
    assert known["ConfigMap"] is False


async def test_values_changed_by_others_are_found(
    target: KubernetesTarget, server: kubeapi.KubeAPIServer
) -> None:
    prepared = await _apply_all(target)
    await _patch(
        server,
        SETTINGS,
        {"data": {"mode": "slow"}},
        manager="kubectl-edit",
    )
    await _patch(
        server,
        f"{WEB}/scale",
        {"spec": {"replicas": 5}},
        manager="kubectl-scale",
    )
    known, changes = await _shortcut_and_plan(target, prepared)
    assert known["ConfigMap"] is False
    assert known["Deployment"] is False
    assert known["Service"] is True
    assert changes["ConfigMap"].action is plans.Action.UPDATE
    assert [c.path for c in changes["Deployment"].field_changes] == ["/spec/replicas"]
    _all_agree(known, changes)


async def test_a_declared_field_removed_by_others_is_found(
    target: KubernetesTarget, server: kubeapi.KubeAPIServer
) -> None:
    prepared = await _apply_all(target)
    await _patch(
        server,
        SETTINGS,
        [{"op": "remove", "path": "/data/level"}],
        manager="kubectl-edit",
        content_type="application/json-patch+json",
    )
    known, changes = await _shortcut_and_plan(target, prepared)
    assert known["ConfigMap"] is False
    assert [c.path for c in changes["ConfigMap"].field_changes] == ["/data/level"]


async def test_a_field_another_manager_took_with_the_same_value_is_dry_run(
    target: KubernetesTarget, server: kubeapi.KubeAPIServer
) -> None:
    prepared = await _apply_all(target)
    await _patch(
        server,
        WEB,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 2},
        },
        manager="autoscaler",
        content_type="application/apply-patch+yaml",
    )
    known, changes = await _shortcut_and_plan(target, prepared)
    assert known["Deployment"] is False  # shared now: the server decides
    assert changes["Deployment"].action is plans.Action.UNCHANGED


async def test_fields_others_add_beside_gitwards_are_not_drift(
    target: KubernetesTarget, server: kubeapi.KubeAPIServer
) -> None:
    prepared = await _apply_all(target)
    await _patch(
        server,
        SETTINGS,
        {"metadata": {"annotations": {"team": "payments"}}, "data": {"extra": "x"}},
        manager="kubectl-annotate",
    )
    known, changes = await _shortcut_and_plan(target, prepared)
    assert known["ConfigMap"] is True
    _all_agree(known, changes)


async def test_a_field_git_dropped_is_found(target: KubernetesTarget) -> None:
    await _apply_all(target)
    prepared = await _prepared(target, data={"mode": "fast"})
    known, changes = await _shortcut_and_plan(target, prepared)
    assert known["ConfigMap"] is False
    assert [(c.path, c.after) for c in changes["ConfigMap"].field_changes] == [
        ("/data/level", None)
    ]


async def test_an_object_gitward_never_applied_is_dry_run(
    target: KubernetesTarget, server: kubeapi.KubeAPIServer
) -> None:
    prepared = await _prepared(target)
    settings = next(m for m in prepared if m.key.kind == "ConfigMap")
    namespace = next(m for m in prepared if m.key.kind == "Namespace")
    await target.apply(namespace, force=False)
    # A copy with gitward's annotations, created by someone else.
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/api/v1/namespaces/shop/configmaps",
            params={"fieldManager": "kubectl-create"},
            json=dict(settings.body),
        )
    assert response.status_code == 201, response.text
    live = (await target.read([settings.key]))[settings.key]
    assert live is not None
    assert planning.known_unchanged(settings, live, OPTIONS) is False


def test_the_digest_names_paths_never_values() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "stringData": {"password": "hunter2"},
    }
    other = {**secret, "stringData": {"password": "correct horse"}}
    fewer = {**secret, "stringData": {}}
    assert preparing.fields_digest(secret) == preparing.fields_digest(other)
    assert preparing.fields_digest(secret) != preparing.fields_digest(fewer)
    assert "hunter2" not in preparing.fields_digest(secret)
