"""planning.build: actions, paths (structural / server-side), prune safety, hooks."""

from __future__ import annotations

import copy
from typing import Any

import planobjects as k8s
import pytest

from gitward import errors
from gitward.diff import base, planning
from gitward.model import plans, resources

A = plans.Action
FC = plans.FieldChange
PRUNE = base.PlanOptions(prune=True)


def _m(body: dict[str, Any], source: str = "") -> resources.Manifest:
    return resources.Manifest.from_body(body, source or f"{body['metadata']['name']}.yaml")


def _build(
    desired: list[dict[str, Any]],
    live: list[dict[str, Any]] = (),  # type: ignore[assignment]
    inventory: list[dict[str, Any]] | None = None,
    options: base.PlanOptions = PRUNE,
    predicted: dict[resources.ResourceKey, dict[str, Any]] | None = None,
) -> plans.Plan:
    manifests = [_m(d) for d in desired]
    by_key = {resources.ResourceKey.of(o): o for o in live}
    return planning.build(
        k8s.APP,
        "0123456789abcdef",
        manifests,
        {m.key: by_key.get(m.key) for m in manifests},
        list(live) if inventory is None else inventory,
        options,
        predicted=predicted,
    )


def _actions(plan: plans.Plan) -> list[tuple[str, A]]:
    return [(c.key.name, c.action) for c in plan.changes]


def test_create_when_absent() -> None:
    plan = _build([k8s.deployment()])
    assert _actions(plan) == [("web", A.CREATE)]
    assert plan.changes[0].desired is not None
    assert not plan.in_sync
    assert plan.server_side is False


def test_applied_then_replanned_is_unchanged_structurally() -> None:
    desired = [k8s.deployment(), k8s.configmap("settings", a="1")]
    live = [k8s.as_live(d, uid=f"u{i}") for i, d in enumerate(desired)]
    plan = _build(desired, live)
    assert _actions(plan) == [("settings", A.UNCHANGED), ("web", A.UNCHANGED)]
    assert plan.in_sync
    assert [c.live_uid for c in plan.changes] == ["u1", "u0"]
    assert {c.live_resource_version for c in plan.changes} == {"41"}


def test_structural_update_lists_field_changes() -> None:
    live = k8s.as_live(k8s.deployment(replicas=2, image="nginx:1.26"))
    plan = _build([k8s.deployment(replicas=4, image="nginx:1.27")], [live])
    (change,) = plan.changes
    assert change.action is A.UPDATE
    assert change.reason == planning.REASON_UPDATE
    assert change.field_changes == (
        FC("/spec/replicas", 2, 4),
        FC("/spec/template/spec/containers/0/image", "nginx:1.26", "nginx:1.27"),
    )


def test_structural_reports_fields_gitward_owned_and_git_dropped() -> None:
    old = k8s.deployment()
    old["metadata"]["labels"]["tier"] = "frontend"
    old["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy"})
    live = k8s.as_live(old)
    plan = _build([k8s.deployment()], [live])
    (change,) = plan.changes
    assert change.action is A.UPDATE
    assert change.field_changes == (
        FC("/metadata/labels/tier", "frontend", None),
        FC(
            "/spec/template/spec/containers/1",
            live["spec"]["template"]["spec"]["containers"][1],
            None,
        ),
    )
    assert change.field_changes[1].before["image"] == "envoy"


def test_fields_set_by_others_are_not_drift_structurally() -> None:
    live = k8s.as_live(k8s.deployment())
    live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "3"
    live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    live["spec"]["template"]["spec"]["containers"].append({"name": "istio-proxy", "image": "proxy"})
    assert _build([k8s.deployment()], [live]).in_sync


def test_predicted_path_compares_dry_run_result_with_live() -> None:
    live = k8s.as_live(k8s.deployment(replicas=2))
    predicted = copy.deepcopy(live)
    predicted["spec"]["replicas"] = 3
    predicted["metadata"]["generation"] = 2
    predicted["metadata"]["resourceVersion"] = "42"
    predicted["metadata"]["managedFields"] = []
    desired = k8s.deployment(replicas=3)
    plan = _build([desired], [live], predicted={resources.ResourceKey.of(desired): predicted})
    assert plan.server_side is True
    (change,) = plan.changes
    assert change.field_changes == (FC("/spec/replicas", 2, 3),)


def test_predicted_path_equal_objects_are_unchanged() -> None:
    live = k8s.as_live(k8s.deployment())
    desired = k8s.deployment()
    plan = _build(
        [desired], [live], predicted={resources.ResourceKey.of(desired): copy.deepcopy(live)}
    )
    assert plan.in_sync and plan.server_side


def test_predicted_missing_for_one_object_falls_back_and_warns() -> None:
    live = k8s.as_live(k8s.deployment())
    plan = _build([k8s.deployment()], [live], predicted={})
    assert plan.in_sync
    assert plan.warnings == (
        "Deployment.apps shop/web: no server-side dry-run result, compared structurally",
    )


def _hpa_scaled(replicas: int) -> dict[str, Any]:
    live = k8s.as_live(k8s.deployment(replicas=2))
    live["spec"]["replicas"] = replicas
    live["metadata"]["managedFields"].append(
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "subresource": "scale",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        }
    )
    return live


@pytest.mark.parametrize("server_side", [False, True])
def test_hpa_scaling_is_not_drift_with_a_manager_rule(server_side: bool) -> None:
    live = _hpa_scaled(7)
    desired = k8s.deployment(replicas=2)
    predicted = None
    if server_side:
        forced = copy.deepcopy(live)
        forced["spec"]["replicas"] = 2
        predicted = {resources.ResourceKey.of(desired): forced}
    without = _build([desired], [live], predicted=predicted)
    assert without.changes[0].field_changes == (FC("/spec/replicas", 7, 2),)
    rule = base.IgnoreRule(
        group="apps", kind="Deployment", managed_fields_managers=("kube-controller-manager",)
    )
    options = base.PlanOptions(prune=True, ignore_differences=(rule,))
    assert _build([desired], [live], options=options, predicted=predicted).in_sync


def test_json_pointer_rule() -> None:
    live = _hpa_scaled(7)
    rule = base.IgnoreRule(kind="Deployment", json_pointers=("/spec/replicas",))
    assert _build(
        [k8s.deployment()], [live], options=base.PlanOptions(ignore_differences=(rule,))
    ).in_sync
    other = base.IgnoreRule(kind="Deployment", name="api", json_pointers=("/spec/replicas",))
    assert not _build(
        [k8s.deployment()], [live], options=base.PlanOptions(ignore_differences=(other,))
    ).in_sync


def test_bad_ignore_rule_fails_the_plan_even_without_a_match() -> None:
    rule = base.IgnoreRule(kind="Nothing", json_pointers=("spec",))
    with pytest.raises(errors.PlanError, match="must start with '/'"):
        _build([k8s.deployment()], options=base.PlanOptions(ignore_differences=(rule,)))


def test_secret_string_data_matches_live_data() -> None:
    secret = k8s.tracked(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "shop"},
            "stringData": {"password": "s3cret"},
            "type": "Opaque",
        }
    )
    live = k8s.as_live(secret)
    del live["stringData"]
    live["data"] = {"password": "czNjcmV0"}
    assert _build([secret], [live]).in_sync
    live["data"] = {"password": "b2xk"}
    (change,) = _build([secret], [live]).changes
    assert change.field_changes == (FC("/data/password", plans.MASK, plans.MASK),)


# --- prune --------------------------------------------------------------------


def test_prune_of_objects_no_longer_in_git() -> None:
    gone = k8s.as_live(k8s.configmap("old"), uid="u-old")
    plan = _build([k8s.deployment()], [gone])
    assert _actions(plan) == [("web", A.CREATE), ("old", A.PRUNE)]
    prune = plan.changes[1]
    assert prune.desired is None
    assert (prune.live_uid, prune.live_resource_version) == ("u-old", "41")
    assert prune.reason == planning.REASON_PRUNE


def test_prune_disabled_lists_them_as_skip_and_warns() -> None:
    gone = k8s.as_live(k8s.configmap("old"))
    plan = _build([k8s.deployment()], [gone], options=base.PlanOptions(prune=False))
    assert _actions(plan) == [("web", A.CREATE), ("old", A.SKIP)]
    assert plan.changes[1].reason == planning.REASON_PRUNE_DISABLED
    assert plan.warnings == ("1 object(s) no longer in Git would be pruned, but prune is disabled",)


def test_prune_false_and_being_deleted_are_skipped() -> None:
    keep = k8s.configmap("keep")
    keep["metadata"]["annotations"][resources.SYNC_OPTIONS_ANNOTATION] = "Prune=false"
    dying = k8s.as_live(k8s.configmap("dying"))
    dying["metadata"]["deletionTimestamp"] = "2026-11-23T10:00:00Z"
    plan = _build([k8s.deployment()], [k8s.as_live(keep), dying])
    assert [(c.key.name, c.action, c.reason) for c in plan.changes[1:]] == [
        ("dying", A.SKIP, "being deleted"),
        ("keep", A.SKIP, "Prune=false"),
    ]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o["metadata"]["annotations"].pop("gitward.dev/tracking-id"),
        lambda o: o["metadata"]["annotations"].update(
            {"gitward.dev/tracking-id": "shop:/ConfigMap:shop/other"}
        ),
        lambda o: o["metadata"]["annotations"].update(
            {"gitward.dev/tracking-id": "other:/ConfigMap:shop/copied"}
        ),
        lambda o: o["metadata"]["labels"].update({"gitward.dev/app": "other"}),
    ],
)
def test_copied_label_never_prunes(mutate: Any) -> None:
    copied = k8s.as_live(k8s.configmap("copied"))
    mutate(copied)
    plan = _build([k8s.deployment()], [copied])
    assert _actions(plan) == [("web", A.CREATE)]
    if copied["metadata"]["labels"]["gitward.dev/app"] == k8s.APP:
        assert "not managed, never pruned: ConfigMap shop/copied" in plan.warnings[0]


def test_live_hooks_are_not_pruned() -> None:
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
    plan = _build([k8s.deployment()], [k8s.as_live(hook)])
    assert _actions(plan) == [("web", A.CREATE)]


def test_empty_render_with_managed_objects_is_refused() -> None:
    inventory = [k8s.as_live(k8s.configmap(f"c{i}")) for i in range(3)]
    with pytest.raises(errors.EmptyRenderError) as caught:
        _build([], inventory)
    assert "Application shop" in str(caught.value)
    assert "3 managed object(s)" in str(caught.value)
    assert caught.value.reason == "EmptyRender"


def test_empty_render_allowed_prunes_everything() -> None:
    inventory = [k8s.as_live(k8s.configmap(f"c{i}")) for i in range(3)]
    plan = _build([], inventory, options=base.PlanOptions(prune=True, allow_empty=True))
    assert [c.action for c in plan.changes] == [A.PRUNE] * 3


def test_empty_render_with_nothing_prunable_is_fine() -> None:
    keep = k8s.configmap("keep")
    keep["metadata"]["annotations"][resources.SYNC_OPTIONS_ANNOTATION] = "Prune=false"
    assert _actions(_build([], [k8s.as_live(keep)])) == [("keep", A.SKIP)]
    assert _build([], []).changes == ()


def test_duplicates_name_both_sources() -> None:
    one, two = _m(k8s.configmap("c"), "base/a.yaml"), _m(k8s.configmap("c"), "overlay/b.yaml")
    with pytest.raises(
        errors.PlanError,
        match=r"ConfigMap shop/c is declared twice: in base/a.yaml and in overlay/b.yaml",
    ):
        planning.build("shop", "r", [one, two], {}, [], PRUNE)


# --- hooks and waves ---------------------------------------------------------------


def _hook(name: str, phase: str, wave: str = "0") -> dict[str, Any]:
    return k8s.tracked(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": "shop",
                "annotations": {
                    resources.HOOK_ANNOTATION: phase,
                    resources.SYNC_WAVE_ANNOTATION: wave,
                },
            },
        }
    )


def test_hooks_are_always_created_in_their_phase() -> None:
    existing = _hook("migrate", "PreSync")
    plan = _build(
        [k8s.deployment(), existing, _hook("smoke", "PostSync,SyncFail"), _hook("never", "Skip")],
        [k8s.as_live(existing, uid="old-run"), k8s.as_live(k8s.deployment())],
    )
    rows = [(c.key.name, c.action, c.phase, c.hook) for c in plan.changes]
    assert rows == [
        ("migrate", A.CREATE, plans.Phase.PRE_SYNC, True),
        ("web", A.UNCHANGED, plans.Phase.SYNC, False),
        ("never", A.SKIP, plans.Phase.SYNC, True),
        ("smoke", A.CREATE, plans.Phase.POST_SYNC, True),
        ("smoke", A.CREATE, plans.Phase.SYNC_FAIL, True),
    ]
    assert plan.changes[0].live_uid == "old-run"
    # Hooks do not make an Application out of sync.
    assert plan.in_sync
    assert plan.summary()["create"] == 0


def test_waves_order_the_sync_phase() -> None:
    db = k8s.configmap("db")
    db["metadata"]["annotations"][resources.SYNC_WAVE_ANNOTATION] = "-1"
    late = k8s.configmap("late")
    late["metadata"]["annotations"][resources.SYNC_WAVE_ANNOTATION] = "2"
    plan = _build([late, k8s.deployment(), db])
    assert [(c.key.name, c.wave) for c in plan.changes] == [("db", -1), ("web", 0), ("late", 2)]


def test_invalid_wave_fails_the_plan() -> None:
    bad = k8s.configmap("bad")
    bad["metadata"]["annotations"][resources.SYNC_WAVE_ANNOTATION] = "soon"
    with pytest.raises(errors.PlanError, match=r"ConfigMap shop/bad \(bad.yaml\).*'soon'"):
        _build([bad])


def test_desired_object_being_deleted_warns() -> None:
    live = k8s.as_live(k8s.deployment())
    live["metadata"]["deletionTimestamp"] = "2026-11-23T10:00:00Z"
    plan = _build([k8s.deployment()], [live])
    assert "being deleted on the target" in plan.warnings[0]
