"""What the annotations of gitward, Argo CD, Helm and Flux ask, table by table,
and how the Plan honours them."""

from __future__ import annotations

from typing import Any

import pytest

from gitward import errors
from gitward.diff import base, planning
from gitward.model import directives, plans, resources

ARGO_HOOK = "argocd.argoproj.io/hook"


@pytest.mark.parametrize(
    ("notes", "phases", "skip"),
    [
        ({"gitward.dev/hook": "PreSync"}, ("PreSync",), False),
        ({ARGO_HOOK: "PostSync"}, ("PostSync",), False),
        ({ARGO_HOOK: "Sync,SyncFail"}, ("Sync", "SyncFail"), False),
        ({ARGO_HOOK: "Skip"}, ("Skip",), True),
        ({"helm.sh/hook": "pre-install"}, ("PreSync",), False),
        ({"helm.sh/hook": "pre-install,pre-upgrade"}, ("PreSync",), False),
        ({"helm.sh/hook": "post-install, post-upgrade"}, ("PostSync",), False),
        ({"helm.sh/hook": "test"}, (), True),
        ({"helm.sh/hook": "pre-delete"}, (), True),
        # An Argo CD hook wins: the Helm annotation is then ignored.
        ({ARGO_HOOK: "Sync", "helm.sh/hook": "pre-install"}, ("Sync",), False),
        ({"gitward.dev/hook": "PostSync", ARGO_HOOK: "PreSync"}, ("PostSync",), False),
    ],
)
def test_hook_phases_of_every_tool(
    notes: dict[str, str], phases: tuple[str, ...], skip: bool
) -> None:
    found = directives.hook(notes)
    assert found is not None
    assert found.phases == phases
    assert found.skip is skip


def test_not_hooks() -> None:
    assert directives.hook({}) is None
    assert directives.hook({"helm.sh/hook": "crd-install"}) is None
    assert not directives.is_hook({"helm.sh/hook": "crd-install"})
    assert directives.is_hook({"helm.sh/hook": "test"})


@pytest.mark.parametrize(
    "notes",
    [{ARGO_HOOK: "PostDelete"}, {"helm.sh/hook": "pre-instal"}, {ARGO_HOOK: ""}],
)
def test_unknown_hooks_are_refused(notes: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="hook"):
        directives.hook(notes)


@pytest.mark.parametrize(
    ("notes", "wave"),
    [
        ({}, 0),
        ({"gitward.dev/sync-wave": "-1"}, -1),
        ({"argocd.argoproj.io/sync-wave": "3"}, 3),
        ({"helm.sh/hook-weight": "-2"}, -2),
        ({"argocd.argoproj.io/sync-wave": "1", "helm.sh/hook-weight": "5"}, 1),
    ],
)
def test_waves(notes: dict[str, str], wave: int) -> None:
    assert directives.wave(notes) == wave


@pytest.mark.parametrize(
    ("notes", "policies"),
    [
        ({}, {"BeforeHookCreation"}),
        ({"argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}, {"HookSucceeded"}),
        (
            {"helm.sh/hook-delete-policy": "before-hook-creation,hook-failed"},
            {"BeforeHookCreation", "HookFailed"},
        ),
        (
            {
                "gitward.dev/hook-delete-policy": "HookFailed",
                "helm.sh/hook-delete-policy": "hook-succeeded",
            },
            {"HookFailed", "HookSucceeded"},
        ),
    ],
)
def test_delete_policies(notes: dict[str, str], policies: set[str]) -> None:
    assert directives.delete_policies(notes) == policies


def test_unknown_delete_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown delete policy 'Always'"):
        directives.delete_policies({"argocd.argoproj.io/hook-delete-policy": "Always"})


@pytest.mark.parametrize(
    ("notes", "expected"),
    [
        ({}, directives.Options()),
        ({"argocd.argoproj.io/sync-options": "Prune=false"}, directives.Options(prune=False)),
        (
            {"argocd.argoproj.io/sync-options": "Delete=false, Replace=true"},
            directives.Options(delete=False, mode=directives.ApplyMode.REPLACE),
        ),
        (
            {"gitward.dev/sync-options": "SkipDryRunOnMissingResource=true,CreateNamespace=true"},
            directives.Options(skip_dry_run_on_missing=True, create_namespace=True),
        ),
        ({"argocd.argoproj.io/sync-options": "ServerSideApply=true"}, directives.Options()),
        (
            {"argocd.argoproj.io/compare-options": "IgnoreExtraneous"},
            directives.Options(ignore_extraneous=True),
        ),
        ({"kustomize.toolkit.fluxcd.io/prune": "disabled"}, directives.Options(prune=False)),
        (
            {"kustomize.toolkit.fluxcd.io/ssa": "Merge"},
            directives.Options(mode=directives.ApplyMode.MERGE),
        ),
        (
            {"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"},
            directives.Options(mode=directives.ApplyMode.IF_NOT_PRESENT),
        ),
        (
            {"kustomize.toolkit.fluxcd.io/ssa": "Ignore"},
            directives.Options(mode=directives.ApplyMode.IGNORE),
        ),
        (
            {"kustomize.toolkit.fluxcd.io/reconcile": "disabled"},
            directives.Options(
                prune=False, delete=False, mode=directives.ApplyMode.IGNORE, reconcile=False
            ),
        ),
    ],
)
def test_options(notes: dict[str, str], expected: directives.Options) -> None:
    assert directives.options(notes) == expected


# --- the Plan ------------------------------------------------------------------------


def _body(
    name: str, notes: dict[str, str], *, kind: str = "ConfigMap", **meta: Any
) -> dict[str, Any]:
    api = "batch/v1" if kind == "Job" else "v1"
    metadata: dict[str, Any] = {"namespace": "ns", "annotations": notes, **meta}
    if name:
        metadata["name"] = name
    return {"apiVersion": api, "kind": kind, "metadata": metadata}


def _tracked(body: dict[str, Any]) -> dict[str, Any]:
    key = resources.ResourceKey.of(body)
    meta = body["metadata"]
    meta["labels"] = {resources.APP_LABEL: "app"}
    meta["annotations"] = {
        **meta["annotations"],
        resources.TRACKING_ANNOTATION: planning.tracking_id("app", key),
    }
    meta["uid"] = "u-" + key.name
    return body


def _plan(
    desired: list[dict[str, Any]],
    live: list[dict[str, Any]] = (),  # type: ignore[assignment]
    *,
    prune: bool = False,
) -> plans.Plan:
    manifests = [resources.Manifest.from_body(b, source="x.yaml") for b in desired]
    by_key = {resources.ResourceKey.of(b): b for b in live}
    return planning.build(
        "app",
        "abc",
        manifests,
        {m.key: by_key.get(m.key) for m in manifests},
        list(live),
        base.PlanOptions(prune=prune, allow_empty=True),
    )


def _rows(plan: plans.Plan) -> list[tuple[str, str, str]]:
    return [(c.key.name, c.action.value, c.reason) for c in plan.changes]


def test_generate_name_hooks_are_planned_under_their_prefix() -> None:
    plan = _plan([_body("", {ARGO_HOOK: "PreSync"}, kind="Job", generateName="migrate-")])
    (change,) = plan.changes
    assert change.key.name == "migrate-*" and change.key.generated
    assert change.key.generate_name == "migrate-"
    assert change.phase is plans.Phase.PRE_SYNC and change.hook


def test_generate_name_outside_hooks_is_a_plan_error() -> None:
    with pytest.raises(errors.PlanError, match=r"generateName .* hooks only"):
        _plan([_body("", {}, generateName="settings-")])


def test_helm_hooks_without_a_phase_are_skipped_with_the_reason() -> None:
    plan = _plan([_body("smoke", {"helm.sh/hook": "test"}, kind="Job")])
    assert _rows(plan) == [("smoke", "skip", "Helm hook test: not run by gitward (as in Argo CD)")]


def test_flux_ssa_modes_and_reconcile_disabled() -> None:
    live = [
        _tracked(_body("once", {})),
        _tracked(_body("hands-off", {"kustomize.toolkit.fluxcd.io/reconcile": "disabled"})),
    ]
    plan = _plan(
        [
            _body("once", {"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}),
            _body("fresh", {"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}),
            _body("ignored", {"kustomize.toolkit.fluxcd.io/ssa": "Ignore"}),
            _body("hands-off", {}),  # disabled on the live object by a person
        ],
        live,
    )
    rows = {name: (action, reason) for name, action, reason in _rows(plan)}
    assert rows["once"] == ("skip", planning.REASON_IF_NOT_PRESENT)
    assert rows["fresh"] == ("create", planning.REASON_CREATE)
    assert rows["ignored"] == ("skip", planning.REASON_SSA_IGNORE)
    assert rows["hands-off"] == ("skip", planning.REASON_RECONCILE_DISABLED)
    assert plan.in_sync is False  # "fresh" is created


@pytest.mark.parametrize("prune", [True, False])
def test_leftovers_honour_every_tools_opt_outs(prune: bool) -> None:
    live = [
        _tracked(_body("argo-keep", {"argocd.argoproj.io/sync-options": "Prune=false"})),
        _tracked(_body("flux-keep", {"kustomize.toolkit.fluxcd.io/prune": "disabled"})),
        _tracked(_body("generated", {"argocd.argoproj.io/compare-options": "IgnoreExtraneous"})),
        _tracked(_body("old-hook", {"helm.sh/hook": "post-install"}, kind="Job")),
        _tracked(_body("plain", {})),
    ]
    plan = _plan([], live, prune=prune)
    rows = {name: (action, reason) for name, action, reason in _rows(plan)}
    assert rows["argo-keep"] == ("skip", planning.REASON_PRUNE_FALSE)
    assert rows["flux-keep"] == ("skip", planning.REASON_PRUNE_FALSE)
    assert "old-hook" not in rows  # hooks are removed by their policy, never pruned
    if prune:
        assert rows["generated"] == ("prune", planning.REASON_PRUNE)
        assert rows["plain"] == ("prune", planning.REASON_PRUNE)
    else:
        assert rows["generated"] == ("skip", planning.REASON_IGNORE_EXTRANEOUS)
        assert rows["plain"] == ("skip", planning.REASON_PRUNE_DISABLED)
        # IgnoreExtraneous objects do not count among those "requiring pruning".
        assert any("1 object(s) no longer in Git" in w for w in plan.warnings)
