"""The agent's Prometheus metrics: the objects the engine updates, and how.

One :class:`Metrics` per agent, each with its own ``CollectorRegistry`` (never
the process-wide default), so tests and benchmarks can run several agents in
one process. ``engine.workers`` and ``engine.reconciling`` observe through the
small methods below; ``gitward.api.metrics`` serves :attr:`Metrics.registry`
at ``GET /metrics``.

Label values are bounded by what Git declares (Application names, repository
URLs, the fixed stage names), never by request data, so cardinality stays what
the operator configured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class Stage(StrEnum):
    """The reconcile stages timed by ``gitward_reconcile_duration_seconds``."""

    SOURCE = "source"
    RENDER = "render"
    PLAN = "plan"
    APPLY = "apply"
    HEALTH = "health"


class Result(StrEnum):
    """Outcome labels of reconciles, syncs and apply requests."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DriftKind(StrEnum):
    DETECTED = "detected"
    CORRECTED = "corrected"


# Reconcile stages run from milliseconds (a cached render) to minutes (a
# health wait); git fetches from a few ms (ls-remote) to the fetch timeout.
_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_FETCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Every metric of one agent, registered in :attr:`registry`."""

    def __init__(self, registry: CollectorRegistry | None = None, *, recorded: bool = True) -> None:
        """``recorded=False`` for a process nobody scrapes (a one-shot command):
        every metric is then a stand-in that records nothing, and
        prometheus_client (~35 ms to import) is not imported."""
        registry_type, Counter, Gauge, Histogram = _kinds() if recorded else _UNRECORDED
        self.registry: CollectorRegistry = (
            registry if registry is not None else registry_type(auto_describe=True)
        )
        self.reconcile_total = Counter(
            "gitward_reconcile_total",
            "Reconciles finished, per Application and result.",
            ["app", "result"],
            registry=self.registry,
        )
        self.reconcile_duration = Histogram(
            "gitward_reconcile_duration_seconds",
            "Time spent in each reconcile stage.",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=self.registry,
        )
        self.target_up = Gauge(
            "gitward_target_reachable",
            "1 when the target answered its last probe or request, 0 when it did not.",
            ["target"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "gitward_queue_depth",
            "Applications waiting in the work queue.",
            registry=self.registry,
        )
        self.sync_total = Counter(
            "gitward_sync_total",
            "Sync operations finished (not dry-run), per Application and result.",
            ["app", "result"],
            registry=self.registry,
        )
        self.untouched_advances_total = Counter(
            "gitward_untouched_advances_total",
            "Applications advanced to a new commit without a render: the commit"
            " changed nothing they render from.",
            registry=self.registry,
        )
        self.drift_events_total = Counter(
            "gitward_drift_events_total",
            "Drift detected on a live object, or corrected by self-heal.",
            ["app", "kind"],
            registry=self.registry,
        )
        self.git_fetch_duration = Histogram(
            "gitward_git_fetch_duration_seconds",
            "Duration of git fetches, per repository URL.",
            ["repo"],
            buckets=_FETCH_BUCKETS,
            registry=self.registry,
        )
        self.apply_requests_total = Counter(
            "gitward_apply_requests_total",
            "Server-side apply and prune requests sent to targets, per result.",
            ["result"],
            registry=self.registry,
        )
        self.notifications_total = Counter(
            "gitward_notifications_total",
            "Notification attempts per provider and outcome (sent, retrying, failed).",
            ["provider", "outcome"],
            registry=self.registry,
        )
        # Delivery (DORA) figures over deliveryMetrics.window, per Application,
        # recomputed from the history every few minutes (engine.delivery.exporting).
        self.delivery_deployments = Gauge(
            "gitward_delivery_deployments",
            "Deployments (successful syncs that changed something) in the window.",
            ["app"],
            registry=self.registry,
        )
        self.delivery_frequency = Gauge(
            "gitward_delivery_deployment_frequency_per_day",
            "Deployments per day over the window.",
            ["app"],
            registry=self.registry,
        )
        self.delivery_lead_time = Gauge(
            "gitward_delivery_lead_time_seconds",
            "Lead time for changes (commit to Synced and Healthy), by quantile.",
            ["app", "quantile"],
            registry=self.registry,
        )
        self.delivery_failure_rate = Gauge(
            "gitward_delivery_change_failure_rate",
            "Share of deployments followed by a failure or rollback within failureWindow.",
            ["app"],
            registry=self.registry,
        )
        self.delivery_restore = Gauge(
            "gitward_delivery_time_to_restore_seconds",
            "Time from a failed sync or Degraded health to Healthy again, by quantile.",
            ["app", "quantile"],
            registry=self.registry,
        )
        # Replicas (engine.replicas): shards as this replica sees them.
        self.replica_shard_size = Gauge(
            "gitward_replica_shard_size",
            "Applications each live replica owns, in this replica's view of the members.",
            ["replica"],
            registry=self.registry,
        )
        self.lease_renew_failures = Counter(
            "gitward_replica_lease_renew_failures_total",
            "Lease renewals (or joins) of this replica that failed or found the lease lost.",
            registry=self.registry,
        )
        self._shard_replicas: set[str] = set()
        # Every stage label exists from the start, so dashboards show zeros
        # rather than "no data" before the first reconcile.
        for stage in Stage:
            self.reconcile_duration.labels(stage=stage.value)
        for result in Result:
            self.apply_requests_total.labels(result=result.value)

    @contextmanager
    def stage(self, name: Stage | str) -> Iterator[None]:
        """Time a reconcile stage (``with metrics.stage(Stage.RENDER): ...``);
        the time is recorded whether the stage succeeds or raises."""
        stage = Stage(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.reconcile_duration.labels(stage=stage.value).observe(time.perf_counter() - started)

    @contextmanager
    def git_fetch(self, repo_url: str) -> Iterator[None]:
        """Time one fetch of ``repo_url`` (credentials never appear in a URL we log:
        settings reference them, they are not embedded)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.git_fetch_duration.labels(repo=repo_url).observe(time.perf_counter() - started)

    def reconciled(self, app: str, ok: bool) -> None:
        self.reconcile_total.labels(app=app, result=_result(ok)).inc()

    def synced(self, app: str, ok: bool) -> None:
        self.sync_total.labels(app=app, result=_result(ok)).inc()

    def drift(self, app: str, kind: DriftKind | str) -> None:
        self.drift_events_total.labels(app=app, kind=DriftKind(kind).value).inc()

    def untouched(self, count: int) -> None:
        self.untouched_advances_total.inc(count)

    def apply_requests(self, ok: int, failed: int = 0) -> None:
        """Count apply/prune requests by outcome (one sync sends many)."""
        if ok:
            self.apply_requests_total.labels(result=Result.SUCCEEDED.value).inc(ok)
        if failed:
            self.apply_requests_total.labels(result=Result.FAILED.value).inc(failed)

    def notification(self, provider: str, outcome: str) -> None:
        self.notifications_total.labels(provider=provider, outcome=outcome).inc()

    def delivery(
        self,
        app: str,
        *,
        deployments: int,
        per_day: float,
        lead_time: tuple[float | None, float | None],
        failure_rate: float | None,
        restore: tuple[float | None, float | None],
    ) -> None:
        """Publish one Application's delivery figures (None: no data, NaN)."""
        nan = float("nan")
        self.delivery_deployments.labels(app=app).set(deployments)
        self.delivery_frequency.labels(app=app).set(per_day)
        self.delivery_failure_rate.labels(app=app).set(
            nan if failure_rate is None else failure_rate
        )
        for quantile, value in zip(("0.5", "0.9"), lead_time, strict=True):
            self.delivery_lead_time.labels(app=app, quantile=quantile).set(
                nan if value is None else value
            )
        for quantile, value in zip(("0.5", "0.9"), restore, strict=True):
            self.delivery_restore.labels(app=app, quantile=quantile).set(
                nan if value is None else value
            )

    def target_reachable(self, target: str, reachable: bool | None) -> None:
        if reachable is not None:
            self.target_up.labels(target=target).set(1 if reachable else 0)

    def shards(self, sizes: dict[str, int]) -> None:
        """Set the shard size of each live replica; replicas gone lose their series."""
        for gone in self._shard_replicas - set(sizes):
            self.replica_shard_size.remove(gone)
        for replica, size in sizes.items():
            self.replica_shard_size.labels(replica=replica).set(size)
        self._shard_replicas = set(sizes)

    def lease_renew_failed(self) -> None:
        self.lease_renew_failures.inc()

    def track_queue(self, depth: Callable[[], int]) -> None:
        """Read the queue depth at scrape time (``metrics.track_queue(lambda: len(queue))``)."""
        self.queue_depth.set_function(lambda: float(depth()))

    def forget(self, app: str) -> None:
        """Drop an Application's series once it leaves Git (bounded cardinality)."""
        for metric, labels in (
            (self.reconcile_total, [(app, r.value) for r in Result]),
            (self.sync_total, [(app, r.value) for r in Result]),
            (self.drift_events_total, [(app, k.value) for k in DriftKind]),
            (self.delivery_deployments, [(app,)]),
            (self.delivery_frequency, [(app,)]),
            (self.delivery_failure_rate, [(app,)]),
            (self.delivery_lead_time, [(app, q) for q in ("0.5", "0.9")]),
            (self.delivery_restore, [(app, q) for q in ("0.5", "0.9")]),
        ):
            for values in labels:
                try:
                    metric.remove(*values)
                except KeyError:
                    continue


def _result(ok: bool) -> str:
    return (Result.SUCCEEDED if ok else Result.FAILED).value


def _kinds() -> tuple[Any, Any, Any, Any]:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    return CollectorRegistry, Counter, Gauge, Histogram


class _Unrecorded:
    """A registry or metric nobody reads: takes every call, records nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __getattr__(self, name: str) -> Callable[..., _Unrecorded]:
        return self._nothing

    def _nothing(self, *args: object, **kwargs: object) -> _Unrecorded:
        return self


_UNRECORDED: tuple[Any, Any, Any, Any] = (_Unrecorded, _Unrecorded, _Unrecorded, _Unrecorded)
