"""Apply order: phase, wave, kind, namespace/name; prunes in reverse."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitward import errors
from gitward.diff import ordering
from gitward.model import plans, resources


def _manifest(kind: str, name: str, group: str = "", **annotations: str) -> resources.Manifest:
    api = f"{group}/v1" if group else "v1"
    body: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": {"name": name}}
    if annotations:
        body["metadata"]["annotations"] = annotations
    return resources.Manifest.from_body(body, source=f"{name}.yaml")


def _change(
    kind: str,
    name: str,
    group: str = "",
    *,
    wave: int = 0,
    phase: plans.Phase = plans.Phase.SYNC,
    prune: bool = False,
) -> plans.Change:
    manifest = _manifest(kind, name, group)
    return plans.Change(
        key=manifest.key,
        action=plans.Action.PRUNE if prune else plans.Action.CREATE,
        desired=None if prune else manifest,
        wave=wave,
        phase=phase,
    )


def _names(changes: tuple[plans.Change, ...]) -> list[str]:
    return [c.key.name for c in changes]


def test_kind_order_namespaces_and_crds_first_custom_resources_last() -> None:
    changes = [
        _change("Widget", "cr", "example.com"),
        _change("Deployment", "deploy", "apps"),
        _change("Service", "svc"),
        _change("CustomResourceDefinition", "crd", "apiextensions.k8s.io"),
        _change("ConfigMap", "cm"),
        _change("Namespace", "ns"),
        _change("Ingress", "ing", "networking.k8s.io"),
        _change("Service", "fake-service", "example.com"),
    ]
    assert _names(ordering.order(changes)) == [
        "ns",
        "cm",
        "crd",
        "svc",
        "deploy",
        "ing",
        "fake-service",
        "cr",
    ]


def test_phase_then_wave_then_kind() -> None:
    changes = [
        _change("ConfigMap", "late", wave=5),
        _change("Deployment", "early", "apps", wave=-1),
        _change("Namespace", "ns"),
        _change("Job", "post", "batch", phase=plans.Phase.POST_SYNC, wave=-10),
        _change("Job", "pre", "batch", phase=plans.Phase.PRE_SYNC, wave=10),
        _change("Job", "fail", "batch", phase=plans.Phase.SYNC_FAIL),
    ]
    assert _names(ordering.order(changes)) == ["pre", "early", "ns", "late", "post", "fail"]


def test_prunes_come_last_in_reverse() -> None:
    changes = [
        _change("Namespace", "ns", prune=True),
        _change("Deployment", "deploy", "apps", prune=True),
        _change("Widget", "cr", "example.com", prune=True),
        _change("CustomResourceDefinition", "crd", "apiextensions.k8s.io", prune=True),
        _change("ConfigMap", "w5", prune=True, wave=5),
        _change("ConfigMap", "keep"),
    ]
    assert _names(ordering.order(changes)) == ["keep", "w5", "cr", "deploy", "crd", "ns"]


@pytest.mark.parametrize(("raw", "wave"), [("0", 0), ("-3", -3), ("+2", 2), (" 7 ", 7)])
def test_wave_annotation(raw: str, wave: int) -> None:
    assert (
        ordering.wave(_manifest("ConfigMap", "c", **{resources.SYNC_WAVE_ANNOTATION: raw})) == wave
    )


@pytest.mark.parametrize("raw", ["one", "1.5", "", "1e3"])
def test_invalid_wave_is_a_plan_error_naming_resource_and_value(raw: str) -> None:
    manifest = _manifest("ConfigMap", "settings", **{resources.SYNC_WAVE_ANNOTATION: raw})
    with pytest.raises(errors.PlanError) as caught:
        ordering.wave(manifest)
    assert "ConfigMap settings (settings.yaml)" in str(caught.value)
    assert repr(raw) in str(caught.value)


def test_live_wave_is_lenient() -> None:
    assert (
        ordering.live_wave({"metadata": {"annotations": {resources.SYNC_WAVE_ANNOTATION: "x"}}})
        == 0
    )
    assert (
        ordering.live_wave({"metadata": {"annotations": {resources.SYNC_WAVE_ANNOTATION: "4"}}})
        == 4
    )
    assert ordering.live_wave({}) == 0


@pytest.mark.parametrize(
    ("raw", "phases"),
    [
        ("PreSync", ("PreSync",)),
        ("PreSync, PostSync", ("PreSync", "PostSync")),
        ("Sync,Sync", ("Sync",)),
        ("Skip", ("Skip",)),
    ],
)
def test_hook_phases(raw: str, phases: tuple[str, ...]) -> None:
    found = ordering.hook(_manifest("Job", "j", "batch", **{resources.HOOK_ANNOTATION: raw}))
    assert found is not None
    assert found.phases == phases


@pytest.mark.parametrize("raw", ["presync", "PreSync,Later", "", " , "])
def test_unknown_hook_phase_is_a_plan_error(raw: str) -> None:
    manifest = _manifest("Job", "migrate", "batch", **{resources.HOOK_ANNOTATION: raw})
    with pytest.raises(
        errors.PlanError, match=r"Job\.batch migrate \(migrate\.yaml\).*not a hook phase"
    ):
        ordering.hook(manifest)


_kinds = st.sampled_from(
    [
        ("", "Namespace"),
        ("", "ConfigMap"),
        ("apps", "Deployment"),
        ("example.com", "Widget"),
        ("example.com", "Gadget"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ]
)
_change_strategy = st.builds(
    lambda kind, ns, name, wave, phase, prune: plans.Change(
        key=resources.ResourceKey(kind[0], kind[1], ns, name),
        action=plans.Action.PRUNE if prune else plans.Action.UPDATE,
        desired=None
        if prune
        else resources.Manifest(resources.ResourceKey(kind[0], kind[1], ns, name), {}),
        wave=wave,
        phase=plans.Phase.SYNC if prune else phase,
    ),
    _kinds,
    st.sampled_from(["", "a", "b"]),
    st.sampled_from(["x", "y", "z"]),
    st.integers(-2, 2),
    st.sampled_from(list(plans.Phase)),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_change_strategy, max_size=25, unique_by=lambda c: (c.phase, c.key)), st.randoms())
def test_order_is_total_and_independent_of_input_order(
    changes: list[plans.Change], rnd: random.Random
) -> None:
    ordered = ordering.order(changes)
    shuffled = list(changes)
    rnd.shuffle(shuffled)
    assert ordering.order(shuffled) == ordered
    assert sorted(map(id, ordered)) == sorted(map(id, changes))
    declared = [c for c in ordered if c.desired is not None]
    prunes = [c for c in ordered if c.desired is None]
    assert list(ordered) == declared + prunes
    declared_keys = [ordering.apply_key(c) for c in declared]
    prune_keys = [ordering.prune_key(c) for c in prunes]
    # Strictly increasing: no two changes share a place (total order).
    assert all(a < b for a, b in itertools.pairwise(declared_keys))
    assert all(a < b for a, b in itertools.pairwise(prune_keys))
