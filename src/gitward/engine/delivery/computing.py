"""The delivery (DORA) figures, computed from history: pure, so table-tested.

Inputs (:class:`AppHistory`) are what gitward already records: the
Operations of each Application, its events (Deployed, HealthDegraded,
HealthRecovered, RolledBack, Pinned) and the commits each deployment brought
(read from Git). Nothing here is stored: the figures are recomputed on every
request from that history (``gathering`` collects it).

Definitions (the same in the CLI, the API, the UI and the metrics):

* **deployment**: a successful, non-dry-run sync that changed something (an
  object created, configured or pruned); its time is when the sync finished.
* **deployment frequency**: deployments finished in the window; per day and
  per week.
* **lead time for changes**: for every commit a deployment brought (the
  commits after the previous deployment's revision up to its own, touching the
  Application's path), from the commit's time to the Application being Synced
  and Healthy at that revision (its ``Deployed`` event); p50 and p90 with
  linear interpolation between closest ranks. A deployment that never became
  healthy contributes no lead time.
* **change failure rate**: the share of deployments followed, within
  ``failure_window`` and before the next deployment, by a failed sync,
  Degraded health or a rollback: ``gitward app rollback`` (RolledBack,
  Pinned) or the deployment of a ``git revert`` commit.
* **time to restore**: from a failed sync or Degraded health to the next time
  the Application is Synced and Healthy (Deployed, HealthRecovered); incidents
  that began in the window; open incidents are counted, not timed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

DEPLOYED = "Deployed"
RECOVERED = "HealthRecovered"
DEGRADED = "HealthDegraded"
ROLLBACK_REASONS = frozenset({"RolledBack", "Pinned"})
_REVERT_PREFIXES = ('Revert "', "Roll back ")
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    time: datetime
    message: str = ""

    @property
    def is_revert(self) -> bool:
        return self.message.startswith(_REVERT_PREFIXES) or "This reverts commit " in self.message


@dataclass(frozen=True, slots=True)
class Sync:
    """One finished, non-dry-run operation."""

    revision: str
    started: datetime
    finished: datetime
    succeeded: bool
    changed: bool
    reason: str = ""
    commits: tuple[Commit, ...] = ()

    @property
    def is_deployment(self) -> bool:
        return self.succeeded and self.changed


@dataclass(frozen=True, slots=True)
class Signal:
    """An event that matters to the figures: its reason, time and revision."""

    reason: str
    time: datetime
    revision: str = ""


@dataclass(frozen=True, slots=True)
class AppHistory:
    name: str
    project: str = "default"
    target: str = ""
    syncs: tuple[Sync, ...] = ()
    signals: tuple[Signal, ...] = ()


@dataclass(frozen=True, slots=True)
class Figures:
    deployments: int
    per_day: float
    lead_times: tuple[float, ...]
    failed_deployments: int
    restores: tuple[float, ...]
    open_incidents: int
    window_days: float
    failure_window: float

    @property
    def change_failure_rate(self) -> float | None:
        return None if not self.deployments else self.failed_deployments / self.deployments

    def as_dict(self) -> dict[str, Any]:
        """The four figures as the CLI's JSON and the API answer them."""
        return {
            "deploymentFrequency": {
                "deployments": self.deployments,
                "perDay": _round(self.per_day),
                "perWeek": _round(self.per_day * 7),
            },
            "leadTimeForChanges": {
                "commits": len(self.lead_times),
                "p50": _round(percentile(self.lead_times, 0.5)),
                "p90": _round(percentile(self.lead_times, 0.9)),
                "unit": "seconds",
            },
            "changeFailureRate": {
                "deployments": self.deployments,
                "failed": self.failed_deployments,
                "rate": _round(self.change_failure_rate),
                "windowSeconds": self.failure_window,
            },
            "timeToRestore": {
                "incidents": len(self.restores) + self.open_incidents,
                "restored": len(self.restores),
                "open": self.open_incidents,
                "p50": _round(percentile(self.restores, 0.5)),
                "p90": _round(percentile(self.restores, 0.9)),
                "mean": _round(sum(self.restores) / len(self.restores)) if self.restores else None,
                "unit": "seconds",
            },
        }


@dataclass(frozen=True, slots=True)
class Bucket:
    """The figures of one day (or week) of the window, for the charts."""

    start: datetime
    figures: Figures


@dataclass(frozen=True, slots=True)
class Report:
    since: datetime
    until: datetime
    total: Figures
    applications: dict[str, Figures] = field(default_factory=dict)
    buckets: tuple[Bucket, ...] = ()


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * p
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(slots=True)
class _Outcome:
    """Per-Application facts, each with its time, before windowing."""

    deployments: list[datetime] = field(default_factory=list)
    failed: list[datetime] = field(default_factory=list)
    lead_times: list[tuple[datetime, float]] = field(default_factory=list)
    restores: list[tuple[datetime, float]] = field(default_factory=list)
    open_incidents: list[datetime] = field(default_factory=list)


def _outcome(history: AppHistory, failure_window: timedelta) -> _Outcome:
    out = _Outcome()
    syncs = sorted(history.syncs, key=lambda s: s.finished)
    signals = sorted(history.signals, key=lambda s: s.time)
    deployments = [s for s in syncs if s.is_deployment]
    healthy_at: dict[str, list[datetime]] = {}
    for signal in signals:
        if signal.reason == DEPLOYED and signal.revision:
            healthy_at.setdefault(signal.revision, []).append(signal.time)
    # Lead time: commit time -> Synced and Healthy at the deployed revision.
    for deployment in deployments:
        out.deployments.append(deployment.finished)
        healthy = next(
            (t for t in healthy_at.get(deployment.revision, ()) if t >= deployment.started),
            None,
        )
        if healthy is None:
            continue
        for commit in deployment.commits:
            out.lead_times.append((deployment.finished, (healthy - commit.time).total_seconds()))
    # Change failures: each failure is charged to the latest deployment before it.
    failures = [s.finished for s in syncs if not s.succeeded]
    failures += [s.time for s in signals if s.reason == DEGRADED or s.reason in ROLLBACK_REASONS]
    failures += [d.started for d in deployments if any(c.is_revert for c in d.commits)]
    failed: set[datetime] = set()
    for when in failures:
        before = [d.finished for d in deployments if d.finished < when]
        if before and when - before[-1] <= failure_window:
            failed.add(before[-1])
    out.failed = sorted(failed)
    # Time to restore: a failed sync or Degraded health until Synced and Healthy again.
    timeline = [(s.finished, "bad") for s in syncs if not s.succeeded]
    timeline += [(s.time, "bad") for s in signals if s.reason == DEGRADED]
    timeline += [(s.time, "good") for s in signals if s.reason in (DEPLOYED, RECOVERED)]
    timeline.sort(key=lambda item: (item[0], item[1] == "bad"))
    began: datetime | None = None
    for when, kind in timeline:
        if kind == "bad" and began is None:
            began = when
        elif kind == "good" and began is not None:
            out.restores.append((began, (when - began).total_seconds()))
            began = None
    if began is not None:
        out.open_incidents.append(began)
    return out


def _figures(
    outcomes: Iterable[_Outcome],
    since: datetime,
    until: datetime,
    failure_window: timedelta,
) -> Figures:
    def inside(when: datetime) -> bool:
        return since <= when < until

    deployments = failed = opened = 0
    lead: list[float] = []
    restores: list[float] = []
    for out in outcomes:
        deployments += sum(1 for t in out.deployments if inside(t))
        failed += sum(1 for t in out.failed if inside(t))
        lead += [v for t, v in out.lead_times if inside(t)]
        restores += [v for t, v in out.restores if inside(t)]
        opened += sum(1 for t in out.open_incidents if inside(t))
    days = (until - since) / _DAY
    return Figures(
        deployments=deployments,
        per_day=deployments / days if days > 0 else 0.0,
        lead_times=tuple(lead),
        failed_deployments=failed,
        restores=tuple(restores),
        open_incidents=opened,
        window_days=days,
        failure_window=failure_window.total_seconds(),
    )


def compute(
    histories: Sequence[AppHistory],
    *,
    since: datetime,
    until: datetime,
    failure_window: timedelta,
    bucket: timedelta | None = None,
) -> Report:
    """The figures over ``[since, until)`` in total, per Application and per bucket
    (a day by default; a week when the window is longer than 60 days)."""
    outcomes = {h.name: _outcome(h, failure_window) for h in histories}
    if bucket is None:
        bucket = _DAY if until - since <= 60 * _DAY else 7 * _DAY
    buckets = []
    start = since
    while start < until:
        end = min(start + bucket, until)
        buckets.append(Bucket(start, _figures(outcomes.values(), start, end, failure_window)))
        start = end
    return Report(
        since=since,
        until=until,
        total=_figures(outcomes.values(), since, until, failure_window),
        applications={
            name: _figures([out], since, until, failure_window)
            for name, out in sorted(outcomes.items())
        },
        buckets=tuple(buckets),
    )


def report_dict(report: Report, scope: dict[str, str | None]) -> dict[str, Any]:
    """The JSON document of ``gitward report delivery -o json`` and ``GET /api/v1/delivery``."""
    return {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "scope": scope,
        **report.total.as_dict(),
        "applications": [
            {"name": name, **figures.as_dict()} for name, figures in report.applications.items()
        ],
        "series": [
            {
                "start": b.start.isoformat(),
                "deployments": b.figures.deployments,
                "failed": b.figures.failed_deployments,
                "leadTimeP50": _round(percentile(b.figures.lead_times, 0.5)),
                "timeToRestoreP50": _round(percentile(b.figures.restores, 0.5)),
            }
            for b in report.buckets
        ],
    }
