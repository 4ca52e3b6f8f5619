"""``kind: Alert`` documents in the Git root: read with the catalog, routed like
the alerts of ``gitward.yaml``, kept while their file is broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitward.engine import catalog
from gitward.testing import trees

ALERT = """\
apiVersion: gitward.dev/v1
kind: Alert
metadata: {name: web-failures}
spec:
  provider: chat
  events: [SyncFailed, HealthDegraded]
  applications: ["web-*"]
  template: "{{ app.name }}: {{ event.message }}"
"""


def _root(tmp_path: Path, files: dict[str, str]) -> trees.DirectoryTree:
    (tmp_path / "apps").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (tmp_path / "apps" / name).write_text(text)
    return trees.DirectoryTree(tmp_path)


def test_alerts_are_read_from_the_root(tmp_path: Path) -> None:
    loaded = catalog.load(_root(tmp_path, {"alerts.yaml": ALERT}), "apps")
    assert loaded.problems == ()
    declared = loaded.alerts["web-failures"]
    assert declared.file == "apps/alerts.yaml"
    assert declared.alert.name == "web-failures"
    assert declared.alert.matches("SyncFailed", "web-eu", "default", {})
    assert not declared.alert.matches("SyncSucceeded", "web-eu", "default", {})


def test_a_broken_alert_file_keeps_the_alerts_it_declared(tmp_path: Path) -> None:
    first = catalog.load(_root(tmp_path, {"alerts.yaml": ALERT}), "apps")
    broken = ALERT.replace("template:", "template: '{{ oops'\n  x:")
    second = catalog.load(_root(tmp_path, {"alerts.yaml": broken}), "apps", first)
    assert "web-failures" in second.alerts
    assert any("apps/alerts.yaml" in problem for problem in second.problems)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("provider: chat", "provider: [chat]"), "spec.provider"),
        (("name: web-failures", "name: Web_Failures"), "DNS label"),
        (("  events:", "  secretEnv: X\n  events:"), "secretEnv"),
    ],
)
def test_invalid_alerts_name_the_file_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    loaded = catalog.load(_root(tmp_path, {"alerts.yaml": ALERT.replace(*change)}), "apps")
    assert loaded.alerts == {}
    (problem,) = loaded.problems
    assert "apps/alerts.yaml" in problem and message in problem
