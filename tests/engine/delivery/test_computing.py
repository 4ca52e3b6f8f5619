"""The delivery figures of the scripted history, computed without store or Git."""

from __future__ import annotations

from gitward.engine.delivery import computing
from tests.engine.delivery import scenario


def _history() -> computing.AppHistory:
    times = {c.name: c for c in scenario.COMMITS}
    brought = scenario.deployed_commits({})

    def message(name: str) -> str:
        commit = times[name]
        if commit.revert_of:
            return f'Revert "{commit.revert_of}"\n\nThis reverts commit 0123.'
        if commit.rollback_of:
            return f"Roll back web: revert {commit.rollback_of}"
        return name

    syncs = []
    for sync in scenario.SYNCS:
        if sync.dry_run:
            continue
        deployment = sync.phase == "Succeeded" and sync.changed
        syncs.append(
            computing.Sync(
                revision=sync.commit,
                started=sync.started,
                finished=sync.finished,
                succeeded=sync.phase == "Succeeded",
                changed=sync.changed,
                reason=sync.reason,
                commits=tuple(
                    computing.Commit(n, times[n].time, message(n)) for n in brought[sync.commit]
                )
                if deployment
                else (),
            )
        )
    signals = tuple(computing.Signal(r, t, c) for r, t, c in scenario.EVENTS)
    # The gatherer leaves superseded syncs out; so does this history.
    return computing.AppHistory(
        "web", syncs=tuple(s for s in syncs if s.reason != "Superseded"), signals=signals
    )


def test_scripted_history_gives_the_hand_computed_figures() -> None:
    report = computing.compute(
        [_history()],
        since=scenario.T0,
        until=scenario.UNTIL,
        failure_window=scenario.FAILURE_WINDOW,
    )
    assert report.total.as_dict() == scenario.EXPECTED
    assert len(report.buckets) == 10
    per_day = [b.figures.deployments for b in report.buckets]
    assert per_day == [1, 1, 1, 1, 2, 2, 0, 0, 0, 0]
    assert [b.figures.failed_deployments for b in report.buckets][:6] == [0, 0, 1, 0, 1, 1]


def test_a_failure_is_charged_to_the_latest_deployment_within_the_window() -> None:
    t = scenario.at
    history = computing.AppHistory(
        "api",
        syncs=(
            computing.Sync("a", t(0, "09:00"), t(0, "09:01"), True, True),
            computing.Sync("b", t(0, "09:10"), t(0, "09:11"), True, True),
            computing.Sync("c", t(0, "12:00"), t(0, "12:01"), False, False),
        ),
        signals=(computing.Signal("HealthDegraded", t(0, "09:20")),),
    )
    report = computing.compute(
        [history], since=t(0), until=t(1), failure_window=scenario.FAILURE_WINDOW
    )
    # Degraded at 09:20 is b's; the failed sync at 12:00 is too late for anyone.
    assert report.total.failed_deployments == 1
    assert report.total.open_incidents == 1
    assert report.total.restores == ()


def test_percentiles_interpolate_between_closest_ranks() -> None:
    assert computing.percentile([], 0.5) is None
    assert computing.percentile([7.0], 0.9) == 7.0
    assert computing.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert computing.percentile([10.0, 20.0], 0.9) == 19.0
