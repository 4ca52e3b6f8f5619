"""cli.consoles: a line with coloured parts, through rich only where colour shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitward.cli import consoles


def test_a_line_to_a_pipe_is_plain_text_and_never_markup(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    consoles.Lazy().line(("Succeeded", "green"), ": kept [red]as written[/] :smile:")
    consoles.Lazy(stderr=True).line(("error:", "red"), " [bold]x")
    out, err = capsys.readouterr()
    assert out == "Succeeded: kept [red]as written[/] :smile:\n"
    assert err == "error: [bold]x\n"


def test_a_line_where_colour_shows_is_coloured_through_rich(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    consoles.Lazy().line(("Failed", "red"), " (SyncFailed): [x] stays")
    out = capsys.readouterr().out
    assert out.startswith("\x1b[31mFailed\x1b[0m")
    assert out.endswith(" (SyncFailed): [x] stays\n")


def test_an_error_naming_brackets_is_printed_as_written(tmp_path: Path) -> None:
    # Rich would read "[/x]" as a closing tag and fail with a MarkupError.
    missing = tmp_path / "app[/x][bold].yaml"
    done = subprocess.run(
        [sys.executable, "-m", "gitward", "render", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ")
    assert "app[/x][bold].yaml" in done.stderr
    assert "MarkupError" not in done.stderr
