"""The owner → owned resource tree (pure): grouping by kind, following
controller ownerReferences, ignoring strangers and cycles."""

from __future__ import annotations

from typing import Any

from gitward.model import resources, status
from gitward.web import trees

HEALTHY = status.HealthResult(status.HealthStatus.HEALTHY)


def obj(
    api: str, kind: str, name: str, uid: str, owner: str = "", controller: bool = True
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "web", "uid": uid}
    if owner:
        meta["ownerReferences"] = [
            {"uid": "someone-else"},
            {"uid": owner, "controller": controller},
        ]
        if not controller:
            meta["ownerReferences"] = [{"uid": owner}]
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def row(
    live: dict[str, Any], sync: status.SyncStatus = status.SyncStatus.SYNCED
) -> status.ResourceStatus:
    return status.ResourceStatus(key=resources.ResourceKey.of(live), sync=sync, health=HEALTHY)


def fake_health(o: Any) -> status.HealthResult:
    return status.HealthResult(status.HealthStatus.PROGRESSING, f"checked {o['metadata']['name']}")


def test_deployment_replicaset_pod_grouped_by_kind() -> None:
    deploy = obj("apps/v1", "Deployment", "web", "d1")
    cm = obj("v1", "ConfigMap", "settings", "c1")
    job = obj("batch/v1", "Job", "migrate", "j1")
    owned = [
        obj("apps/v1", "ReplicaSet", "web-old", "r0", "d1"),
        obj("apps/v1", "ReplicaSet", "web-new", "r1", "d1"),
        obj("v1", "Pod", "web-new-x", "p1", "r1"),
        obj("v1", "Pod", "web-new-y", "p2", "r1", controller=False),
        obj("v1", "Pod", "migrate-z", "p3", "j1"),
        obj("v1", "Pod", "stranger", "p4", "not-ours"),
        obj("v1", "Pod", "loose", "p5"),
    ]
    live = {resources.ResourceKey.of(o): o for o in (deploy, cm, job)}
    groups = trees.build(
        [row(deploy), row(cm, status.SyncStatus.OUT_OF_SYNC), row(job)], live, owned, fake_health
    )
    assert [g.kind for g in groups] == ["ConfigMap", "Deployment.apps", "Job.batch"]
    (cm_node,) = groups[0].nodes
    assert (cm_node.managed, cm_node.sync, cm_node.children) == (
        True,
        status.SyncStatus.OUT_OF_SYNC,
        (),
    )
    (web,) = groups[1].nodes
    assert [c.key.name for c in web.children] == ["web-new", "web-old"]
    new = web.children[0]
    assert not new.managed and new.health.message == "checked web-new"
    assert [p.key.name for p in new.children] == ["web-new-x", "web-new-y"]
    assert web.count() == 5
    assert [p.key.name for p in groups[2].nodes[0].children] == ["migrate-z"]
    assert trees.Tree(groups).count() == 8


def test_cycles_and_missing_live_objects_do_not_hang_or_fail() -> None:
    deploy = obj("apps/v1", "Deployment", "web", "d1")
    a = obj("apps/v1", "ReplicaSet", "a", "a1", "d1")
    b = obj("v1", "Pod", "b", "b1", "a1")
    loop_back = obj("apps/v1", "ReplicaSet", "c", "d1", "b1")  # claims the owner's uid
    gone = obj("v1", "Service", "gone", "s1")
    live = {resources.ResourceKey.of(deploy): deploy, resources.ResourceKey.of(gone): None}
    groups = trees.build([row(deploy), row(gone)], live, [a, b, loop_back], fake_health)
    web = groups[0].nodes[0]
    assert web.count() == 3  # d1 → a1 → b1, the cycle back to d1 cut
    assert groups[1].nodes[0].children == ()


def test_owned_kinds_are_followed_transitively() -> None:
    assert trees._owned_kinds({("batch", "CronJob")}) == {("batch", "Job"), ("", "Pod")}
    assert trees._owned_kinds({("", "ConfigMap")}) == set()
