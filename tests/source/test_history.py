"""commits_between: what a rollback reverts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitward import errors
from gitward.source import changes

ENV = {
    "PATH": os.environ["PATH"],
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@x",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@x",
}


def commit(repo: Path, rel: str, text: str) -> str:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, env=ENV, check=True)
    subprocess.run(["git", "commit", "-qm", rel + text], cwd=repo, env=ENV, check=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, env=ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_commits_between_lists_newest_first_and_filters_by_path(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=ENV, check=True)
    good = commit(repo, "web/a.yaml", "1")
    web_change = commit(repo, "web/a.yaml", "2")
    other = commit(repo, "api/a.yaml", "1")
    web_again = commit(repo, "web/b.yaml", "1")
    git_dir = repo / ".git"
    assert changes.commits_between(git_dir, good, web_again) == [web_again, other, web_change]
    assert changes.commits_between(git_dir, good, web_again, ["web"]) == [web_again, web_change]
    assert changes.commits_between(git_dir, web_again, web_again) == []
    with pytest.raises(errors.RevisionNotFound, match="commit 0000000"):
        changes.commits_between(git_dir, "0" * 40, web_again)
