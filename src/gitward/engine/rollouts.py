"""Progressive rollout of an ApplicationSet's revision, step by step: a pure decision.

Given the set's ``strategy.rollingSync.steps`` and where each generated
Application stands (the revision it should run, the revision it last applied,
its sync and health), :func:`assess` says which Applications may apply their
new revision now, and where the rollout stands. The engine asks before an
automated sync of a generated Application (``engine.gating``) and re-asks
whenever a member's status changes, so a step opens the moment the previous
one is Synced and Healthy.

Rules:
- An Application belongs to the first step whose selector matches its labels;
  one matching no step belongs to an implicit last step.
- An Application is *pending* while the revision it should run differs from
  the one it last applied; only pending Applications are gated. Drift at the
  revision already applied is corrected at once (selfHeal is not a rollout).
- A step is *open* when every Application of the earlier steps is done (at
  its revision, Synced and Healthy), or when a person promoted past it.
- Within an open step at most ``maxUpdate`` Applications are in flight
  (applied but not yet Healthy, or allowed and not yet applied).
- A failed or Degraded Application of an open step stops the rollout there:
  later steps stay closed until it recovers (a fix is a new revision, which
  the failed step may take at once).
- A paused rollout allows nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gitward.config import appsets
from gitward.model import status


class Phase(StrEnum):
    PROGRESSING = "Progressing"
    COMPLETED = "Completed"
    PAUSED = "Paused"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class Member:
    """Where one generated Application stands."""

    name: str
    labels: Mapping[str, str]
    desired_revision: str  # '' when not yet resolved
    synced_revision: str  # '' when never applied
    sync: status.SyncStatus = status.SyncStatus.UNKNOWN
    health: status.HealthStatus = status.HealthStatus.UNKNOWN
    failed: bool = False  # its last operation failed

    @property
    def pending(self) -> bool:
        return bool(self.desired_revision) and self.desired_revision != self.synced_revision

    @property
    def done(self) -> bool:
        return (
            not self.pending
            and bool(self.synced_revision)
            and self.sync == status.SyncStatus.SYNCED
            and self.health == status.HealthStatus.HEALTHY
            and not self.failed
        )

    @property
    def broken(self) -> bool:
        return self.failed or self.health == status.HealthStatus.DEGRADED

    @property
    def in_flight(self) -> bool:
        """Applied its revision but not Healthy yet."""
        return not self.pending and bool(self.synced_revision) and not self.done


@dataclass(frozen=True, slots=True)
class StepState:
    index: int  # 0-based; len(steps) is the implicit step of unmatched Applications
    apps: tuple[str, ...]
    open: bool
    done: tuple[str, ...]
    waiting: tuple[str, ...]  # pending, not allowed yet
    broken: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rollout:
    phase: Phase
    current_step: int  # the first step not done; len(steps) when all are
    steps: tuple[StepState, ...]
    allowed: frozenset[str]
    broken: tuple[str, ...]

    def allows(self, name: str) -> bool:
        return name in self.allowed


def assess(
    steps: Sequence[appsets.RolloutStep],
    members: Sequence[Member],
    *,
    paused: bool = False,
    promoted_through: int = -1,
) -> Rollout:
    """Where the rollout stands; ``promoted_through`` opens steps 0..n by hand."""
    grouped: list[list[Member]] = [[] for _ in range(len(steps) + 1)]
    for member in sorted(members, key=lambda m: m.name):
        grouped[_step_of(steps, member.labels)].append(member)

    states: list[StepState] = []
    allowed: set[str] = set()
    earlier_done = True
    broken_all: list[str] = []
    current = len(grouped)
    for index, group in enumerate(grouped):
        if not group:
            states.append(StepState(index, (), earlier_done, (), (), ()))
            continue
        is_open = (earlier_done or index <= promoted_through) and not paused
        broken = tuple(m.name for m in group if m.broken)
        done = tuple(m.name for m in group if m.done)
        chosen: list[str] = []
        if is_open:
            limit = steps[index].limit(len(group)) if index < len(steps) else len(group)
            in_flight = sum(1 for m in group if m.in_flight)
            for member in group:
                if member.pending and in_flight + len(chosen) < limit:
                    chosen.append(member.name)
            # A broken member may always take a new revision: that is how a fix arrives.
            chosen.extend(m.name for m in group if m.pending and m.broken and m.name not in chosen)
        allowed.update(chosen)
        waiting = tuple(m.name for m in group if m.pending and m.name not in chosen)
        states.append(
            StepState(index, tuple(m.name for m in group), is_open, done, waiting, broken)
        )
        if is_open:
            broken_all.extend(broken)
        if len(done) != len(group) and current == len(grouped):
            current = index
        earlier_done = earlier_done and len(done) == len(group)

    if paused:
        phase = Phase.PAUSED
    elif broken_all:
        phase = Phase.FAILED
    elif current == len(grouped):
        phase = Phase.COMPLETED
    else:
        phase = Phase.PROGRESSING
    current_step = min(current, len(steps)) if current < len(grouped) else len(steps)
    return Rollout(phase, current_step, tuple(states), frozenset(allowed), tuple(broken_all))


def _step_of(steps: Sequence[appsets.RolloutStep], labels: Mapping[str, str]) -> int:
    for index, step in enumerate(steps):
        if step.selector().matches(labels):
            return index
    return len(steps)
