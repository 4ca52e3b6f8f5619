"""change_and_push(base=...): a pull-request branch is created from its base."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitward import errors
from gitward.source import base, committing

ENV = {
    "PATH": os.environ["PATH"],
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@x",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@x",
}
AUTHOR = committing.Author("ci", "ci@example.com")


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    work = tmp_path / "seed"
    git("clone", "-q", str(bare), str(work), cwd=tmp_path)
    (work / "values.yaml").write_text("tag: 1\n")
    git("add", "-A", cwd=work)
    git("commit", "-qm", "seed", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return bare


def bump(workdir: Path) -> str:
    (workdir / "values.yaml").write_text("tag: 2\n")
    return "bump tag to 2"


async def test_missing_branch_is_created_from_base(remote: Path, tmp_path: Path) -> None:
    repo = base.RepoSpec(url=remote.as_uri())
    main_head = git("rev-parse", "main", cwd=remote)
    pushed = await committing.change_and_push(
        repo, "promote/web", bump, author=AUTHOR, workdir_parent=tmp_path, base="main"
    )
    assert pushed is not None and pushed.parent == main_head
    assert git("rev-parse", "refs/heads/promote/web", cwd=remote) == pushed.sha
    assert git("show", "promote/web:values.yaml", cwd=remote) == "tag: 2"
    assert git("rev-parse", "main", cwd=remote) == main_head  # base untouched
    # Next time the branch exists: the change finds nothing more to do.
    again = await committing.change_and_push(
        repo, "promote/web", bump, author=AUTHOR, workdir_parent=tmp_path, base="main"
    )
    assert again is None


async def test_without_base_a_missing_branch_is_an_error(remote: Path, tmp_path: Path) -> None:
    repo = base.RepoSpec(url=remote.as_uri())
    with pytest.raises(errors.RevisionNotFound, match="branch promote/web not found"):
        await committing.change_and_push(
            repo, "promote/web", bump, author=AUTHOR, workdir_parent=tmp_path
        )


async def test_orphan_makes_the_first_commit_of_an_empty_repository(tmp_path: Path) -> None:
    bare = tmp_path / "empty.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    repo = base.RepoSpec(url=bare.as_uri())
    with pytest.raises(errors.RevisionNotFound):
        await committing.change_and_push(repo, "main", bump, author=AUTHOR, workdir_parent=tmp_path)
    pushed = await committing.change_and_push(
        repo, "main", bump, author=AUTHOR, workdir_parent=tmp_path, orphan=True
    )
    assert pushed is not None and pushed.parent == ""
    assert git("rev-list", "--count", "main", cwd=bare) == "1"
    assert git("show", "main:values.yaml", cwd=bare) == "tag: 2"
    # Once the branch exists, orphan changes nothing: the change applies on its head.
    again = await committing.change_and_push(
        repo, "main", bump, author=AUTHOR, workdir_parent=tmp_path, orphan=True
    )
    assert again is None
