"""One scripted delivery history with figures computed by hand.

Times are minutes after T0 (the start of the 10-day window). The failure
window is one hour. Commits ``c0``..``c10`` change ``web/``; ``c8`` is a plain
``git revert``, ``c10`` the revert ``gitward app rollback`` pushes.

=====  =========================================  =====================================
 D0    c0 deployed a day before the window         outside the window
 D1    c1 08:00, sync 09:00, Deployed 09:05        lead 3900 s
       a superseded sync fails at 09:30            not a failure
 D2    c2 1d10:00, c3 1d11:00, sync 12:00,          lead 7800, 4200
       Deployed 12:10
 D3    c4 2d09:00, sync 10:00, Deployed 10:00       lead 3600; Degraded 10:30 (failed),
                                                    HealthRecovered 11:00: restore 1800
       c5 3d09:00: the sync fails at 09:30          incident opens (D3 is > 1h before)
 D4    c6 3d10:00, sync 10:15 (c5 and c6),          lead 4800, 1200; restore 3000
       Deployed 10:20
 D5    c7 4d09:00, sync 09:30, Deployed 09:35       lead 2100; reverted: failed
 D6    c8 = git revert of c7, 4d10:00,              lead 600
       sync 10:05-10:06, Deployed 10:10
 D7    c9 5d09:00, sync 09:10, Deployed 09:12       lead 720; RolledBack 09:40: failed
 D8    c10 = rollback revert 5d09:40,               lead 600
       sync 09:45-09:46, Deployed 09:50
       a dry run and a sync that changed nothing    not deployments
=====  =========================================  =====================================

Deployments 8 (0.8/day, 5.6/week); failed 3 (D3, D5, D7): 0.375.
Lead times sorted: 600 600 720 1200 2100 3600 3900 4200 4800 7800:
p50 = 2100 + 0.5 * 1500 = 2850, p90 = 4800 + 0.1 * 3000 = 5100.
Restores 1800 and 3000: p50 2400, p90 1800 + 0.9 * 1200 = 2880, mean 2400.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gitward.model import operations, plans, resources
from gitward.store import base as store_base
from gitward.store import storing

T0 = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = T0 + timedelta(days=10)
FAILURE_WINDOW = timedelta(hours=1)


def at(day: float, hhmm: str = "00:00") -> datetime:
    hours, minutes = hhmm.split(":")
    return T0 + timedelta(days=day, hours=int(hours), minutes=int(minutes))


@dataclass(frozen=True)
class ScriptedCommit:
    name: str
    time: datetime
    revert_of: str = ""  # a plain `git revert` of that commit
    rollback_of: str = ""  # the revert `gitward app rollback` pushes


COMMITS = [
    ScriptedCommit("c0", at(-1, "08:00")),
    ScriptedCommit("c1", at(0, "08:00")),
    ScriptedCommit("c2", at(1, "10:00")),
    ScriptedCommit("c3", at(1, "11:00")),
    ScriptedCommit("c4", at(2, "09:00")),
    ScriptedCommit("c5", at(3, "09:00")),
    ScriptedCommit("c6", at(3, "10:00")),
    ScriptedCommit("c7", at(4, "09:00")),
    ScriptedCommit("c8", at(4, "10:00"), revert_of="c7"),
    ScriptedCommit("c9", at(5, "09:00")),
    ScriptedCommit("c10", at(5, "09:40"), rollback_of="c9"),
]


@dataclass(frozen=True)
class ScriptedSync:
    commit: str
    started: datetime
    finished: datetime
    phase: str = "Succeeded"  # or Failed
    changed: bool = True
    reason: str = ""
    dry_run: bool = False


SYNCS = [
    ScriptedSync("c0", at(-1, "08:59"), at(-1, "09:00")),
    ScriptedSync("c1", at(0, "08:59"), at(0, "09:00")),
    ScriptedSync("c1", at(0, "09:29"), at(0, "09:30"), "Failed", False, "Superseded"),
    ScriptedSync("c3", at(1, "11:59"), at(1, "12:00")),
    ScriptedSync("c4", at(2, "09:59"), at(2, "10:00")),
    ScriptedSync("c5", at(3, "09:29"), at(3, "09:30"), "Failed", False, "ApplyFailed"),
    ScriptedSync("c6", at(3, "10:14"), at(3, "10:15")),
    ScriptedSync("c7", at(4, "09:29"), at(4, "09:30")),
    ScriptedSync("c8", at(4, "10:05"), at(4, "10:06")),
    ScriptedSync("c9", at(5, "09:09"), at(5, "09:10")),
    ScriptedSync("c10", at(5, "09:45"), at(5, "09:46")),
    ScriptedSync("c10", at(6, "09:00"), at(6, "09:01"), dry_run=True),
    ScriptedSync("c10", at(6, "10:00"), at(6, "10:01"), changed=False),
]

# (reason, time, commit)
EVENTS = [
    ("Deployed", at(-1, "09:01"), "c0"),
    ("Deployed", at(0, "09:05"), "c1"),
    ("Deployed", at(1, "12:10"), "c3"),
    ("Deployed", at(2, "10:00"), "c4"),
    ("HealthDegraded", at(2, "10:30"), "c4"),
    ("HealthRecovered", at(2, "11:00"), "c4"),
    ("Deployed", at(3, "10:20"), "c6"),
    ("Deployed", at(4, "09:35"), "c7"),
    ("Deployed", at(4, "10:10"), "c8"),
    ("Deployed", at(5, "09:12"), "c9"),
    ("RolledBack", at(5, "09:40"), "c10"),
    ("Deployed", at(5, "09:50"), "c10"),
]

EXPECTED = {
    "deploymentFrequency": {"deployments": 8, "perDay": 0.8, "perWeek": 5.6},
    "leadTimeForChanges": {"commits": 10, "p50": 2850.0, "p90": 5100.0, "unit": "seconds"},
    "changeFailureRate": {"deployments": 8, "failed": 3, "rate": 0.375, "windowSeconds": 3600.0},
    "timeToRestore": {
        "incidents": 2,
        "restored": 2,
        "open": 0,
        "p50": 2400.0,
        "p90": 2880.0,
        "mean": 2400.0,
        "unit": "seconds",
    },
}


def deployed_commits(shas: dict[str, str]) -> dict[str, list[str]]:
    """The commits each deployment brought (by deployed commit name)."""
    return {
        "c0": ["c0"],
        "c1": ["c1"],
        "c3": ["c2", "c3"],
        "c4": ["c4"],
        "c6": ["c5", "c6"],
        "c7": ["c7"],
        "c8": ["c8"],
        "c9": ["c9"],
        "c10": ["c10"],
    }


def message(name: str, shas: dict[str, str]) -> str:
    commit = next(c for c in COMMITS if c.name == name)
    if commit.revert_of:
        return (
            f'Revert "change {commit.revert_of}"\n\nThis reverts commit {shas[commit.revert_of]}.'
        )
    if commit.rollback_of:
        return f"Roll back web: revert {shas[commit.rollback_of][:12]}"
    return f"change {name}"


async def record(
    url: str, shas: dict[str, str], *, app: str = "web", shift: timedelta = timedelta(0)
) -> None:
    """Write the scripted operations and events of ``app`` into the store at ``url``,
    every time moved by ``shift``."""
    times = {c.name: c.time + shift for c in COMMITS}
    key = resources.ResourceKey("apps", "Deployment", "web", "web")
    async with storing.SqlStore(url) as store:
        if await store.get_status(app) is None:
            await store.save_status(store_base.AppRecord(name=app, project="shop"))
        for sync in SYNCS:
            revision = operations.Revision(
                sha=shas[sync.commit],
                committed_at=times[sync.commit],
                message=message(sync.commit, shas),
            )
            started = sync.started + shift
            op_id = await store.start_operation(
                operations.Operation(
                    app=app,
                    revision=revision,
                    trigger="auto-sync",
                    started_at=started,
                    dry_run=sync.dry_run,
                )
            )
            code = operations.ResultCode.CONFIGURED
            if not sync.changed:
                code = operations.ResultCode.UNCHANGED
            if sync.phase == "Failed":
                code = operations.ResultCode.FAILED
            await store.finish_operation(
                op_id,
                operations.Operation(
                    app=app,
                    revision=revision,
                    trigger="auto-sync",
                    started_at=started,
                    finished_at=sync.finished + shift,
                    phase=operations.OperationPhase(sync.phase),
                    dry_run=sync.dry_run,
                    results=(operations.ResourceResult(key, plans.Action.UPDATE, code),),
                    reason=sync.reason,
                ),
            )
        for reason, when, commit in EVENTS:
            await store.add_event(
                store_base.EventRecord(
                    app=app,
                    time=when + shift,
                    type=store_base.EventType.NORMAL,
                    reason=reason,
                    message="",
                    revision=shas[commit],
                )
            )
