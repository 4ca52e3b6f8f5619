"""``replicas`` in gitward.yaml: off by default; a coordinator needs the shared
PostgreSQL store; lease timings are ordered like client-go's."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from gitward.config import settings as config_settings

PG = "postgresql+psycopg://gitward@db/gitward"


def settings(**fields: Any) -> config_settings.Settings:
    return config_settings.Settings.model_validate(fields)


def test_a_single_replica_by_default() -> None:
    replicas = settings().replicas
    assert not replicas.enabled
    assert (replicas.lease_duration, replicas.renew_deadline, replicas.retry_period) == (
        15.0,
        10.0,
        2.0,
    )


@pytest.mark.parametrize("coordinator", ["kubernetes", "postgresql"])
def test_replicas_on_sqlite_are_refused_naming_the_store(coordinator: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        settings(store="sqlite:///state.db", replicas={"coordinator": coordinator})
    assert "replicas share a PostgreSQL store; SQLite runs a single replica" in str(caught.value)


def test_replicas_on_postgresql_with_durations() -> None:
    replicas = settings(
        store=PG,
        replicas={
            "coordinator": "postgresql",
            "leaseDuration": "3s",
            "renewDeadline": "2s",
            "retryPeriod": "500ms",
            "advertise": "http://10.0.0.7:8080",
        },
    ).replicas
    assert replicas.enabled
    assert (replicas.lease_duration, replicas.renew_deadline, replicas.retry_period) == (
        3.0,
        2.0,
        0.5,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"leaseDuration": "5s", "renewDeadline": "5s"}, "need retryPeriod < renewDeadline"),
        ({"retryPeriod": "12s"}, "need retryPeriod < renewDeadline"),
        ({"target": "nowhere"}, "replicas.target 'nowhere' is not one of `targets`"),
        ({"balance": -1}, "balance"),
    ],
)
def test_bad_replica_settings_are_named(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        settings(store=PG, replicas={"coordinator": "kubernetes", **fields})
    assert message in str(caught.value)


def test_leases_in_another_cluster_need_a_namespace() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        settings(
            store=PG,
            targets={"mgmt": {"kubeconfig": "/k"}},
            replicas={"coordinator": "kubernetes", "target": "mgmt"},
        )
    assert "replicas.namespace is required with replicas.target" in str(caught.value)
