"""Rolling sync decisions: which Applications of a set may take a new revision now."""

from __future__ import annotations

from gitward.config import applications, appsets
from gitward.engine import gating, rollouts, states
from gitward.model import status

STEPS = (
    appsets.RolloutStep(matchLabels={"env": "staging"}),
    appsets.RolloutStep(matchLabels={"env": "prod"}, maxUpdate="50%"),
)
SYNCED, OUT = status.SyncStatus.SYNCED, status.SyncStatus.OUT_OF_SYNC
HEALTHY, PROGRESSING, DEGRADED = (
    status.HealthStatus.HEALTHY,
    status.HealthStatus.PROGRESSING,
    status.HealthStatus.DEGRADED,
)


def _member(name: str, env: str, desired: str, synced: str, **kw: object) -> rollouts.Member:
    defaults: dict[str, object] = {"sync": SYNCED, "health": HEALTHY}
    defaults.update(kw)
    return rollouts.Member(name, {"env": env}, desired, synced, **defaults)  # type: ignore[arg-type]


def _fleet(staging: str, prod: tuple[str, ...], **staging_kw: object) -> list[rollouts.Member]:
    members = [_member("stage-1", "staging", "v2", staging, **staging_kw)]
    members += [_member(f"prod-{i}", "prod", "v2", synced) for i, synced in enumerate(prod)]
    return members


def test_a_new_revision_goes_to_staging_first() -> None:
    result = rollouts.assess(STEPS, _fleet("v1", ("v1",) * 4, sync=OUT))
    assert result.allowed == {"stage-1"}
    assert result.phase == rollouts.Phase.PROGRESSING
    assert result.current_step == 0
    assert result.steps[1].waiting == ("prod-0", "prod-1", "prod-2", "prod-3")
    assert not result.steps[1].open


def test_staging_applied_but_not_healthy_keeps_prod_closed() -> None:
    result = rollouts.assess(STEPS, _fleet("v2", ("v1",) * 4, health=PROGRESSING))
    assert result.allowed == frozenset()
    assert result.current_step == 0


def test_prod_opens_with_max_update_half() -> None:
    result = rollouts.assess(STEPS, _fleet("v2", ("v1",) * 4))
    assert result.allowed == {"prod-0", "prod-1"}
    # Two of them applied and progressing: no more may start.
    members = _fleet("v2", ("v2", "v2", "v1", "v1"))
    members[1] = _member("prod-0", "prod", "v2", "v2", health=PROGRESSING)
    members[2] = _member("prod-1", "prod", "v2", "v2", health=PROGRESSING)
    assert rollouts.assess(STEPS, members).allowed == frozenset()
    # One of them became healthy: one more may start.
    members[1] = _member("prod-0", "prod", "v2", "v2")
    assert rollouts.assess(STEPS, members).allowed == {"prod-2"}


def test_a_degraded_staging_stops_the_rollout_and_a_fix_may_go_to_it() -> None:
    result = rollouts.assess(STEPS, _fleet("v2", ("v1",) * 4, health=DEGRADED))
    assert result.phase == rollouts.Phase.FAILED
    assert result.broken == ("stage-1",)
    assert result.allowed == frozenset()
    fixed = [_member("stage-1", "staging", "v3", "v2", health=DEGRADED)]
    fixed += [_member(f"prod-{i}", "prod", "v3", "v1") for i in range(4)]
    assert rollouts.assess(STEPS, fixed).allowed == {"stage-1"}


def test_completed_when_every_step_is_done() -> None:
    result = rollouts.assess(STEPS, _fleet("v2", ("v2",) * 4))
    assert result.phase == rollouts.Phase.COMPLETED
    assert result.current_step == len(STEPS)


def test_pause_allows_nothing_and_promote_opens_a_step() -> None:
    members = _fleet("v2", ("v1",) * 4, health=PROGRESSING)
    assert rollouts.assess(STEPS, members, paused=True).phase == rollouts.Phase.PAUSED
    assert rollouts.assess(STEPS, members, paused=True).allowed == frozenset()
    promoted = rollouts.assess(STEPS, members, promoted_through=1)
    assert promoted.allowed == {"prod-0", "prod-1"}


def test_unmatched_applications_come_last_and_drift_is_never_gated() -> None:
    members = [
        _member("stage-1", "staging", "v2", "v1", sync=OUT),
        _member("other", "dev", "v2", "v1"),
        _member("prod-0", "prod", "v1", "v1", sync=OUT),  # drift at its own revision
    ]
    result = rollouts.assess(STEPS, members)
    assert result.allowed == {"stage-1"}
    assert result.steps[2].apps == ("other",)
    assert not result.steps[2].open
    assert "prod-0" not in result.steps[1].waiting


def test_a_step_is_not_judged_on_the_health_of_the_revision_before() -> None:
    """Between the end of a sync and the next health assessment an Application
    still carries the previous revision's health; the gate reads it as Unknown,
    so a failing staging cannot look Healthy for that moment and open prod."""
    app = applications.Application.model_validate(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "Application",
            "metadata": {"name": "stage-1"},
            "spec": {
                "source": {"repoURL": "file:///srv/git/web.git", "path": "web"},
                "destination": {"target": "test", "namespace": "web"},
            },
        }
    )
    state = states.AppState(app, sync=SYNCED, synced_revision="v2", health_revision="v1")
    state.health = status.HealthResult(HEALTHY)
    assert gating.member_health(state) == status.HealthStatus.UNKNOWN
    stale = rollouts.assess(STEPS, _fleet("v2", ("v1",) * 4, health=gating.member_health(state)))
    assert stale.allowed == set() and not stale.steps[1].open
    assert stale.phase == rollouts.Phase.PROGRESSING

    state.health_revision = "v2"  # assessed after the sync
    assert gating.member_health(state) == HEALTHY
    fresh = rollouts.assess(STEPS, _fleet("v2", ("v1",) * 4, health=gating.member_health(state)))
    assert fresh.steps[1].open and fresh.allowed
