"""JSON patch, merge patch and strategic merge patch (pure, no server).

The strategic cases are the documents kubectl sends: ``kubectl apply``
(client-side three-way patches with ``$setElementOrder`` and ``$patch: delete``),
``kubectl edit`` and ``kubectl patch``; expectations follow
k8s.io/apimachinery's strategicpatch.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gitward.testing.kubeapi import patching, strategic, types

DEPLOYMENT = types.ResourceType(
    "apps", "v1", "Deployment", "deployments", "deployment", True, subresources=("status", "scale")
)
SERVICE = types.ResourceType("", "v1", "Service", "services", "service", True)
POD = types.ResourceType("", "v1", "Pod", "pods", "pod", True)
WIDGET = types.ResourceType(
    "example.com", "v1", "Widget", "widgets", "widget", True, crd_schema={"type": "object"}
)


def pod_spec(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


DOC = {"a": {"b": [1, 2, 3], "c": "x"}, "k~/": 1}

JSON_PATCH_CASES = [
    (
        [{"op": "add", "path": "/a/d", "value": 1}],
        {"a": {"b": [1, 2, 3], "c": "x", "d": 1}, "k~/": 1},
    ),
    ([{"op": "add", "path": "/a/b/-", "value": 4}], {"a": {"b": [1, 2, 3, 4], "c": "x"}, "k~/": 1}),
    ([{"op": "add", "path": "/a/b/0", "value": 0}], {"a": {"b": [0, 1, 2, 3], "c": "x"}, "k~/": 1}),
    ([{"op": "remove", "path": "/a/b/1"}], {"a": {"b": [1, 3], "c": "x"}, "k~/": 1}),
    ([{"op": "remove", "path": "/k~0~1"}], {"a": {"b": [1, 2, 3], "c": "x"}}),
    (
        [{"op": "replace", "path": "/a/c", "value": "y"}],
        {"a": {"b": [1, 2, 3], "c": "y"}, "k~/": 1},
    ),
    ([{"op": "move", "from": "/a/c", "path": "/c"}], {"a": {"b": [1, 2, 3]}, "k~/": 1, "c": "x"}),
    (
        [{"op": "copy", "from": "/a/b", "path": "/b"}],
        {"a": {"b": [1, 2, 3], "c": "x"}, "k~/": 1, "b": [1, 2, 3]},
    ),
    (
        [{"op": "test", "path": "/a/c", "value": "x"}, {"op": "remove", "path": "/a"}],
        {"k~/": 1},
    ),
]


@pytest.mark.parametrize(("ops", "expected"), JSON_PATCH_CASES)
def test_json_patch(ops: list[Any], expected: dict[str, Any]) -> None:
    original = copy.deepcopy(DOC)
    assert patching.json_patch(DOC, ops) == expected
    assert original == DOC


JSON_PATCH_ERRORS = [
    ([{"op": "test", "path": "/a/c", "value": "nope"}], 422, "test failed"),
    ([{"op": "test", "path": "/k~0~1", "value": True}], 422, "test failed"),  # 1 is not true
    ([{"op": "remove", "path": "/missing"}], 422, "nonexistent"),
    ([{"op": "replace", "path": "/missing", "value": 1}], 422, "missing"),
    ([{"op": "add", "path": "/a/b/7", "value": 1}], 422, "out of bounds"),
    ([{"op": "add", "path": "/a/b/01", "value": 1}], 422, "invalid array index"),
    ([{"op": "add", "path": "/x/y", "value": 1}], 422, "missing path"),
    ([{"op": "move", "from": "/a", "path": "/a/b/c"}], 422, "own child"),
    ([{"op": "frobnicate", "path": "/a"}], 400, "unexpected kind"),
    ([{"op": "add", "path": "a"}], 400, "must start with"),
    ([{"op": "add", "path": "/a"}], 400, "missing 'value'"),
    ({"op": "add"}, 400, "list of operations"),
]


@pytest.mark.parametrize(("ops", "code", "message"), JSON_PATCH_ERRORS)
def test_json_patch_errors(ops: Any, code: int, message: str) -> None:
    with pytest.raises(patching.PatchError, match=message) as caught:
        patching.json_patch(DOC, ops)
    assert caught.value.code == code


MERGE_CASES = [
    ({"a": {"c": None, "e": 1}}, {"a": {"b": [1, 2, 3], "e": 1}, "k~/": 1}),
    ({"a": {"b": [9]}}, {"a": {"b": [9], "c": "x"}, "k~/": 1}),
    ({"a": "scalar"}, {"a": "scalar", "k~/": 1}),
    ({"new": {"x": None, "y": 2}}, {**DOC, "new": {"y": 2}}),
]


@pytest.mark.parametrize(("patch", "expected"), MERGE_CASES)
def test_merge_patch(patch: dict[str, Any], expected: dict[str, Any]) -> None:
    assert patching.merge_patch(DOC, patch) == expected


def test_merge_patch_must_be_an_object() -> None:
    with pytest.raises(patching.PatchError) as caught:
        patching.merge_patch(DOC, [1])  # type: ignore[arg-type]
    assert caught.value.code == 400


LIVE_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web", "tier": "x"}, "finalizers": ["a", "b"]},
    "spec": {
        "replicas": 2,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1",
                        "args": ["a", "b"],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "ports": [{"containerPort": 80}],
                    },
                    {"name": "side", "image": "busybox"},
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
            }
        },
    },
}

STRATEGIC_CASES = [
    pytest.param(
        # kubectl apply (client-side): image changed, env B removed, order kept.
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
                        "containers": [
                            {
                                "$setElementOrder/env": [{"name": "A"}],
                                "env": [{"$patch": "delete", "name": "B"}],
                                "image": "nginx:2",
                                "name": "web",
                            }
                        ],
                    }
                }
            }
        },
        lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
            image="nginx:2", env=[{"name": "A", "value": "1"}]
        ),
        id="kubectl-apply-three-way",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "x"}]}}}},
        lambda d: d["spec"]["template"]["spec"]["containers"].insert(
            0, {"name": "new", "image": "x"}
        ),
        id="new-item-first-in-patch-order",
    ),
    pytest.param(
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
                    }
                }
            }
        },
        lambda d: d["spec"]["template"]["spec"]["containers"].reverse(),
        id="reorder-only",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "args": ["c"]}]}}}},
        lambda d: d["spec"]["template"]["spec"]["containers"][0].update(args=["c"]),
        id="atomic-list-replaced",
    ),
    pytest.param(
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "z", "image": "z"}, {"$patch": "replace"}]}
                }
            }
        },
        lambda d: d["spec"]["template"]["spec"].update(containers=[{"name": "z", "image": "z"}]),
        id="list-patch-replace",
    ),
    pytest.param(
        {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}},
        lambda d: d["spec"].update(strategy={"type": "Recreate"}),
        id="map-patch-replace",
    ),
    pytest.param(
        {"spec": {"strategy": {"$patch": "delete"}}},
        lambda d: d["spec"].update(strategy={}),
        id="map-patch-delete",
    ),
    pytest.param(
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        lambda d: d["spec"].update(strategy={"type": "Recreate"}),
        id="retain-keys",
    ),
    pytest.param(
        {
            "spec": {
                "template": {
                    "spec": {
                        "volumes": [
                            {
                                "$retainKeys": ["name", "configMap"],
                                "name": "data",
                                "configMap": {"name": "c"},
                            }
                        ]
                    }
                }
            }
        },
        lambda d: d["spec"]["template"]["spec"].update(
            volumes=[{"name": "data", "configMap": {"name": "c"}}]
        ),
        id="volume-source-switch",
    ),
    pytest.param(
        {"metadata": {"labels": {"tier": None, "new": "1"}, "finalizers": ["c", "a"]}},
        lambda d: d["metadata"].update(
            labels={"app": "web", "new": "1"}, finalizers=["c", "a", "b"]
        ),
        id="null-deletes-and-primitive-merge-list",
    ),
    pytest.param(
        {
            "metadata": {
                "$deleteFromPrimitiveList/finalizers": ["a"],
                "$setElementOrder/finalizers": ["b"],
            }
        },
        lambda d: d["metadata"].update(finalizers=["b"]),
        id="delete-from-primitive-list",
    ),
    pytest.param(
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "web", "ports": [{"containerPort": 443}]}]}
                }
            }
        },
        lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
            ports=[{"containerPort": 443}, {"containerPort": 80}]
        ),
        id="ports-merge-by-container-port",
    ),
    pytest.param(
        {"spec": {"replicas": None, "paused": True}},
        lambda d: (d["spec"].pop("replicas"), d["spec"].update(paused=True)),
        id="scalar-null-deletes",
    ),
]


@pytest.mark.parametrize(("patch", "change"), STRATEGIC_CASES)
def test_strategic_merge_patch(patch: dict[str, Any], change: Any) -> None:
    expected = copy.deepcopy(LIVE_DEPLOYMENT)
    change(expected)
    original = copy.deepcopy(LIVE_DEPLOYMENT)
    assert strategic.strategic_merge_patch(LIVE_DEPLOYMENT, patch, rtype=DEPLOYMENT) == expected
    assert original == LIVE_DEPLOYMENT


def test_service_ports_merge_by_port() -> None:
    svc = {"spec": {"ports": [{"port": 80, "name": "http"}], "selector": {"a": "1"}}}
    patch = {"spec": {"ports": [{"port": 443, "name": "https"}], "selector": {"b": "2"}}}
    out = strategic.strategic_merge_patch(svc, patch, rtype=SERVICE)
    assert out["spec"]["ports"] == [{"port": 443, "name": "https"}, {"port": 80, "name": "http"}]
    # selector has no patch strategy: maps merge key by key.
    assert out["spec"]["selector"] == {"a": "1", "b": "2"}


def test_tolerations_are_replaced() -> None:
    pod = pod_spec(tolerations=[{"key": "a"}], containers=[{"name": "c"}])
    out = strategic.strategic_merge_patch(pod, {"spec": {"tolerations": [{"key": "b"}]}}, rtype=POD)
    assert out["spec"]["tolerations"] == [{"key": "b"}]


STRATEGIC_ERRORS = [
    ({"spec": {"strategy": {"$patch": "explode"}}}, "unknown patch type"),
    ({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, "merge key"),
    ({"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}}, "merge key"),
    ({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, "retainKeys"),
]


@pytest.mark.parametrize(("patch", "message"), STRATEGIC_ERRORS)
def test_strategic_merge_patch_errors(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(patching.PatchError, match=message):
        strategic.strategic_merge_patch(LIVE_DEPLOYMENT, patch, rtype=DEPLOYMENT)


def test_custom_resources_refuse_strategic_merge_patch() -> None:
    with pytest.raises(patching.UnsupportedPatch) as caught:
        strategic.strategic_merge_patch({}, {"spec": {}}, rtype=WIDGET)
    assert caught.value.code == 415
    assert isinstance(caught.value, patching.PatchError)


def test_three_way_patch_orders_server_only_items_like_apimachinery() -> None:
    # kubectl apply deleted "a" and added "c"; "d" exists only on the server.
    # apimachinery edits the live list in place, so "d" lands before "c".
    live = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "a", "image": "1"},
                        {"name": "b", "image": "2"},
                        {"name": "d", "image": "4"},
                    ]
                }
            }
        }
    }
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}],
                    "containers": [{"name": "c", "image": "3"}, {"$patch": "delete", "name": "a"}],
                }
            }
        }
    }
    out = strategic.strategic_merge_patch(live, patch, rtype=DEPLOYMENT)
    names = [c["name"] for c in out["spec"]["template"]["spec"]["containers"]]
    assert names == ["b", "d", "c"]
    # Without deletions the live order is used as is: "d" goes after the new item.
    patch["spec"]["template"]["spec"]["containers"] = [{"name": "c", "image": "3"}]
    patch["spec"]["template"]["spec"]["$setElementOrder/containers"] = [
        {"name": "a"},
        {"name": "b"},
        {"name": "c"},
    ]
    out = strategic.strategic_merge_patch(live, patch, rtype=DEPLOYMENT)
    names = [c["name"] for c in out["spec"]["template"]["spec"]["containers"]]
    assert names == ["a", "b", "c", "d"]
