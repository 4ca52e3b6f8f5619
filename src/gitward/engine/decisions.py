"""The agent's small decisions, as pure functions: retry backoff, and what a
watch event means. ``engine.workers`` and ``engine.triggers.watches`` call
them; tests pin them down."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from gitward.config import applications


def retry_delay(retry: applications.Retry, failures: int) -> float | None:
    """Seconds before retry number ``failures`` (1-based), or None when the
    limit is spent: ``duration * factor**(failures-1)``, capped at ``maxDuration``."""
    if failures < 1 or failures > retry.limit:
        return None
    backoff = retry.backoff
    return float(min(backoff.duration * backoff.factor ** (failures - 1), backoff.max_duration))


Fingerprint = tuple[str, str]


def fingerprint(obj: Mapping[str, Any]) -> Fingerprint:
    """(generation + labels + annotations, resourceVersion) of a live object.

    Equal first parts mean only the status (or nothing gitward declares)
    changed; objects without a generation (ConfigMaps) never compare equal.
    """
    meta = obj.get("metadata") or {}
    version = str(meta.get("resourceVersion") or "")
    generation = meta.get("generation")
    if generation is None:
        return "", version
    declared = json.dumps(
        [generation, meta.get("labels") or {}, meta.get("annotations") or {}], sort_keys=True
    )
    return declared, version


class Change(StrEnum):
    """What a MODIFIED/ADDED watch event says about a managed object."""

    OWN_WRITE = "own-write"  # the event of gitward's own apply: nothing to do
    STATUS = "status"  # same generation, labels and annotations: refresh health
    DRIFT = "drift"  # anything else: re-plan


def classify(previous: Fingerprint | None, current: Fingerprint) -> Change:
    if previous is not None and previous[1] == current[1]:
        return Change.OWN_WRITE
    if previous is not None and current[0] and previous[0] == current[0]:
        return Change.STATUS
    return Change.DRIFT
