"""The ``gitward`` command imports only what the command it runs uses.

``gitward --help`` and the API client commands (``gitward app list``) must
start in a fraction of a second (issue 14, ``bench/cli_start.py``); importing
the engine, the store, the web UI, the Kubernetes client or git costs a
second or more. These tests run the real entry point in a fresh interpreter
and look at what it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from gitward.cli import main

# Never needed to print help or to talk to the agent's REST API.
HEAVY = (
    "gitward.engine",
    "gitward.store",
    "gitward.web",
    "gitward.api",
    "gitward.targets",
    "gitward.source",
    "gitward.render",
    "gitward.diff",
    "gitward.testing",
    "gitward.demo",
    "sqlalchemy",
    "lightkube",
    "pygit2",
    "starlette",
    "uvicorn",
    "jinja2",
    "httpx",
    "structlog",
    "helm_python",
)

_PROBE = """
import atexit, json, runpy, sys
out, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["gitward", *args]
runpy.run_module("gitward", run_name="__main__")
"""


def _imported(tmp_path: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    record = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(record), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(tmp_path), "COLUMNS": "120"},
    )
    return set(json.loads(record.read_text())), done


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_no_command(tmp_path: Path) -> None:
    modules, done = _imported(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    for command in main.COMMANDS:
        assert command.name in done.stdout
    assert _heavy(modules) == []
    commands = {m for m in modules if m.startswith("gitward.cli.") and m.endswith("_commands")}
    assert commands == set()


def test_api_client_commands_import_no_engine(tmp_path: Path) -> None:
    # Nothing listens on port 1: the command fails fast after importing all it needs.
    modules, done = _imported(tmp_path, "app", "list", "--server", "http://127.0.0.1:1")
    assert done.returncode == 3, done.stderr
    assert "cannot reach http://127.0.0.1:1" in done.stderr
    assert "gitward.cli.app_commands" in modules
    assert _heavy(modules) == []


def test_a_command_is_imported_when_it_runs(tmp_path: Path) -> None:
    modules, done = _imported(tmp_path, "serve", "--help")
    assert done.returncode == 0, done.stderr
    assert "gitward.cli.agent_commands" in modules
    assert "--config" in done.stdout


_LOGGING = """
import sys
from gitward.cli import logs
imported = sorted(
    m for m in ("rich.console", "rich.traceback", "rich.pretty") if m in sys.modules
)
import rich.console, rich.pretty  # still there for a command that prints through rich
logs.configure()
import structlog
try:
    1 / 0
except ZeroDivisionError:
    structlog.get_logger().exception("boom", imported=imported)
"""


def test_logs_import_structlog_without_rich_tracebacks(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    modules, done = _imported(tmp_path, "serve", "--config", str(missing))
    assert done.returncode == 2, done.stderr
    assert f"{missing}: no such file" in done.stderr
    assert "structlog" in modules
    assert "rich.traceback" not in modules
    assert "rich.pretty" not in modules
    logged = subprocess.run(
        [sys.executable, "-c", _LOGGING],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GITWARD_LOG_LEVEL": "info"},
    )
    assert logged.returncode == 0, logged.stderr
    assert "imported=[]" in logged.stderr
    assert "Traceback (most recent call last)" in logged.stderr
    assert "ZeroDivisionError: division by zero" in logged.stderr
    assert "\u256d" not in logged.stderr  # no rich panel


def test_pydantic_plugins_are_not_looked_for_unless_asked(tmp_path: Path) -> None:
    # An installed distribution declaring a pydantic plugin, which says when
    # it is imported.
    site = tmp_path / "site"
    info = site / "boom_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: boom-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nboom = boom_plugin:plugin\n")
    marker = tmp_path / "loaded"
    (site / "boom_plugin.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('x')\nplugin = None\n"
    )
    app = tmp_path / "app.yaml"
    app.write_text(
        "apiVersion: gitward.dev/v1\nkind: Application\nmetadata: {name: a}\nspec:\n"
        f"  source: {{repoURL: '{(tmp_path / 'missing').as_uri()}', path: .}}\n"
        "  destination: {target: t, namespace: a}\n"
    )
    paths = [str(site), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join(paths)}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    command = [sys.executable, "-m", "gitward", "render", str(app)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode in (2, 3), done.stderr  # the repository is missing
    assert not marker.exists()
    # Asked for (the variable set, even empty): pydantic looks, and finds it.
    env["PYDANTIC_DISABLE_PLUGINS"] = ""
    subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert marker.exists()


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


@pytest.mark.parametrize("command", main.COMMANDS, ids=lambda c: c.name)
def test_listed_help_is_the_commands_own(command: main.Lazy) -> None:
    loaded = command.load()
    assert loaded.name == command.name
    assert _first_paragraph(loaded.help or "") == command.help


def test_every_command_is_reachable() -> None:
    group = typer.main.get_command(main.app)
    assert isinstance(group, typer.core.TyperGroup)
    ctx = typer.Context(group)
    names = group.list_commands(ctx)
    assert names == [c.name for c in main.COMMANDS]
    for name in names:
        assert group.get_command(ctx, name) is not None
