"""Looking at what an Application runs: live objects, what they own, their health.

The web UI's resource tree calls these; they go through the Target Protocol
and the health stage, so the edges never touch a target or a stage directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from gitward import errors
from gitward.health import assessing
from gitward.model import resources, status
from gitward.targets import base as targets

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Live:
    """Managed objects as they are, the objects they own, and what could not be read."""

    managed: Mapping[resources.ResourceKey, Mapping[str, Any] | None]
    owned: tuple[Mapping[str, Any], ...]
    notes: tuple[str, ...]


def assess(obj: Mapping[str, Any]) -> status.HealthResult:
    """Health of one live object (never raises)."""
    return assessing.assess(obj)


async def live(
    target: targets.Target,
    keys: Sequence[resources.ResourceKey],
    owned_kinds: Sequence[tuple[str, str]],
    *,
    limit: int,
) -> Live:
    """Read ``keys`` and list ``owned_kinds`` in their namespaces (at most
    ``limit`` per kind and namespace); failures become notes, not errors."""
    if not keys:
        return Live({}, (), ())
    try:
        managed = await target.read(keys)
    except errors.GitwardError as exc:
        return Live({}, (), (f"live objects could not be read: {exc}",))
    owned: list[Mapping[str, Any]] = []
    notes: list[str] = []
    namespaces = sorted({k.namespace for k in keys if k.namespace})
    for group, kind in sorted(set(owned_kinds)):
        what = f"{kind}.{group}" if group else kind
        for namespace in namespaces:
            try:
                found, more = await target.list_objects(group, kind, namespace, limit=limit)
            except errors.GitwardError as exc:
                _log.warning("listing owned objects failed", kind=what, error=str(exc))
                notes.append(f"{what} in namespace {namespace} could not be listed: {exc}")
                continue
            owned.extend(found)
            if more:
                notes.append(
                    f"more than {limit} {what} in namespace {namespace}: the tree shows the first"
                )
    return Live(managed, tuple(owned), tuple(notes))
