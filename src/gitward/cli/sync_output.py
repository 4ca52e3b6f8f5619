"""What ``gitward sync`` prints: a summary by default, every object on request.

An Application of 500 objects would otherwise print 500 table rows and 500
health lines on every sync, most of them "Unchanged" and "Healthy" (and rich
took longer to lay out that table than the sync took to find nothing to do).
The summary says, per kind, how many objects had each result; then names the
objects that changed (the first :data:`CHANGED_SHOWN`, every failure) and the
objects that are not Healthy. ``-v`` or ``-o wide`` prints the full table and
every object's health; ``-o json``/``yaml`` always carry every result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitward.model import operations, status

if TYPE_CHECKING:
    from gitward.engine import reconciling

# Changed objects named in the summary; failures are always all named.
CHANGED_SHOWN = 20

_QUIET = (operations.ResultCode.UNCHANGED, operations.ResultCode.SKIPPED)


def title(op: operations.Operation) -> str:
    return f"sync {op.app} @ {op.revision.sha[:12] or op.revision.ref}"


def summary_lines(op: operations.Operation) -> list[str]:
    """Per-kind counts of each result, then the changed objects (plain text)."""
    if not op.results:
        return []
    counts: dict[str, dict[str, int]] = {}
    for result in op.results:
        per_kind = counts.setdefault(result.key.group_kind, {})
        per_kind[result.code.value] = per_kind.get(result.code.value, 0) + 1
    width = max(len(kind) for kind in counts)
    lines = [f"{title(op)}: {len(op.results)} object(s)"]
    for kind in sorted(counts):
        parts = ", ".join(f"{n} {code.lower()}" for code, n in sorted(counts[kind].items()))
        lines.append(f"  {kind:<{width}}  {parts}")
    changed = [r for r in op.results if r.code not in _QUIET]
    failed = [r for r in changed if r.code is operations.ResultCode.FAILED]
    others = [r for r in changed if r.code is not operations.ResultCode.FAILED]
    shown = failed + others[: max(0, CHANGED_SHOWN - len(failed))]
    for result in shown:
        message = f": {result.message}" if result.message else ""
        lines.append(f"  {result.code.value.lower():<10} {result.key}{message}")
    if len(changed) > len(shown):
        lines.append(
            f"  ... and {len(changed) - len(shown)} more changed (-v or -o wide lists every object)"
        )
    return lines


def health_lines(report: reconciling.SyncReport, *, every: bool) -> list[str]:
    """One line per object's health: all of them, or only those not Healthy."""
    return [
        f"  health {key}: {health.status.value} {health.message}".rstrip()
        for key, health in sorted(report.outcome.health.items())
        if every or health.status is not status.HealthStatus.HEALTHY
    ]


def not_healthy(report: reconciling.SyncReport) -> list[str]:
    """The objects a succeeded sync left not Healthy, as ``Kind ns/name (Status)``."""
    return [
        f"{key} ({health.status.value})"
        for key, health in sorted(report.outcome.health.items())
        if health.status is not status.HealthStatus.HEALTHY
    ]
