"""Real git repositories built per test, read through the public DirectoryTree fake."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from gitward.render import rendering
from gitward.testing import trees

Files = Mapping[str, str | bytes]
MakeRepo = Callable[..., trees.DirectoryTree]


def git_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }


def write(root: Path, files: Files) -> None:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def commit(root: Path, home: Path, message: str = "change") -> str:
    env = git_env(home)
    subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True, capture_output=True)
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", message],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return path


@pytest.fixture
def make_repo(tmp_path: Path, home: Path) -> MakeRepo:
    """``make_repo(files, links={path: target})`` -> a committed repo as a Tree."""
    counter = iter(range(1000))

    def make(files: Files, links: Mapping[str, str] | None = None) -> trees.DirectoryTree:
        root = tmp_path / f"repo{next(counter)}"
        root.mkdir()
        subprocess.run(
            ["git", "init", "-q", "-b", "main"],
            cwd=root,
            env=git_env(home),
            check=True,
            capture_output=True,
        )
        write(root, files)
        for link, target in (links or {}).items():
            (root / link).parent.mkdir(parents=True, exist_ok=True)
            (root / link).symlink_to(target)
        return trees.DirectoryTree(root, revision=commit(root, home, "initial"))

    return make


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    rendering.cache.clear()
