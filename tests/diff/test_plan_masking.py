"""Secret values never appear in any output: plans, reports, JSON, errors."""

from __future__ import annotations

import base64
import json
import string
from typing import Any

import planobjects as k8s
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitward import errors
from gitward.diff import base, masking, planning, reports
from gitward.model import plans, resources

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _secret(data: dict[str, str], *, string_data: bool = True, name: str = "db") -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "shop"},
        "type": "Opaque",
    }
    if string_data:
        body["stringData"] = dict(data)
    else:
        body["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return k8s.tracked(body)


def test_mask_object_masks_values_and_last_applied_keeps_keys() -> None:
    secret = _secret({"user": "admin"})
    secret["data"] = {"token": "dG9rZW4="}
    secret["metadata"]["annotations"][LAST_APPLIED] = json.dumps(secret)
    masked = masking.mask_object(secret)
    assert masked["stringData"] == {"user": plans.MASK}
    assert masked["data"] == {"token": plans.MASK}
    assert masked["metadata"]["annotations"][LAST_APPLIED] == plans.MASK
    assert secret["stringData"] == {"user": "admin"}, "the input is not changed"


def test_mask_object_leaves_other_kinds_and_masks_lists() -> None:
    cm = k8s.configmap("c", a="visible")
    assert masking.mask_object(cm) is cm
    listed = masking.mask_object({"kind": "List", "items": [cm, _secret({"k": "hidden"})]})
    assert listed["items"][0] is cm
    assert listed["items"][1]["stringData"] == {"k": plans.MASK}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            plans.FieldChange("/data/k", "YQ==", "Yg=="),
            plans.FieldChange("/data/k", plans.MASK, plans.MASK),
        ),
        (
            plans.FieldChange("/data/k", None, "Yg=="),
            plans.FieldChange("/data/k", None, plans.MASK),
        ),
        (
            plans.FieldChange("/data", None, {"k": "Yg=="}),
            plans.FieldChange("/data", None, {"k": plans.MASK}),
        ),
        (
            plans.FieldChange("/stringData", "x", None),
            plans.FieldChange("/stringData", plans.MASK, None),
        ),
        (
            plans.FieldChange(
                f"/metadata/annotations/{LAST_APPLIED.replace('/', '~1')}", "{old}", "{new}"
            ),
            plans.FieldChange(
                f"/metadata/annotations/{LAST_APPLIED.replace('/', '~1')}", plans.MASK, plans.MASK
            ),
        ),
        (
            plans.FieldChange("/metadata/annotations", None, {LAST_APPLIED: "{..}", "a": "b"}),
            plans.FieldChange("/metadata/annotations", None, {LAST_APPLIED: plans.MASK, "a": "b"}),
        ),
        (
            plans.FieldChange("/type", "Opaque", "kubernetes.io/tls"),
            plans.FieldChange("/type", "Opaque", "kubernetes.io/tls"),
        ),
        (
            plans.FieldChange("", {"data": {"k": "v"}}, None),
            plans.FieldChange("", {"data": {"k": plans.MASK}}, None),
        ),
    ],
)
def test_mask_changes_of_a_secret(change: plans.FieldChange, expected: plans.FieldChange) -> None:
    key = resources.ResourceKey("", "Secret", "shop", "db")
    assert masking.mask_changes(key, [change]) == (expected,)


def test_mask_changes_of_other_kinds_is_identity() -> None:
    key = resources.ResourceKey("", "ConfigMap", "shop", "c")
    change = plans.FieldChange("/data/k", "a", "b")
    assert masking.mask_changes(key, [change]) == (change,)


# Upper case and digits: no field name or message of the output looks like that.
_token = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=16, max_size=24)
_keys = st.lists(
    st.sampled_from(["password", "token", "tls.key", "user"]), min_size=1, max_size=3, unique=True
)


def _leaks(output: str, values: list[str]) -> list[str]:
    encoded = [base64.b64encode(v.encode()).decode() for v in values]
    return [v for v in values + encoded if v in output]


@settings(max_examples=150, deadline=None)
@given(
    keys=_keys,
    values=st.lists(_token, min_size=6, max_size=6, unique=True),
    server_side=st.booleans(),
    string_data=st.booleans(),
)
def test_no_output_path_contains_a_secret_value(
    keys: list[str], values: list[str], server_side: bool, string_data: bool
) -> None:
    old, new = values[:3], values[3:]
    desired = _secret(dict(zip(keys, new, strict=False)), string_data=string_data)
    live = k8s.as_live(_secret(dict(zip(keys, old, strict=False)), string_data=False))
    live["metadata"]["annotations"][LAST_APPLIED] = json.dumps(
        _secret(dict(zip(keys, old, strict=False)))
    )
    removed = _secret({"gone": old[-1]}, name="removed", string_data=False)
    key = resources.ResourceKey.of(desired)
    predicted = None
    if server_side:
        result = _secret(dict(zip(keys, new, strict=False)), string_data=False)
        result["metadata"]["annotations"][LAST_APPLIED] = json.dumps(desired)
        predicted = {key: result}
    plan = planning.build(
        k8s.APP,
        "rev",
        [resources.Manifest.from_body(desired, "secret.yaml")],
        {key: live},
        [live, k8s.as_live(removed)],
        base.PlanOptions(prune=True),
        predicted=predicted,
    )
    assert plan.changes[0].action is plans.Action.UPDATE
    outputs = [
        reports.text(plan, show_unchanged=True),
        json.dumps(reports.to_dict(plan)),
        repr(plan.changes[0].field_changes),
        json.dumps(masking.mask_object(desired)),
        json.dumps(masking.mask_object(live)),
    ]
    for output in outputs:
        assert _leaks(output, old + new) == []
    # A failing plan names the Secret, never its values.
    with pytest.raises(errors.PlanError) as caught:
        planning.build(
            k8s.APP,
            "rev",
            [
                resources.Manifest.from_body(desired, "a.yaml"),
                resources.Manifest.from_body(desired, "b.yaml"),
            ],
            {},
            [],
            base.PlanOptions(),
        )
    assert _leaks(str(caught.value), old + new) == []
