"""assess() never raises, the registry, and an Application's overall health."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitward.health import assessing, base, deployments
from gitward.model import resources, status

H = status.HealthStatus


def _deployment(**status_fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": 1},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, **status_fields},
    }


@pytest.mark.parametrize(
    "obj",
    [
        # Types a controller bug or a hand edit could produce.
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "status": 7},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": None, "spec": "paused"},
        {"apiVersion": "v1", "kind": "Pod", "status": {"containerStatuses": "oops"}},
        {"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": [1, None, "x"]}},
        {"apiVersion": "v1", "kind": "Service", "spec": None, "status": []},
        {"kind": "Widget", "status": {"conditions": {"type": "Ready"}}},
        {},
    ],
)
def test_odd_shapes_never_raise(obj: Mapping[str, Any]) -> None:
    result = assessing.assess(obj)
    assert isinstance(result, status.HealthResult)


def test_hpa_with_broken_v1_annotation_is_unknown_not_a_crash() -> None:
    obj = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "annotations": {"autoscaling.alpha.kubernetes.io/conditions": "[{not json"},
        },
    }
    result = assessing.assess(obj)
    assert result.status is H.UNKNOWN
    assert result.message.startswith(
        "health check for HorizontalPodAutoscaler shop/web failed: ValueError"
    )


def test_a_throwing_check_yields_unknown_naming_the_object() -> None:
    registry = base.Registry()

    def explode(obj: Mapping[str, Any]) -> status.HealthResult:
        raise RuntimeError("boom")

    registry.register("example.com", "Widget", explode)
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "a"},
    }
    result = assessing.assess(obj, registry)
    assert result == status.HealthResult(
        H.UNKNOWN, "health check for Widget a/w failed: RuntimeError: boom"
    )


def test_a_check_returning_garbage_yields_unknown() -> None:
    registry = base.Registry()
    registry.register("", "ConfigMap", lambda obj: "Healthy")  # type: ignore[arg-type,return-value]
    result = assessing.assess(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, registry
    )
    assert result.status is H.UNKNOWN
    assert "not a HealthResult" in result.message


def test_not_even_a_mapping_is_unknown() -> None:
    result = assessing.assess(None)  # type: ignore[arg-type]
    assert result.status is H.UNKNOWN
    assert "NoneType" in result.message


def test_being_deleted_wins_over_the_kind_check() -> None:
    obj = _deployment(replicas=1, updatedReplicas=1, availableReplicas=1)
    obj["metadata"]["deletionTimestamp"] = "2026-11-23T10:00:00Z"
    assert assessing.assess(obj) == status.HealthResult(H.PROGRESSING, "being deleted")


def test_registry_refuses_silent_override_and_allows_replace() -> None:
    registry = assessing._default_registry()
    with pytest.raises(ValueError, match=r"Deployment\.apps is already registered"):
        registry.register("apps", "Deployment", deployments.deployment)

    def always_healthy(obj: Mapping[str, Any]) -> status.HealthResult:
        return status.HealthResult(H.HEALTHY, "plugin")

    registry.register("apps", "Deployment", always_healthy, replace=True)
    assert assessing.assess(_deployment(), registry).message == "plugin"
    # The process-wide registry is untouched.
    assert assessing.assess(_deployment()).status is H.PROGRESSING


def test_unregistered_kinds_use_the_generic_check() -> None:
    assert assessing.check_for("example.com", "Widget").__name__ == "generic"
    assert ("apps", "Deployment") in assessing.REGISTRY.kinds()


def test_deployment_defaults_replicas_to_one() -> None:
    obj = _deployment(updatedReplicas=0, availableReplicas=0)
    del obj["spec"]["replicas"]
    assert assessing.assess(obj).status is H.PROGRESSING


def _key(name: str) -> resources.ResourceKey:
    return resources.ResourceKey("apps", "Deployment", "shop", name)


@pytest.mark.parametrize(
    ("results", "expected", "message"),
    [
        ({}, H.HEALTHY, ""),
        ({_key("a"): status.HealthResult(H.HEALTHY)}, H.HEALTHY, "1 resources healthy"),
        (
            {
                _key("a"): status.HealthResult(H.HEALTHY),
                _key("b"): status.HealthResult(H.SUSPENDED, "paused"),
                _key("c"): status.HealthResult(H.PROGRESSING, "rolling"),
            },
            H.PROGRESSING,
            "Deployment.apps shop/c: rolling",
        ),
        (
            {
                _key("a"): status.HealthResult(H.DEGRADED, "crash"),
                _key("b"): status.HealthResult(H.MISSING),
                _key("c"): status.HealthResult(H.DEGRADED, "crash too"),
            },
            H.DEGRADED,
            "Deployment.apps shop/a: crash (and 1 more Degraded)",
        ),
        (
            {
                _key("a"): status.HealthResult(H.UNKNOWN, "check failed"),
                _key("b"): status.HealthResult(H.DEGRADED),
            },
            H.UNKNOWN,
            "shop/a: check failed",
        ),
    ],
)
def test_app_health_is_the_worst(
    results: dict[resources.ResourceKey, status.HealthResult], expected: H, message: str
) -> None:
    overall = assessing.app_health(results)
    assert overall.status is expected
    assert message in overall.message


def test_app_health_of_a_plain_iterable() -> None:
    found = assessing.app_health(
        [status.HealthResult(H.HEALTHY), status.HealthResult(H.MISSING, "gone")]
    )
    assert found == status.HealthResult(H.MISSING, "gone")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_fields_names = st.sampled_from(
    ["status", "spec", "metadata", "conditions", "replicas", "phase", "containerStatuses", "type"]
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([*assessing.REGISTRY.kinds(), ("example.com", "Widget")]),
    body=st.dictionaries(_fields_names, _json, max_size=4),
)
def test_assess_never_raises_on_any_json(kind: tuple[str, str], body: dict[str, Any]) -> None:
    group, name = kind
    obj = {**body, "apiVersion": f"{group}/v1" if group else "v1", "kind": name}
    result = assessing.assess(obj)
    assert isinstance(result.status, status.HealthStatus)
