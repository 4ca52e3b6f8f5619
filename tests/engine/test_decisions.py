"""The agent's pure decisions: retry backoff and what a watch event means."""

from __future__ import annotations

import pytest

from gitward.config import applications
from gitward.engine import decisions


def retry(limit: int = 5) -> applications.Retry:
    return applications.Retry.model_validate(
        {"limit": limit, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "30s"}}
    )


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, None), (1, 5.0), (2, 10.0), (3, 20.0), (4, 30.0), (5, 30.0), (6, None)],
)
def test_backoff_doubles_up_to_its_cap_and_stops_at_the_limit(
    failures: int, delay: float | None
) -> None:
    assert decisions.retry_delay(retry(), failures) == delay


def test_a_limit_of_zero_never_retries() -> None:
    assert decisions.retry_delay(retry(limit=0), 1) is None


def obj(generation: int | None, version: str, labels: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    meta: dict[str, object] = {"resourceVersion": version, "labels": labels or {}}
    if generation is not None:
        meta["generation"] = generation
    return {"metadata": meta}


def test_own_write_status_only_and_drift_are_told_apart() -> None:
    written = decisions.fingerprint(obj(3, "100"))
    assert (
        decisions.classify(written, decisions.fingerprint(obj(3, "100")))
        is decisions.Change.OWN_WRITE
    )
    assert (
        decisions.classify(written, decisions.fingerprint(obj(3, "101"))) is decisions.Change.STATUS
    )
    assert (
        decisions.classify(written, decisions.fingerprint(obj(4, "102"))) is decisions.Change.DRIFT
    )
    relabelled = decisions.fingerprint(obj(3, "103", {"owner": "someone"}))
    assert decisions.classify(written, relabelled) is decisions.Change.DRIFT
    # Objects without a generation (ConfigMaps) never count as status-only.
    plain = decisions.fingerprint(obj(None, "7"))
    assert (
        decisions.classify(plain, decisions.fingerprint(obj(None, "8"))) is decisions.Change.DRIFT
    )
    assert decisions.classify(None, written) is decisions.Change.DRIFT
