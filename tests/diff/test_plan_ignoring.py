"""ignoreDifferences: JSON pointers, managedFields managers, rule matching; FieldsV1."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gitward import errors
from gitward.diff import _fieldsv1, base, ignoring
from gitward.model import plans, resources

DEPLOY = resources.ResourceKey("apps", "Deployment", "shop", "web")


@pytest.mark.parametrize(
    ("rule", "matches"),
    [
        (base.IgnoreRule(kind="Deployment"), True),
        (base.IgnoreRule(group="apps", kind="Deployment"), True),
        (base.IgnoreRule(group="", kind="Deployment"), True),
        (base.IgnoreRule(group="batch", kind="Deployment"), False),
        (base.IgnoreRule(kind="StatefulSet"), False),
        (base.IgnoreRule(kind="*", name="web"), True),
        (base.IgnoreRule(kind="Deployment", name="we*"), True),
        (base.IgnoreRule(kind="Deployment", name="api"), False),
        (base.IgnoreRule(kind="Deployment", namespace="shop"), True),
        (base.IgnoreRule(kind="Deployment", namespace="other"), False),
        (base.IgnoreRule(kind="deployment"), False),
    ],
)
def test_matching(rule: base.IgnoreRule, matches: bool) -> None:
    assert ignoring.matching([rule], DEPLOY) == ((rule,) if matches else ())


@pytest.mark.parametrize(
    ("pointer", "before", "after"),
    [
        ("/spec/replicas", {"spec": {"replicas": 3, "x": 1}}, {"spec": {"x": 1}}),
        ("/spec/missing/deeper", {"spec": {"x": 1}}, {"spec": {"x": 1}}),
        (
            "/metadata/annotations/example.com~1build",
            {"metadata": {"annotations": {"example.com/build": "7", "k": "v"}}},
            {"metadata": {"annotations": {"k": "v"}}},
        ),
        ("/data/a~0b", {"data": {"a~b": "1", "a/b": "2"}}, {"data": {"a/b": "2"}}),
        ("/spec/list/1", {"spec": {"list": [0, 1, 2]}}, {"spec": {"list": [0, 2]}}),
        ("/spec/list/5", {"spec": {"list": [0]}}, {"spec": {"list": [0]}}),
        ("/spec/list/01", {"spec": {"list": [0, 1]}}, {"spec": {"list": [0, 1]}}),
        (
            "/spec/list/0/image",
            {"spec": {"list": [{"image": "a", "n": 1}]}},
            {"spec": {"list": [{"n": 1}]}},
        ),
        ("", {"spec": 1}, {}),
    ],
)
def test_json_pointers_are_removed(pointer: str, before: Any, after: Any) -> None:
    obj = copy.deepcopy(before)
    ignoring.strip([base.IgnoreRule(kind="Deployment", json_pointers=(pointer,))], None, obj)
    assert obj == after


@pytest.mark.parametrize("pointer", ["spec/replicas", "/spec/a~2b", "/x~"])
def test_malformed_pointers_are_plan_errors_naming_the_rule(pointer: str) -> None:
    rule = base.IgnoreRule(kind="Deployment", name="web", json_pointers=(pointer,))
    with pytest.raises(
        errors.PlanError, match=r"ignoreDifferences rule \(kind=Deployment, name=web\)"
    ):
        ignoring.validate([rule])


# The HPA controller scales through the /scale subresource: managedFields says so.
MANAGED = [
    {
        "manager": "gitward",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:template": {
                    "f:spec": {
                        "f:containers": {
                            'k:{"name":"web"}': {".": {}, "f:name": {}, "f:image": {}},
                        }
                    }
                }
            },
        },
    },
    {
        "manager": "kube-controller-manager",
        "operation": "Update",
        "subresource": "scale",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
    },
    {
        "manager": "istio-injector",
        "operation": "Update",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:spec": {
                "f:template": {
                    "f:spec": {
                        "f:containers": {
                            'k:{"name":"istio-proxy"}': {".": {}, "f:image": {}, "f:name": {}},
                            'k:{"name":"web"}': {"f:env": {}},
                        }
                    }
                }
            }
        },
    },
]


def _pod_spec(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"replicas": 3, "template": {"spec": {"containers": list(containers)}}}}


def test_fields_of_named_managers_are_removed_from_every_side() -> None:
    live = _pod_spec(
        {"name": "web", "image": "a", "env": [{"name": "X"}]},
        {"name": "istio-proxy", "image": "proxy"},
    )
    live["spec"]["replicas"] = 7
    desired = _pod_spec({"name": "web", "image": "a"})
    rule = base.IgnoreRule(
        kind="Deployment", managed_fields_managers=("kube-controller-manager", "istio-injector")
    )
    ignoring.strip([rule], MANAGED, live, desired)
    assert live == {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "a"}]}}}}
    assert desired == {
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "a"}]}}}
    }


def test_unknown_manager_removes_nothing() -> None:
    live = _pod_spec({"name": "web", "image": "a"})
    before = copy.deepcopy(live)
    ignoring.strip(
        [base.IgnoreRule(kind="Deployment", managed_fields_managers=("nobody",))], MANAGED, live
    )
    assert live == before


def test_fieldsv1_parsing_tolerates_garbage() -> None:
    node = _fieldsv1.parse(
        {"f:a": {}, "bogus": {}, "k:{not json": {}, "k:[1]": {}, "i:x": {}, "i:2": {}}
    )
    assert set(node.children) == {("f", "a"), ("i", "2")}
    assert _fieldsv1.owned_by("not a list", ["x"]).children == {}
    assert _fieldsv1.owned_by([None, {"manager": "x", "fieldsV1": 5}], ["x"]).children == {}


def test_removals_report_only_fields_nobody_else_owns() -> None:
    owned = _fieldsv1.owned_by(MANAGED, ["gitward"], operation="Apply")
    others = _fieldsv1.owned_by_others(MANAGED, "gitward", "Apply")
    live = {
        "metadata": {"labels": {"app": "web", "other": "x"}},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "a", "env": []}]}}},
    }
    # Git dropped the label and the whole container.
    desired: dict[str, Any] = {
        "metadata": {"labels": {}},
        "spec": {"template": {"spec": {"containers": []}}},
    }
    found = _fieldsv1.removals(owned, others, desired, live)
    # The container item stays (istio-injector owns its env), with its key
    # field; only gitward's own other fields inside it go.
    assert found == [
        plans.FieldChange("/metadata/labels/app", "web", None),
        plans.FieldChange("/spec/template/spec/containers/0/image", "a", None),
    ]


def test_removals_of_a_whole_owned_item() -> None:
    managed = [
        {
            "manager": "gitward",
            "operation": "Apply",
            "fieldsV1": {
                "f:spec": {"f:ports": {'k:{"port":443,"protocol":"TCP"}': {".": {}, "f:port": {}}}}
            },
        }
    ]
    owned = _fieldsv1.owned_by(managed, ["gitward"], operation="Apply")
    live = {"spec": {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}}
    desired = {"spec": {"ports": [{"port": 80}]}}
    assert _fieldsv1.removals(owned, _fieldsv1.Node(), desired, live) == [
        plans.FieldChange("/spec/ports/1", {"port": 443, "protocol": "TCP"}, None)
    ]
