"""Golden health cases: every ``tests/golden/health/<kind>-<state>.yaml`` file.

Each file holds a live object under ``object:`` and, under ``expect:``, the
health ``status`` and a substring of the ``message`` that
``gitward.health.assessing.assess`` must produce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gitward.health import assessing
from gitward.model import status

GOLDEN = Path(__file__).parent.parent / "golden" / "health"
CASES = sorted(GOLDEN.glob("*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert set(doc) == {"object", "expect"}, f"{path.name}: needs exactly object: and expect:"
    return doc


def test_there_are_golden_cases_for_every_kind_family() -> None:
    families = {path.stem.split("-")[0] for path in CASES}
    assert families >= {
        "deployment",
        "statefulset",
        "daemonset",
        "replicaset",
        "pod",
        "job",
        "cronjob",
        "service",
        "ingress",
        "persistentvolumeclaim",
        "horizontalpodautoscaler",
        "namespace",
        "customresourcedefinition",
        "generic",
    }
    for family in families:
        assert sum(1 for p in CASES if p.stem.split("-")[0] == family) >= 2, family


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path) -> None:
    doc = _load(path)
    result = assessing.assess(doc["object"])
    expected = status.HealthStatus(doc["expect"]["status"])
    assert result.status is expected, f"{path.name}: {result}"
    assert doc["expect"].get("message", "") in result.message, f"{path.name}: {result}"
