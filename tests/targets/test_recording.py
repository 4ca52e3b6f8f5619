"""The kind record's file: appended per Application, read back whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitward import errors
from gitward.targets.kubernetes import recording

DEPLOYMENT = ("apps", "Deployment")
CONFIGMAP = ("", "ConfigMap")


def test_each_addition_is_one_appended_line_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "targets" / "t.json"
    record = recording.KindRecord(path)
    for i in range(50):
        record.add(f"app-{i}", [DEPLOYMENT, CONFIGMAP], ["bench"])
    record.add("app-7", [("", "Secret")], ["other"])
    record.add("app-7", [DEPLOYMENT], ["bench"])  # nothing new: nothing written

    assert len(path.read_text().splitlines()) == 51
    again = recording.KindRecord(path)
    assert again.apps() == {f"app-{i}" for i in range(50)}
    assert again.kinds("app-7") == {DEPLOYMENT, CONFIGMAP, ("", "Secret")}
    assert again.namespaces("app-7") == {"bench", "other"}
    assert again.kinds("app-8") == {DEPLOYMENT, CONFIGMAP}


def test_a_record_written_whole_by_an_earlier_version_is_read(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps(
            {"apps": {"shop": {"kinds": [["", "ConfigMap"]], "namespaces": ["shop"]}}}, indent=1
        )
    )
    record = recording.KindRecord(path)
    record.add("shop", [DEPLOYMENT], [])

    again = recording.KindRecord(path)
    assert again.kinds("shop") == {CONFIGMAP, DEPLOYMENT}
    assert again.namespaces("shop") == {"shop"}


def test_a_last_line_cut_short_is_ignored_but_garbage_before_it_is_not(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    record = recording.KindRecord(path)
    record.add("a", [CONFIGMAP], ["x"])
    record.add("b", [DEPLOYMENT], ["y"])
    whole = path.read_text()
    path.write_text(whole + '{"app":"c","kinds":[["","Sec')

    kept = recording.KindRecord(path)
    assert kept.apps() == {"a", "b"}
    kept.add("c", [CONFIGMAP], ["z"])
    assert recording.KindRecord(path).apps() == {"a", "b", "c"}

    path.write_text('{"app":"a","kin\n' + whole)
    with pytest.raises(errors.ConfigError, match="is unreadable"):
        recording.KindRecord(path)


def test_a_long_journal_is_rewritten_as_one_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    record = recording.KindRecord(path)
    # One Application adding a namespace at a time: many lines for one entry.
    for i in range(100):
        record.add("busy", [CONFIGMAP], [f"ns-{i}"])

    lines = path.read_text().splitlines()
    assert len(lines) < 100
    again = recording.KindRecord(path)
    assert again.namespaces("busy") == {f"ns-{i}" for i in range(100)}
    assert again.kinds("busy") == {CONFIGMAP}
