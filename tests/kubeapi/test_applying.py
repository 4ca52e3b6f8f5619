"""Server-side apply and managedFields bookkeeping (pure, no server).

The expectations are what a real kube-apiserver answers for the same sequence
of requests (structured-merge-diff semantics plus the API server's field
manager): conflict messages, ownership after force, shared ownership, removal
of fields a manager stops applying, Update bookkeeping.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitward import errors
from gitward.testing import kubeapi
from gitward.testing.kubeapi import applying, fieldsets, schemas, types

DEPLOYMENT = types.ResourceType(
    "apps", "v1", "Deployment", "deployments", "deployment", True, subresources=("status", "scale")
)
CONFIGMAP = types.ResourceType("", "v1", "ConfigMap", "configmaps", "configmap", True)
WIDGET = types.ResourceType(
    "example.com",
    "v1",
    "Widget",
    "widgets",
    "widget",
    True,
    subresources=("status",),
    crd_schema={
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {"type": "integer"},
                    "tags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "x-kubernetes-list-type": "set",
                    },
                    "args": {"type": "array", "items": {"type": "string"}},
                    "selector": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "x-kubernetes-map-type": "atomic",
                    },
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            },
            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
        },
    },
)
T0, T1, T2, T3 = (f"2026-01-01T00:0{i}:00Z" for i in range(4))


def deployment(
    *, replicas: int | None = None, containers: list[dict[str, Any]] | None = None, **meta: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": containers or [{"name": "web", "image": "nginx:1"}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", **meta},
        "spec": spec,
    }


def apply(
    live: dict[str, Any] | None,
    obj: dict[str, Any],
    manager: str,
    *,
    force: bool = False,
    now: str = T1,
    rtype: types.ResourceType = DEPLOYMENT,
    subresource: str = "",
) -> dict[str, Any]:
    return applying.apply(
        live, obj, rtype=rtype, manager=manager, force=force, now=now, subresource=subresource
    )


def update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    *,
    now: str = T1,
    rtype: types.ResourceType = DEPLOYMENT,
    subresource: str = "",
) -> dict[str, Any]:
    return applying.record_update(
        old, new, rtype=rtype, manager=manager, now=now, subresource=subresource
    )


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for e in obj["metadata"].get("managedFields", []):
        suffix = f"/{e['subresource']}" if e.get("subresource") else ""
        out[f"{e['manager']}/{e['operation']}{suffix}"] = e["fieldsV1"]
    return out


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def test_create_by_apply_records_exactly_the_applied_fields() -> None:
    obj = apply(None, deployment(replicas=2, labels={"team": "a"}), "gitward", now=T0)
    [entry] = obj["metadata"]["managedFields"]
    assert entry == {
        "manager": "gitward",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            # name, namespace, apiVersion and kind are never owned.
            "f:metadata": {"f:labels": {"f:team": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}
                    },
                },
            },
        },
    }
    assert obj["spec"]["replicas"] == 2


def test_conflict_with_an_updater_names_manager_version_and_path() -> None:
    live = apply(None, deployment(replicas=2), "gitward", now=T0)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    live = update(live, scaled, "kubectl-scale", now=T1)
    with pytest.raises(applying.ApplyConflict) as caught:
        apply(live, deployment(replicas=3), "gitward", now=T2)
    exc = caught.value
    assert str(exc) == (
        'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'
    )
    assert exc.conflicts == [("kubectl-scale", ".spec.replicas")]
    assert exc.causes == [
        {
            "type": "FieldManagerConflict",
            "message": 'conflict with "kubectl-scale" using apps/v1',
            "field": ".spec.replicas",
        }
    ]
    assert isinstance(exc, errors.ApplyConflict)


def test_force_takes_ownership_and_drops_emptied_managers() -> None:
    live = apply(None, deployment(replicas=2), "gitward", now=T0)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    live = update(live, scaled, "kubectl-scale", now=T1)
    assert managers(live)["kubectl-scale/Update"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in managers(live)["gitward/Apply"]["f:spec"]
    forced = apply(live, deployment(replicas=3), "gitward", force=True, now=T2)
    assert forced["spec"]["replicas"] == 3
    assert set(managers(forced)) == {"gitward/Apply"}
    assert "f:replicas" in managers(forced)["gitward/Apply"]["f:spec"]
    assert forced["metadata"]["managedFields"][0]["time"] == T2


def test_multiple_conflicts_are_grouped_by_manager() -> None:
    live = apply(None, deployment(replicas=2), "alpha", now=T0)
    changed = copy.deepcopy(live)
    changed["spec"]["replicas"] = 4
    containers(changed)[0]["image"] = "nginx:2"
    live = update(live, changed, "kubectl-edit", now=T1)
    with pytest.raises(applying.ApplyConflict) as caught:
        apply(
            live, deployment(replicas=3, containers=[{"name": "web", "image": "nginx:3"}]), "beta"
        )
    assert str(caught.value) == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="web"].image'
    )


def test_conflict_with_another_applier_has_no_version() -> None:
    live = apply(None, deployment(replicas=2), "alpha", now=T0)
    with pytest.raises(applying.ApplyConflict, match=r'conflict with "alpha": \.spec\.replicas$'):
        apply(live, deployment(replicas=3), "beta")


def test_same_value_is_shared_and_survives_one_manager_leaving() -> None:
    live = apply(None, deployment(replicas=2), "alpha", now=T0)
    live = apply(live, deployment(replicas=2), "beta", now=T1)
    assert "f:replicas" in managers(live)["alpha/Apply"]["f:spec"]
    assert "f:replicas" in managers(live)["beta/Apply"]["f:spec"]
    # alpha stops applying replicas: beta still owns it, so it stays.
    live = apply(live, deployment(), "alpha", now=T2)
    assert live["spec"]["replicas"] == 2
    assert "f:replicas" not in managers(live)["alpha/Apply"]["f:spec"]
    # beta stops too: now nobody owns it and it is removed.
    live = apply(live, deployment(), "beta", now=T3)
    assert "replicas" not in live["spec"]


def test_fields_no_longer_applied_are_removed_unless_an_updater_owns_them() -> None:
    live = apply(None, deployment(labels={"a": "1", "b": "2"}), "gitward", now=T0)
    edited = copy.deepcopy(live)
    edited["metadata"]["labels"]["b"] = "changed"
    live = update(live, edited, "kubectl-edit", now=T1)
    live = apply(live, deployment(), "gitward", now=T2)
    # a was only gitward's: removed. b was taken by kubectl-edit: kept.
    assert live["metadata"]["labels"] == {"b": "changed"}


def test_two_appliers_share_a_containers_list_by_key() -> None:
    live = apply(None, deployment(), "alpha", now=T0)
    sidecar = deployment(containers=[{"name": "side", "image": "busybox"}])
    live = apply(live, sidecar, "beta", now=T1)
    assert [c["name"] for c in containers(live)] == ["web", "side"]
    beta = managers(live)["beta/Apply"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert list(beta) == ['k:{"name":"side"}']
    # beta adds an env var to alpha's container: merged into the same item.
    env = deployment(
        containers=[
            {"name": "side", "image": "busybox"},
            {"name": "web", "env": [{"name": "MODE", "value": "x"}]},
        ]
    )
    live = apply(live, env, "beta", now=T2)
    # Shared items take the latest applier's relative order.
    assert [c["name"] for c in containers(live)] == ["side", "web"]
    assert containers(live)[1] == {
        "name": "web",
        "image": "nginx:1",
        "env": [{"name": "MODE", "value": "x"}],
    }
    # alpha stops applying its container: the item stays (beta owns part of it) but
    # alpha's image goes.
    live = apply(live, deployment(containers=[{"name": "main", "image": "app"}]), "alpha", now=T3)
    assert [c["name"] for c in containers(live)] == ["side", "web", "main"]
    assert containers(live)[1] == {"name": "web", "env": [{"name": "MODE", "value": "x"}]}


def test_removed_container_goes_when_only_its_applier_owned_it() -> None:
    two = [{"name": "web", "image": "nginx:1"}, {"name": "side", "image": "busybox"}]
    live = apply(None, deployment(containers=two), "gitward", now=T0)
    live = apply(live, deployment(), "gitward", now=T1)
    assert containers(live) == [{"name": "web", "image": "nginx:1"}]


def test_atomic_lists_and_maps_are_replaced_wholesale() -> None:
    cr: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"args": ["a", "b"], "selector": {"x": "1", "y": "2"}, "tags": ["t1"]},
    }
    live = apply(None, cr, "alpha", rtype=WIDGET, now=T0)
    other = {**cr, "spec": {"args": ["c"], "selector": {"z": "3"}, "tags": ["t2"]}}
    with pytest.raises(applying.ApplyConflict) as caught:
        apply(live, other, "beta", rtype=WIDGET)
    # Atomic values conflict as a whole; set items are separate and do not conflict.
    assert sorted(p for _, p in caught.value.conflicts) == [".spec.args", ".spec.selector"]
    live = apply(live, other, "beta", rtype=WIDGET, force=True, now=T1)
    assert live["spec"] == {"args": ["c"], "selector": {"z": "3"}, "tags": ["t1", "t2"]}


def test_preserve_unknown_fields_are_granular_maps() -> None:
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    live = apply(None, {**cr, "spec": {"extra": {"a": 1, "b": {"c": 2}}}}, "alpha", rtype=WIDGET)
    live = apply(live, {**cr, "spec": {"extra": {"b": {"d": 3}}}}, "beta", rtype=WIDGET)
    assert live["spec"]["extra"] == {"a": 1, "b": {"c": 2, "d": 3}}


def test_update_takes_changed_fields_without_conflict() -> None:
    live = apply(None, deployment(replicas=2), "gitward", now=T0)
    changed = copy.deepcopy(live)
    changed["spec"]["replicas"] = 7
    containers(changed)[0]["image"] = "nginx:9"
    new = update(live, changed, "kubectl-edit", now=T1)
    assert new["spec"]["replicas"] == 7
    assert managers(new)["kubectl-edit/Update"] == {
        "f:spec": {
            "f:replicas": {},
            "f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}},
        }
    }
    gitward = managers(new)["gitward/Apply"]["f:spec"]
    assert "f:replicas" not in gitward
    assert "f:image" not in gitward["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    # A second update by the same manager merges into its entry and refreshes the time.
    again = copy.deepcopy(new)
    again["metadata"]["labels"] = {"x": "y"}
    newer = update(new, again, "kubectl-edit", now=T2)
    entry = next(e for e in newer["metadata"]["managedFields"] if e["manager"] == "kubectl-edit")
    assert entry["time"] == T2
    assert entry["fieldsV1"]["f:metadata"] == {"f:labels": {".": {}, "f:x": {}}}
    assert "f:replicas" in entry["fieldsV1"]["f:spec"]


def test_update_that_changes_nothing_keeps_managed_fields() -> None:
    live = apply(None, deployment(replicas=2), "gitward", now=T0)
    same = update(live, copy.deepcopy(live), "kubectl-edit", now=T1)
    assert same["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_create_by_update_owns_new_containers_and_maps_with_dot() -> None:
    created = update(None, deployment(replicas=1), "kubectl-create", now=T0)
    [entry] = created["metadata"]["managedFields"]
    assert entry["operation"] == "Update"
    assert entry["fieldsV1"]["f:spec"]["f:template"] == {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}},
    }


def test_configmap_data_keys_by_two_managers() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    live = update(None, {**cm, "data": {"a": "1"}}, "kubectl-create", rtype=CONFIGMAP, now=T0)
    live = apply(live, {**cm, "data": {"b": "2"}}, "gitward", rtype=CONFIGMAP, now=T1)
    assert live["data"] == {"a": "1", "b": "2"}
    assert managers(live)["gitward/Apply"] == {"f:data": {"f:b": {}}}
    live = apply(live, {**cm, "data": {}}, "gitward", rtype=CONFIGMAP, now=T2)
    assert live["data"] == {"a": "1"}


def test_status_is_owned_only_through_the_status_subresource() -> None:
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    live = apply(None, {**cr, "spec": {"size": 1}, "status": {"phase": "x"}}, "alpha", rtype=WIDGET)
    # The main resource ignores status (value and ownership).
    assert "status" not in live
    assert managers(live)["alpha/Apply"] == {"f:spec": {"f:size": {}}}
    live = apply(
        live,
        {**cr, "status": {"phase": "Ready"}, "spec": {"size": 9}},
        "ctrl",
        rtype=WIDGET,
        subresource="status",
    )
    assert live["status"] == {"phase": "Ready"}
    assert live["spec"] == {"size": 1}
    assert managers(live)["ctrl/Apply/status"] == {"f:status": {"f:phase": {}}}
    # The applier of spec never conflicts with the status manager.
    live = apply(live, {**cr, "spec": {"size": 2}}, "alpha", rtype=WIDGET)
    assert live["status"] == {"phase": "Ready"}
    assert live["spec"] == {"size": 2}


def test_client_can_reset_managed_fields() -> None:
    live = apply(None, deployment(replicas=2), "gitward", now=T0)
    reset = copy.deepcopy(live)
    reset["metadata"]["managedFields"] = [{}]
    cleared = update(live, reset, "kubectl-edit", now=T1)
    assert "managedFields" not in cleared["metadata"]
    # An omitted or empty list keeps the live entries.
    kept = copy.deepcopy(live)
    kept["metadata"]["managedFields"] = []
    assert (
        update(live, kept, "kubectl-edit")["metadata"]["managedFields"]
        == live["metadata"]["managedFields"]
    )


def test_update_managers_are_capped_into_ancient_changes() -> None:
    live = update(None, deployment(), "creator", now="2026-01-01T00:00:00Z")
    for i in range(11):
        changed = copy.deepcopy(live)
        changed["metadata"].setdefault("labels", {})[f"l{i}"] = "x"
        live = update(live, changed, f"editor-{i:02d}", now=f"2026-01-01T01:{i:02d}:00Z")
    names = [e["manager"] for e in live["metadata"]["managedFields"]]
    assert len(names) == 10
    assert "ancient-changes" in names
    assert "creator" not in names
    assert "editor-10" in names


def test_apply_is_idempotent_and_keeps_the_time() -> None:
    first = apply(None, deployment(replicas=2), "gitward", now=T0)
    second = apply(first, deployment(replicas=2), "gitward", now=T1)
    assert second == first


def test_inputs_are_not_mutated() -> None:
    live = apply(None, deployment(replicas=2, labels={"a": "1"}), "gitward", now=T0)
    config = deployment(replicas=3)
    live_copy, config_copy = copy.deepcopy(live), copy.deepcopy(config)
    result = apply(live, config, "gitward", now=T1)
    result["spec"]["template"]["spec"]["containers"][0]["image"] = "mutated"
    assert live == live_copy
    assert config == config_copy


@pytest.mark.parametrize(
    ("containers_value", "message"),
    [
        (
            [{"name": "a"}, {"name": "a"}],
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
            '.spec.template.spec.containers: duplicate entries for key [name="a"]',
        ),
        (
            [{"image": "x"}],
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
            ".spec.template.spec.containers: associative list with keys has an element that "
            'omits all key fields ["name"] (and doesn\'t have default values for any key fields)',
        ),
    ],
)
def test_untypeable_configurations_are_refused(containers_value: list[Any], message: str) -> None:
    with pytest.raises(applying.ApplyInvalid) as caught:
        apply(None, deployment(containers=containers_value), "gitward")
    assert str(caught.value) == message
    assert caught.value.code == 500


def test_untypeable_update_drops_managed_fields_instead_of_failing() -> None:
    live = apply(None, deployment(replicas=1), "gitward", now=T0)
    broken = copy.deepcopy(live)
    containers(broken).append({"image": "no-name"})
    result = update(live, broken, "kubectl-edit", now=T1)
    assert "managedFields" not in result["metadata"]
    assert containers(result)[1] == {"image": "no-name"}


def test_live_duplicates_do_not_stop_an_apply() -> None:
    # Objects created by create/update may hold duplicates; they are owned as a whole.
    dup = deployment(containers=[{"name": "a", "image": "1"}, {"name": "a", "image": "2"}])
    live = update(None, dup, "kubectl-create", now=T0)
    applied = apply(
        live, deployment(replicas=1, containers=[{"name": "b", "image": "3"}]), "gitward"
    )
    assert [c["name"] for c in containers(applied)] == ["a", "a", "b"]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (
            {**deployment(), "apiVersion": "apps/v1beta1"},
            "Incorrect version specified in apply patch",
        ),
        (deployment(managedFields=[{"manager": "x"}]), "metadata.managedFields must be nil"),
    ],
)
def test_bad_requests(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(applying.ApplyInvalid, match=message) as caught:
        apply(None, obj, "gitward")
    assert caught.value.code == 400


def test_list_order_follows_live_then_new_items() -> None:
    three = [{"name": n, "image": "x"} for n in ("a", "b", "c")]
    live = apply(None, deployment(containers=three), "alpha", now=T0)
    # beta applies c, d, a: shared items keep beta's relative order, new d comes after c.
    theirs = [{"name": n, "image": "x"} for n in ("c", "d", "a")]
    live = apply(live, deployment(containers=theirs), "beta", now=T1)
    assert [c["name"] for c in containers(live)] == ["b", "c", "d", "a"]


KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"
MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: IMAGE
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
"""


@pytest.mark.slow
def test_kubectl_client_side_then_server_side_apply(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    with kubeapi.running() as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")

        def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(KUBECTL), "--kubeconfig", str(kubeconfig), *args],
                input=stdin,
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )

        def get() -> dict[str, Any]:
            out = kubectl("get", "deploy", "web", "-o", "json", "--show-managed-fields")
            assert out.returncode == 0, out.stderr
            result: dict[str, Any] = json.loads(out.stdout)
            return result

        first = kubectl("apply", "-f", "-", stdin=MANIFEST.replace("IMAGE", "nginx:1"))
        assert first.returncode == 0, first.stderr
        # Client-side three-way patch: env B dropped, image changed.
        changed = MANIFEST.replace("IMAGE", "nginx:2").replace(', {name: B, value: "2"}', "")
        second = kubectl("apply", "-f", "-", stdin=changed)
        assert (second.returncode, second.stderr) == (0, "")
        live = get()
        assert containers(live) == [
            {"name": "web", "image": "nginx:2", "env": [{"name": "A", "value": "1"}]}
        ]
        # Server-side apply by "kubectl" takes over from the client-side applier
        # without conflicts, and keeps the last-applied annotation current.
        third = MANIFEST.replace("IMAGE", "nginx:3").replace(', {name: B, value: "2"}', "")
        ssa = kubectl("apply", "--server-side", "-f", "-", stdin=third)
        assert (ssa.returncode, ssa.stderr) == (0, "")
        live = get()
        assert containers(live)[0]["image"] == "nginx:3"
        last = json.loads(
            live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        )
        assert last["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:3"
        # Another manager's change makes the next apply conflict, naming it.
        patched = kubectl("patch", "deploy", "web", "-p", '{"spec":{"replicas":5}}')
        assert patched.returncode == 0, patched.stderr
        conflict = kubectl("apply", "--server-side", "-f", "-", stdin=third)
        assert conflict.returncode == 1
        assert (
            'Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: '
            ".spec.replicas" in conflict.stderr
        )
        forced = kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=third)
        assert forced.returncode == 0, forced.stderr
        live = get()
        assert live["spec"]["replicas"] == 2
        assert "kubectl-patch" not in {e["manager"] for e in live["metadata"]["managedFields"]}


_NAMES = st.sampled_from(["a", "b", "c", "d"])
_CONTAINERS = st.lists(
    st.fixed_dictionaries(
        {"name": _NAMES, "image": st.sampled_from(["x:1", "x:2"])},
        optional={
            "env": st.lists(
                st.fixed_dictionaries({"name": _NAMES, "value": st.sampled_from(["1", "2"])}),
                unique_by=lambda e: e["name"],
                min_size=1,
                max_size=3,
            ),
            "args": st.lists(st.sampled_from(["-v", "-q"]), max_size=2),
        },
    ),
    unique_by=lambda c: c["name"],
    min_size=1,
    max_size=3,
)
# Empty non-atomic lists and maps are left out: nobody owns them, so kube-apiserver
# keeps them (or its typed decoding drops them), and neither is about ownership.
_CONFIGS = st.builds(
    lambda cs, replicas, labels: deployment(
        replicas=replicas, containers=cs, **({"labels": labels} if labels else {})
    ),
    _CONTAINERS,
    st.one_of(st.none(), st.integers(0, 3)),
    st.dictionaries(_NAMES, st.sampled_from(["1", "2"]), max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(_CONFIGS, _CONFIGS)
def test_a_sole_applier_gets_exactly_its_configuration(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    live = apply(None, first, "gitward", now=T0)
    live = apply(live, second, "gitward", now=T1)
    fresh = apply(None, second, "gitward", now=T1)
    assert live["spec"] == fresh["spec"]
    assert live["metadata"].get("labels") == fresh["metadata"].get("labels")
    assert managers(live) == managers(fresh)
    # And applying it again changes nothing.
    assert apply(live, second, "gitward", now=T2) == live


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["alpha", "beta", "gamma"]), _CONFIGS), max_size=5))
def test_owned_fields_always_exist_in_the_object(steps: list[tuple[str, dict[str, Any]]]) -> None:
    node = schemas.node_for(DEPLOYMENT)
    live = apply(None, deployment(), "creator", now=T0)
    for manager, config in steps:
        live = apply(live, config, manager, force=True, now=T1)
        present = fieldsets.from_value({k: v for k, v in live.items() if k != "status"}, node)
        present = fieldsets.ensure_named_fields_are_members(present, node)
        for entry in live["metadata"]["managedFields"]:
            owned = fieldsets.from_fields_v1(entry["fieldsV1"])
            missing = fieldsets.difference(owned, present)
            assert missing.empty(), (entry["manager"], missing)
        # The last applier's values win (fields it does not apply may stay).
        for wanted in containers(config):
            have = next(c for c in containers(live) if c["name"] == wanted["name"])
            assert have["image"] == wanted["image"]
            if "args" in wanted:
                assert have["args"] == wanted["args"]


# Scenarios ported from kubernetes-sigs/structured-merge-diff's merge tests
# (set_test.go, multiple_appliers_test.go, leaf_test.go), with their fields under
# .spec of a custom resource.
SMD = types.ResourceType(
    "smd.example.com",
    "v1",
    "Case",
    "cases",
    "case",
    True,
    crd_schema={
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "list": {
                        "type": "array",
                        "items": {"type": "string"},
                        "x-kubernetes-list-type": "set",
                    },
                    "keyed": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "value": {"type": "integer"},
                            },
                        },
                    },
                    "listOfLists": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "value": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                    "x-kubernetes-list-type": "set",
                                },
                            },
                        },
                    },
                    "struct": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "value": {"type": "integer"}},
                    },
                    "numeric": {"type": "integer"},
                    "string": {"type": "string"},
                    "bool": {"type": "boolean"},
                },
            }
        },
    },
)
Op = tuple[str, str, dict[str, Any]]

SMD_CASES: list[tuple[str, list[Op], dict[str, Any], dict[str, set[str]]]] = [
    (
        "set-apply-update-apply-no-overlap",
        [
            ("apply", "default", {"list": ["a", "c"]}),
            ("update", "controller", {"list": ["a", "b", "c", "d"]}),
            ("apply", "default", {"list": ["a", "aprime", "c", "cprime"]}),
        ],
        {"list": ["a", "b", "aprime", "c", "d", "cprime"]},
        {
            "default/Apply": {'.list[="a"]', '.list[="aprime"]', '.list[="c"]', '.list[="cprime"]'},
            "controller/Update": {'.list[="b"]', '.list[="d"]'},
        },
    ),
    (
        "set-apply-update-apply-with-overlap",
        [
            ("apply", "default", {"list": ["a", "c"]}),
            ("update", "controller", {"list": ["a", "b", "c", "d"]}),
            ("apply", "default", {"list": ["a", "b", "c"]}),
        ],
        {"list": ["a", "b", "c", "d"]},
        {
            "default/Apply": {'.list[="a"]', '.list[="b"]', '.list[="c"]'},
            "controller/Update": {'.list[="b"]', '.list[="d"]'},
        },
    ),
    (
        "set-apply-twice-reorder",
        [
            ("apply", "default", {"list": ["a", "b", "c", "d"]}),
            ("apply", "default", {"list": ["a", "d", "c", "b"]}),
        ],
        {"list": ["a", "d", "c", "b"]},
        {"default/Apply": {'.list[="a"]', '.list[="b"]', '.list[="c"]', '.list[="d"]'}},
    ),
    (
        "set-apply-update-apply-reorder",
        [
            ("apply", "default", {"list": ["a", "b", "c", "d"]}),
            ("update", "controller", {"list": ["a", "d", "c", "b"]}),
            ("apply", "default", {"list": ["a", "b", "c", "d"]}),
        ],
        {"list": ["a", "b", "c", "d"]},
        {"default/Apply": {'.list[="a"]', '.list[="b"]', '.list[="c"]', '.list[="d"]'}},
    ),
    (
        "set-apply-twice-remove",
        [
            ("apply", "default", {"list": ["a", "b", "c", "d"]}),
            ("apply", "default", {"list": ["a", "c", "e"]}),
        ],
        {"list": ["a", "c", "e"]},
        {"default/Apply": {'.list[="a"]', '.list[="c"]', '.list[="e"]'}},
    ),
    (
        "keyed-remove-one-keep-one",
        [
            ("apply", "apply-one", {"keyed": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
            ("apply", "apply-two", {"keyed": [{"name": "c"}, {"name": "d"}]}),
            ("apply", "apply-one", {"keyed": [{"name": "a"}]}),
        ],
        {"keyed": [{"name": "a"}, {"name": "c"}, {"name": "d"}]},
        {
            "apply-one/Apply": {'.keyed[name="a"]', '.keyed[name="a"].name'},
            "apply-two/Apply": {
                '.keyed[name="c"]',
                '.keyed[name="c"].name',
                '.keyed[name="d"]',
                '.keyed[name="d"].name',
            },
        },
    ),
    (
        "leaf-apply-update-apply-no-conflict",
        [
            ("apply", "default", {"numeric": 1, "string": "string"}),
            ("update", "controller", {"numeric": 1, "string": "string", "bool": True}),
            ("apply", "default", {"numeric": 2, "string": "string"}),
        ],
        {"numeric": 2, "string": "string", "bool": True},
        {"default/Apply": {".numeric", ".string"}, "controller/Update": {".bool"}},
    ),
    (
        "leaf-updater-takes-over-then-applier-forces",
        [
            ("apply", "default", {"numeric": 1, "string": "a"}),
            ("update", "controller", {"numeric": 1, "string": "b"}),
            ("force", "default", {"numeric": 1, "string": "c"}),
        ],
        {"numeric": 1, "string": "c"},
        {"default/Apply": {".numeric", ".string"}},
    ),
    (
        "leaf-unset-scalar-shared-with-updater",
        [
            ("apply", "default", {"numeric": 1, "string": "a"}),
            ("update", "controller", {"numeric": 1, "string": "a", "bool": False}),
            ("update", "controller", {"numeric": 5, "string": "a", "bool": False}),
            ("apply", "default", {"string": "a"}),
        ],
        {"numeric": 5, "string": "a", "bool": False},
        {"default/Apply": {".string"}, "controller/Update": {".bool", ".numeric"}},
    ),
]


SMD_CASES += [
    (
        "keyed-remove-one-keep-one-with-dangling-subitem",
        [
            ("apply", "apply-one", {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c"]}]}),
            ("apply", "apply-two", {"listOfLists": [{"name": "b", "value": ["d"]}]}),
            (
                "update",
                "controller",
                {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c", "d", "e"]}]},
            ),
            ("apply", "apply-one", {"listOfLists": [{"name": "a"}]}),
        ],
        {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["d", "e"]}]},
        {
            "apply-one/Apply": {'.listOfLists[name="a"]', '.listOfLists[name="a"].name'},
            "apply-two/Apply": {
                '.listOfLists[name="b"]',
                '.listOfLists[name="b"].name',
                '.listOfLists[name="b"].value[="d"]',
            },
            "controller/Update": {'.listOfLists[name="b"].value[="e"]'},
        },
    ),
    (
        "struct-apply-update-remove-all",
        [
            ("apply", "default", {"struct": {"name": "a"}}),
            ("update", "controller", {"struct": {"name": "a", "value": 1}}),
            ("apply", "default", {}),
        ],
        {"struct": {"value": 1}},
        {"controller/Update": {".struct.value"}},
    ),
    (
        "struct-apply-update-dict-dangling",
        [
            ("apply", "default", {"struct": {"name": "a"}}),
            ("update", "controller", {"struct": {"name": "a", "value": 1}}),
            ("apply", "default", {"struct": {}}),
        ],
        {"struct": {"value": 1}},
        {"default/Apply": {".struct"}, "controller/Update": {".struct.value"}},
    ),
    (
        "struct-apply-update-dict-null",
        [
            ("apply", "default", {"struct": {"name": "a"}}),
            ("update", "controller", {"struct": {"name": "a", "value": 1}}),
            ("apply", "default", {"struct": None}),
        ],
        {"struct": {"value": 1}},
        {"default/Apply": {".struct"}, "controller/Update": {".struct.value"}},
    ),
]


def _spec_paths(fields_v1: dict[str, Any]) -> set[str]:
    owned = fieldsets.from_fields_v1(fields_v1).child("f:spec")
    return {fieldsets.path_string(p) for p in owned.paths()}


@pytest.mark.parametrize(
    ("ops", "expected", "owners"), [c[1:] for c in SMD_CASES], ids=[c[0] for c in SMD_CASES]
)
def test_structured_merge_diff_scenarios(
    ops: list[Op], expected: dict[str, Any], owners: dict[str, set[str]]
) -> None:
    live: dict[str, Any] | None = None
    for i, (kind, manager, spec) in enumerate(ops):
        obj = {"apiVersion": "smd.example.com/v1", "kind": "Case", "metadata": {"name": "c"}}
        now = f"2026-01-01T00:0{i}:00Z"
        if kind == "update":
            new = {**copy.deepcopy(live or obj), "spec": spec}
            live = update(live, new, manager, rtype=SMD, now=now)
        else:
            config = {**obj, "spec": spec} if spec else obj
            live = apply(live, config, manager, rtype=SMD, force=kind == "force", now=now)
    assert live is not None
    assert live["spec"] == expected
    assert {m: _spec_paths(f) for m, f in managers(live).items()} == owners
