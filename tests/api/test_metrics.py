"""Metrics: the engine's metric objects, and ``GET /metrics`` per agent."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gitward.engine import metrics
from tests.api.conftest import ServeFactory


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_engine_metrics_observe_and_forget() -> None:
    one, other = metrics.Metrics(), metrics.Metrics()
    with pytest.raises(RuntimeError), one.stage(metrics.Stage.RENDER):
        raise RuntimeError("a failing stage is still timed")
    with one.git_fetch("https://git.example.com/org/deploy.git"):
        pass
    one.reconciled("web", ok=True)
    one.reconciled("web", ok=False)
    one.synced("web", ok=True)
    one.drift("web", metrics.DriftKind.DETECTED)
    one.drift("web", "corrected")
    one.apply_requests(ok=3, failed=1)
    one.track_queue(lambda: 7)
    found = samples(generate_latest(one.registry).decode())
    assert found[("gitward_reconcile_duration_seconds_count", (("stage", "render"),))] == 1
    assert found[("gitward_reconcile_duration_seconds_count", (("stage", "apply"),))] == 0
    assert (
        found[
            (
                "gitward_git_fetch_duration_seconds_count",
                (("repo", "https://git.example.com/org/deploy.git"),),
            )
        ]
        == 1
    )
    assert found[("gitward_reconcile_total", (("app", "web"), ("result", "failed")))] == 1
    assert found[("gitward_sync_total", (("app", "web"), ("result", "succeeded")))] == 1
    assert found[("gitward_drift_events_total", (("app", "web"), ("kind", "corrected")))] == 1
    assert found[("gitward_apply_requests_total", (("result", "succeeded"),))] == 3
    assert found[("gitward_apply_requests_total", (("result", "failed"),))] == 1
    assert found[("gitward_queue_depth", ())] == 7
    # Separate registries: the other agent saw nothing, the global one is untouched.
    assert ("gitward_reconcile_total", (("app", "web"), ("result", "failed"))) not in samples(
        generate_latest(other.registry).decode()
    )
    assert b"gitward_reconcile_total" not in generate_latest(REGISTRY)
    one.forget("web")
    after = samples(generate_latest(one.registry).decode())
    assert not any(labels and dict(labels).get("app") == "web" for _, labels in after)
    with pytest.raises(ValueError), one.stage("compile"):
        pass


def test_unrecorded_metrics_take_every_call_the_engine_makes() -> None:
    # What one-shot commands use: nothing scrapes them, nothing is recorded.
    quiet = metrics.Metrics(recorded=False)
    with pytest.raises(RuntimeError, match="still raised"), quiet.stage(metrics.Stage.PLAN):
        raise RuntimeError("a failing stage is still raised")
    with quiet.git_fetch("https://git.example.com/org/deploy.git"):
        pass
    quiet.reconciled("web", ok=True)
    quiet.synced("web", ok=False)
    quiet.drift("web", metrics.DriftKind.CORRECTED)
    quiet.apply_requests(ok=3, failed=1)
    quiet.notification("slack", "sent")
    quiet.delivery(
        "web",
        deployments=2,
        per_day=0.5,
        lead_time=(1.0, None),
        failure_rate=None,
        restore=(None, 2.0),
    )
    quiet.target_reachable("prod", reachable=False)
    quiet.shards({"a": 3})
    quiet.shards({})
    quiet.lease_renew_failed()
    quiet.track_queue(lambda: 7)
    quiet.forget("web")
    assert not isinstance(quiet.registry, type(metrics.Metrics().registry))


async def test_metrics_endpoint_of_two_agents_in_one_process(serve: ServeFactory) -> None:
    first = await serve()
    second = await serve()
    for served in (first, second):
        await served.until(lambda s=served: s.agent.apps.get("web"), "web declared")
        async with served.client("reader-all") as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        found = samples(response.text)
        assert ("gitward_queue_depth", ()) in found
        assert ("gitward_reconcile_duration_seconds_count", (("stage", "plan"),)) in found
        info = {
            dict(labels)["app"]: dict(labels)
            for name, labels in found
            if name == "gitward_app_info"
        }
        assert set(info) == {"web", "billing"}
        assert info["billing"]["project"] == "team"
        assert info["billing"]["sync"] in ("OutOfSync", "Unknown")
