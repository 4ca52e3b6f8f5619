"""Committing, reverting and pushing to real bare repositories over file:// and
smart HTTP with basic auth: authorship, retries on concurrent pushes without
ever losing a commit, revert conflicts, refusals, credentials and timeouts."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitward import errors
from gitward.source import base, committing, credentials

from .gitservers import SilentServer, SmartHTTP, Upstream, git

PASSWORD = "pa55-w0rd-s3cret"
AUTHOR = committing.Author("Gitward Bot", "bot@gitward.example")
VALUES = "# image settings\nimage:\n  tag: v1  # bumped by CI\n"


# --- fixtures and helpers ------------------------------------------------------------


def _prepare_bare(upstream: Upstream) -> None:
    # Pushes over http-backend need receivepack on; a reflog on the bare
    # repository records every update, to prove none was forced.
    git("config", "http.receivepack", "true", cwd=upstream.bare)
    git("config", "core.logAllRefUpdates", "always", cwd=upstream.bare)


@pytest.fixture(params=["file", "http"])
def remote(
    request: pytest.FixtureRequest, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> Iterator[base.RepoSpec]:
    _prepare_bare(upstream)
    upstream.commit({"app/values.yaml": VALUES, "README.md": "deploy repo\n"}, "initial")
    if request.param == "file":
        yield base.RepoSpec(upstream.url, timeout=20)
        return
    # A forge that supports partial clone: reverts then fetch blobs on demand,
    # through the same credentials.
    git("config", "uploadpack.allowFilter", "true", cwd=upstream.bare)
    server = SmartHTTP(upstream.root, auth=("deploy", PASSWORD))
    monkeypatch.setenv("GIT_TOKEN", PASSWORD)
    try:
        yield base.RepoSpec(
            server.url(),
            credentials=credentials.HttpsCredentials(
                credentials.SecretRef(env="GIT_TOKEN"), username="deploy"
            ),
            timeout=20,
        )
    finally:
        server.stop()


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    path = tmp_path / "scratch"
    path.mkdir()
    return path


def remote_git(upstream: Upstream, *args: str) -> str:
    return git("--git-dir", str(upstream.bare), *args, cwd=upstream.root)


def head(upstream: Upstream, branch: str = "main") -> str:
    return remote_git(upstream, "rev-parse", f"refs/heads/{branch}")


def show(upstream: Upstream, path: str, rev: str = "main") -> str:
    return remote_git(upstream, "show", f"{rev}:{path}")


def is_ancestor(upstream: Upstream, old: str, new: str) -> bool:
    result = subprocess.run(
        ["git", "--git-dir", str(upstream.bare), "merge-base", "--is-ancestor", old, new],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def assert_never_forced(upstream: Upstream, branch: str = "main") -> None:
    """Every recorded update of the branch moved it forward."""
    values = remote_git(upstream, "reflog", "show", "--format=%H", f"refs/heads/{branch}").split()
    assert len(values) >= 2
    for newer, older in itertools.pairwise(values):
        assert is_ancestor(upstream, older, newer), f"{older} -> {newer} was not a fast-forward"


def push_from_other_clone(upstream: Upstream, where: Path, files: dict[str, str], msg: str) -> str:
    """Someone else's push: clone, commit, push without force; the sha."""
    git("clone", "-q", str(upstream.bare), str(where), cwd=upstream.root)
    for path, content in files.items():
        target = where / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    git("add", "-A", cwd=where)
    git("commit", "-q", "-m", msg, cwd=where)
    git("push", "-q", "origin", "main", cwd=where)
    return git("rev-parse", "HEAD", cwd=where)


def set_tag(tag: str) -> Callable[[Path], str | None]:
    """An image bump like set-image: rewrite the tag in place, keep the rest."""

    def change(workdir: Path) -> str | None:
        values = workdir / "app" / "values.yaml"
        text = values.read_text()
        current = text.split("tag: ")[1].split()[0]
        if current == tag:
            return None
        values.write_text(text.replace(f"tag: {current}", f"tag: {tag}"))
        return f"web: bump image tag {current} -> {tag}\n\nCI run: 42"

    return change


# --- change_and_push ---------------------------------------------------------------


async def test_change_is_committed_with_author_and_message_and_pushed(
    remote: base.RepoSpec, upstream: Upstream, scratch: Path
) -> None:
    before = head(upstream)

    pushed = await committing.change_and_push(
        remote, "main", set_tag("v2"), author=AUTHOR, workdir_parent=scratch
    )

    assert pushed is not None
    assert (pushed.branch, pushed.attempts, pushed.parent) == ("main", 1, before)
    assert head(upstream) == pushed.sha
    assert show(upstream, "app/values.yaml") == VALUES.replace("v1", "v2").strip()
    fields = remote_git(upstream, "log", "-1", "--format=%an|%ae|%cn|%ce|%P|%B", pushed.sha)
    assert fields.split("|") == [
        "Gitward Bot",
        "bot@gitward.example",
        "Gitward Bot",
        "bot@gitward.example",
        before,
        "web: bump image tag v1 -> v2\n\nCI run: 42",
    ]
    assert list(scratch.iterdir()) == []  # the working copy is gone


async def test_nothing_to_do_returns_none_and_pushes_nothing(
    remote: base.RepoSpec, upstream: Upstream, scratch: Path
) -> None:
    before = head(upstream)

    unchanged = await committing.change_and_push(
        remote, "main", set_tag("v1"), author=AUTHOR, workdir_parent=scratch
    )
    # A message but no edit is nothing to do as well.
    no_edit = await committing.change_and_push(
        remote, "main", lambda _: "touch nothing", author=AUTHOR, workdir_parent=scratch
    )

    assert unchanged is None
    assert no_edit is None
    assert head(upstream) == before
    assert list(scratch.iterdir()) == []


async def test_concurrent_push_between_fetch_and_push_is_retried_on_the_new_head(
    remote: base.RepoSpec, upstream: Upstream, scratch: Path, tmp_path: Path
) -> None:
    initial = head(upstream)
    seen: list[str] = []
    other: list[str] = []

    def change(workdir: Path) -> str | None:
        seen.append((workdir / "README.md").read_text())
        if not other:  # first attempt: someone pushes before we do
            other.append(
                push_from_other_clone(
                    upstream, tmp_path / "other", {"README.md": "edited by a human\n"}, "docs"
                )
            )
        return set_tag("v3")(workdir)

    pushed = await committing.change_and_push(
        remote, "main", change, author=AUTHOR, workdir_parent=scratch
    )

    assert pushed is not None
    assert pushed.attempts == 2
    assert pushed.parent == other[0]
    # The edit was re-applied on the fresh tree, which has the other commit.
    assert seen == ["deploy repo\n", "edited by a human\n"]
    assert head(upstream) == pushed.sha
    assert is_ancestor(upstream, other[0], pushed.sha)
    assert is_ancestor(upstream, initial, other[0])
    assert show(upstream, "README.md") == "edited by a human"
    assert "tag: v3" in show(upstream, "app/values.yaml")
    assert_never_forced(upstream)


async def test_two_truly_concurrent_changes_on_one_branch_both_land(
    remote: base.RepoSpec, upstream: Upstream, scratch: Path
) -> None:
    # Both callbacks wait for each other on their first call, so both work on
    # the same head and exactly one push is overtaken.
    barrier = threading.Barrier(2, timeout=20)
    calls: dict[str, int] = {"blue": 0, "green": 0}

    def add(line: str) -> Callable[[Path], str | None]:
        def change(workdir: Path) -> str | None:
            calls[line] += 1
            if calls[line] == 1:
                barrier.wait()
            listing = workdir / "app" / "releases.txt"
            text = listing.read_text() if listing.exists() else ""
            listing.write_text(text + f"{line}\n")
            return f"release {line}"

        return change

    results = await asyncio.gather(
        committing.change_and_push(
            remote, "main", add("blue"), author=AUTHOR, workdir_parent=scratch
        ),
        committing.change_and_push(
            remote, "main", add("green"), author=AUTHOR, workdir_parent=scratch
        ),
    )

    assert all(result is not None for result in results)
    landed = [r for r in results if r is not None]
    assert sorted(r.attempts for r in landed) == [1, 2]
    first, second = sorted(landed, key=lambda r: r.attempts)
    assert second.parent == first.sha
    assert head(upstream) == second.sha
    assert sorted(show(upstream, "app/releases.txt").split()) == ["blue", "green"]
    assert_never_forced(upstream)
    assert list(scratch.iterdir()) == []


async def test_push_refused_by_a_pre_receive_hook_names_the_branch(
    remote: base.RepoSpec, upstream: Upstream, scratch: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "hook-calls"
    hook = upstream.bare / "hooks" / "pre-receive"
    hook.write_text(
        f"#!/bin/sh\necho called >> '{calls}'\n"
        "echo 'GW006: branch main is protected, open a pull request' >&2\nexit 1\n"
    )
    hook.chmod(0o755)
    before = head(upstream)

    with pytest.raises(committing.PushRejected) as caught:
        await committing.change_and_push(
            remote, "main", set_tag("v9"), author=AUTHOR, workdir_parent=scratch
        )

    message = str(caught.value)
    assert "branch main of " + remote.display_url in message
    assert "pre-receive hook declined" in message
    assert "GW006: branch main is protected" in message
    assert caught.value.reason == "PushRejected"
    assert calls.read_text().count("called") == 1  # refused, not retried
    assert head(upstream) == before
    assert list(scratch.iterdir()) == []


async def test_retries_are_bounded_when_the_branch_keeps_moving(
    upstream: Upstream, scratch: Path, tmp_path: Path
) -> None:
    _prepare_bare(upstream)
    upstream.commit({"app/values.yaml": VALUES}, "initial")
    count = 0

    def change(workdir: Path) -> str:
        nonlocal count
        count += 1
        push_from_other_clone(upstream, tmp_path / f"other{count}", {f"n{count}": "x"}, "race")
        (workdir / "ours").write_text(str(count))
        return "ours"

    with pytest.raises(committing.PushContended, match="moved during each of 3 push attempts"):
        await committing.change_and_push(
            base.RepoSpec(upstream.url),
            "main",
            change,
            author=AUTHOR,
            workdir_parent=scratch,
            attempts=3,
        )
    assert count == 3
    assert remote_git(upstream, "log", "--format=%s", "-1") == "race"
    assert list(scratch.iterdir()) == []


async def test_shallow_without_mirror_and_borrowing_a_stale_mirror(
    upstream: Upstream, scratch: Path, tmp_path: Path
) -> None:
    _prepare_bare(upstream)
    upstream.commit({"app/values.yaml": VALUES}, "initial")
    repo = base.RepoSpec(upstream.url)
    observed: list[tuple[bool, str, str]] = []

    def change(workdir: Path) -> str:
        git_dir = workdir / ".git"
        alternates = git_dir / "objects" / "info" / "alternates"
        borrowed = alternates.read_text() if alternates.exists() else ""
        observed.append(
            ((git_dir / "shallow").exists(), borrowed, (workdir / "app/values.yaml").read_text())
        )
        (workdir / f"marker{len(observed)}").write_text("x")
        return "marker"

    await committing.change_and_push(repo, "main", change, author=AUTHOR, workdir_parent=scratch)
    cache = tmp_path / "cache"
    sources = base.Sources(cache, fetch_timeout=10)
    await sources.fetch(repo)
    # The mirror is now one commit behind the branch.
    newest = push_from_other_clone(
        upstream, tmp_path / "other", {"app/values.yaml": "image:\n  tag: v7\n"}, "newer"
    )

    pushed = await committing.change_and_push(
        repo, "main", change, author=AUTHOR, workdir_parent=scratch, cache_dir=cache
    )

    assert pushed is not None
    shallow, borrowed, _ = observed[0]
    assert shallow and borrowed == ""
    shallow, borrowed, content = observed[1]
    assert not shallow
    assert borrowed.startswith(str(cache))
    assert content == "image:\n  tag: v7\n"  # the real head, not the mirror's
    assert pushed.parent == newest and head(upstream) == pushed.sha


async def test_working_copy_is_deleted_when_the_change_raises(
    remote: base.RepoSpec, upstream: Upstream, scratch: Path
) -> None:
    def broken(workdir: Path) -> str:
        (workdir / "half-done").write_text("x")
        raise errors.RenderError("values.yaml has no image tag")

    with pytest.raises(errors.RenderError, match="no image tag"):
        await committing.change_and_push(
            remote, "main", broken, author=AUTHOR, workdir_parent=scratch
        )
    with pytest.raises(committing.CommitError, match="empty commit message"):
        await committing.change_and_push(
            remote, "main", lambda w: " \n", author=AUTHOR, workdir_parent=scratch
        )

    assert list(scratch.iterdir()) == []
    assert remote_git(upstream, "log", "--format=%s") == "initial"


async def test_paths_narrow_the_checkout_and_keep_the_rest_of_the_tree(
    remote: base.RepoSpec, upstream: Upstream, scratch: Path
) -> None:
    upstream.commit({"other/big.yaml": "x: 1\n", "app/sub/deep.yaml": "d: 1\n"}, "more files")
    seen: list[str] = []

    def change(workdir: Path) -> str | None:
        seen.extend(
            sorted(
                str(p.relative_to(workdir))
                for p in workdir.rglob("*")
                if p.is_file() and ".git" not in p.parts
            )
        )
        return set_tag("v8")(workdir)

    pushed = await committing.change_and_push(
        remote, "main", change, author=AUTHOR, workdir_parent=scratch, paths=["app/"]
    )

    assert seen == ["README.md", "app/sub/deep.yaml", "app/values.yaml"]
    assert pushed is not None and head(upstream) == pushed.sha
    assert "tag: v8" in show(upstream, "app/values.yaml")
    files = remote_git(upstream, "ls-tree", "-r", "--name-only", "main").split()
    assert files == ["README.md", "app/sub/deep.yaml", "app/values.yaml", "other/big.yaml"]


async def test_an_edit_outside_the_paths_is_refused_not_dropped(
    upstream: Upstream, scratch: Path
) -> None:
    _prepare_bare(upstream)
    upstream.commit({"app/values.yaml": VALUES, "other/x": "1\n"})
    before = head(upstream)

    def change(workdir: Path) -> str:
        set_tag("v2")(workdir)
        (workdir / "other").mkdir()
        (workdir / "other" / "x").write_text("2\n")
        (workdir / "other" / "new").write_text("3\n")
        return "too wide"

    with pytest.raises(
        committing.CommitError, match=r"outside its paths \(app\): other/new, other/x"
    ):
        await committing.change_and_push(
            base.RepoSpec(upstream.url),
            "main",
            change,
            author=AUTHOR,
            workdir_parent=scratch,
            paths=["app"],
        )
    assert head(upstream) == before
    for bad in (["../up"], ["/etc"], [".git/hooks"]):
        with pytest.raises(errors.SourcePathError, match="path"):
            await committing.change_and_push(
                base.RepoSpec(upstream.url), "main", change, author=AUTHOR, paths=bad
            )
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    ("branch", "error", "text"),
    [
        ("release", errors.RevisionNotFound, "branch release not found in "),
        ("-f", errors.ConfigError, "'-f' is not a valid branch name"),
        ("bad..name", errors.ConfigError, "not a valid branch name"),
        ("HEAD", errors.ConfigError, "not a valid branch name"),
    ],
)
async def test_missing_or_invalid_branch(
    upstream: Upstream, scratch: Path, branch: str, error: type[Exception], text: str
) -> None:
    _prepare_bare(upstream)
    upstream.commit({"a": "1"})
    with pytest.raises(error, match=text):
        await committing.change_and_push(
            base.RepoSpec(upstream.url),
            branch,
            set_tag("v2"),
            author=AUTHOR,
            workdir_parent=scratch,
        )
    assert list(scratch.iterdir()) == []


async def test_cancelled_call_removes_its_working_copy(upstream: Upstream, scratch: Path) -> None:
    _prepare_bare(upstream)
    upstream.commit({"app/values.yaml": VALUES})
    entered, release = threading.Event(), threading.Event()

    def slow(workdir: Path) -> str:
        entered.set()
        release.wait(20)
        (workdir / "late").write_text("x")  # the copy still exists while the change runs
        return "late"

    task = asyncio.ensure_future(
        committing.change_and_push(
            base.RepoSpec(upstream.url), "main", slow, author=AUTHOR, workdir_parent=scratch
        )
    )
    while not entered.is_set():
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # waits for the change to stop touching the copy
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert list(scratch.iterdir()) == []
    assert remote_git(upstream, "log", "--format=%s") == "change"


async def test_attempts_must_be_positive(upstream: Upstream) -> None:
    with pytest.raises(errors.ConfigError, match="attempts must be at least 1"):
        await committing.change_and_push(
            base.RepoSpec(upstream.url), "main", set_tag("v2"), author=AUTHOR, attempts=0
        )


@pytest.mark.parametrize(
    ("name", "email"), [("", "a@b"), ("Eve <x>", "a@b"), ("Eve", "a@b\nx"), ("Eve", " ")]
)
def test_invalid_author_is_refused(name: str, email: str) -> None:
    with pytest.raises(errors.ConfigError, match="commit author"):
        committing.Author(name, email)


# --- credentials and transport failures ---------------------------------------------------


async def test_wrong_password_fails_without_revealing_it(
    upstream: Upstream, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prepare_bare(upstream)
    upstream.commit({"app/values.yaml": VALUES})
    server = SmartHTTP(upstream.root, auth=("deploy", PASSWORD))
    wrong = "not-the-pa55word"
    monkeypatch.setenv("GIT_TOKEN", wrong)
    try:
        declared = base.RepoSpec(
            server.url(),
            credentials=credentials.HttpsCredentials(
                credentials.SecretRef(env="GIT_TOKEN"), username="deploy"
            ),
        )
        embedded = base.RepoSpec(server.url(userinfo=f"deploy:{wrong}"))
        for repo in (declared, embedded):
            with pytest.raises(errors.SourceUnavailable) as caught:
                await committing.change_and_push(
                    repo, "main", set_tag("v2"), author=AUTHOR, workdir_parent=scratch
                )
            message = str(caught.value)
            assert wrong not in message
            assert "deploy" not in message  # no userinfo at all in messages
            assert "Authentication failed" in message
            assert f"branch main of {server.url()}" in message
    finally:
        server.stop()
    assert list(scratch.iterdir()) == []


async def test_credentials_never_reach_disk_or_the_remote_config(
    upstream: Upstream, scratch: Path
) -> None:
    _prepare_bare(upstream)
    upstream.commit({"app/values.yaml": VALUES})
    server = SmartHTTP(upstream.root, auth=("deploy", PASSWORD))
    found: list[str] = []

    def change(workdir: Path) -> str | None:
        for root, _, names in os.walk(workdir.parent):
            for name in names:
                path = Path(root, name)
                if path.is_file() and PASSWORD.encode() in path.read_bytes():
                    found.append(str(path))
        found.append((workdir / ".git" / "config").read_text())
        return set_tag("v5")(workdir)

    try:
        repo = base.RepoSpec(server.url(userinfo=f"deploy:{PASSWORD}"))
        pushed = await committing.change_and_push(
            repo, "main", change, author=AUTHOR, workdir_parent=scratch
        )
    finally:
        server.stop()

    assert pushed is not None and head(upstream) == pushed.sha
    *leaks, config = found
    assert leaks == []
    assert f"url = http://localhost:{server.port}/repo.git" in config
    assert "deploy" not in config


async def test_hanging_server_times_out_and_kills_git(scratch: Path) -> None:
    silent = SilentServer()
    try:
        repo = base.RepoSpec(f"http://127.0.0.1:{silent.port}/repo.git")
        started = time.monotonic()
        with pytest.raises(errors.SourceUnavailable, match=r"timed out after 1s") as caught:
            await committing.change_and_push(
                repo, "main", set_tag("v2"), author=AUTHOR, workdir_parent=scratch, timeout=1.0
            )
        assert time.monotonic() - started < 5
        assert f"branch main of {repo.display_url}" in str(caught.value)
        assert silent.accepted  # git connected and was killed at the deadline
    finally:
        silent.stop()
    assert list(scratch.iterdir()) == []


async def test_a_push_whose_reply_is_lost_counts_as_landed(
    upstream: Upstream, scratch: Path
) -> None:
    _prepare_bare(upstream)
    upstream.commit({"app/values.yaml": VALUES})
    # The ref is updated before post-receive runs; a hook that hangs keeps
    # the client waiting past its deadline, so the reply never arrives.
    hook = upstream.bare / "hooks" / "post-receive"
    hook.write_text("#!/bin/sh\nsleep 30\n")
    hook.chmod(0o755)

    started = time.monotonic()
    pushed = await committing.change_and_push(
        base.RepoSpec(upstream.url),
        "main",
        set_tag("v4"),
        author=AUTHOR,
        workdir_parent=scratch,
        timeout=2.0,
    )

    assert time.monotonic() - started < 10
    assert pushed is not None and pushed.attempts == 1
    assert head(upstream) == pushed.sha


async def test_ssh_transport_uses_the_key_known_hosts_and_askpass_for_the_passphrase(
    upstream: Upstream,
    scratch: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _prepare_bare(upstream)
    upstream.commit({"app/values.yaml": VALUES})
    # A stand-in for the ssh client: records its arguments, asks for the key
    # passphrase the way ssh does, then runs the remote git command locally.
    bin_dir, log = tmp_path / "bin", tmp_path / "ssh-log"
    bin_dir.mkdir()
    fake = bin_dir / "ssh"
    fake.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$@\" >> '{log}'\n"
        'if [ "$SSH_ASKPASS_REQUIRE" = force ]; then\n'
        f"  \"$SSH_ASKPASS\" \"Enter passphrase for key '/k': \" > '{log}.passphrase'\n"
        "fi\n"
        'for last; do :; done\nexec sh -c "$last"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    key, known = tmp_path / "id_ed25519", tmp_path / "known_hosts"
    key.write_text("not used by the stand-in\n")
    known.write_text("example.test ssh-ed25519 AAAA\n")
    monkeypatch.setenv("KEY_PASSPHRASE", "key-pa55phrase")
    repo = base.RepoSpec(
        f"ssh://git@example.test{upstream.bare}",
        credentials=credentials.SshCredentials(
            private_key=key,
            passphrase=credentials.SecretRef(env="KEY_PASSPHRASE"),
            known_hosts=known,
        ),
    )

    pushed = await committing.change_and_push(
        repo, "main", set_tag("v6"), author=AUTHOR, workdir_parent=scratch
    )

    assert pushed is not None and head(upstream) == pushed.sha
    argv = log.read_text().splitlines()
    for expected in (
        str(key),
        "IdentitiesOnly=yes",
        f"UserKnownHostsFile={known}",
        "StrictHostKeyChecking=yes",
        "PasswordAuthentication=no",
        "User=git",
        "example.test",
    ):
        assert expected in argv
    assert "key-pa55phrase" not in log.read_text()
    assert Path(f"{log}.passphrase").read_text() == "key-pa55phrase\n"


# --- revert_and_push ------------------------------------------------------------------


async def test_revert_of_the_bad_commit_restores_the_previous_content(
    remote: base.RepoSpec, upstream: Upstream, scratch: Path
) -> None:
    bad = upstream.commit({"app/values.yaml": VALUES.replace("v1", "v2-broken")}, "bump to v2")
    upstream.commit({"README.md": "deploy repo, documented\n"}, "docs")
    before = head(upstream)

    pushed = await committing.revert_and_push(
        remote, "main", [bad[:10]], author=AUTHOR, workdir_parent=scratch
    )

    assert pushed.parent == before and pushed.attempts == 1
    assert head(upstream) == pushed.sha
    assert show(upstream, "app/values.yaml") == VALUES.strip()
    assert show(upstream, "README.md") == "deploy repo, documented"
    body = remote_git(upstream, "log", "-1", "--format=%an <%ae>%n%B", pushed.sha)
    assert (
        body
        == f'Gitward Bot <bot@gitward.example>\nRevert "bump to v2"\n\nThis reverts commit {bad}.'
    )
    assert list(scratch.iterdir()) == []

    with pytest.raises(committing.NothingToRevert, match="nothing to revert"):
        await committing.revert_and_push(
            remote, "main", [bad], author=AUTHOR, workdir_parent=scratch
        )
    assert head(upstream) == pushed.sha


async def test_revert_of_several_commits_and_a_merge_is_one_commit_newest_first(
    upstream: Upstream, scratch: Path
) -> None:
    _prepare_bare(upstream)
    upstream.commit({"a": "1\n", "b": "1\n"}, "initial")
    first = upstream.commit({"a": "2\n"}, "a to 2")
    second = upstream.commit({"a": "3\n"}, "a to 3")  # reverting it first avoids a conflict
    upstream.git("checkout", "-q", "-b", "feature")
    upstream.commit({"c": "new\n"}, "add c", push=None)
    upstream.git("checkout", "-q", "main")
    upstream.commit({"b": "2\n"}, "b to 2")
    upstream.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    upstream.git("push", "-q", "origin", "main")
    merge = upstream.git("rev-parse", "HEAD")
    before = head(upstream)

    pushed = await committing.revert_and_push(
        base.RepoSpec(upstream.url),
        "main",
        [first, merge, second],  # not newest first on purpose
        author=AUTHOR,
        message="Rollback web to the state of last week",
        workdir_parent=scratch,
    )

    assert remote_git(upstream, "rev-parse", f"{pushed.sha}^") == before
    assert show(upstream, "a") == "1"
    assert show(upstream, "b") == "2"
    files = remote_git(upstream, "ls-tree", "--name-only", "main").split()
    assert "c" not in files
    body = remote_git(upstream, "log", "-1", "--format=%B", pushed.sha)
    assert body.splitlines() == [
        "Rollback web to the state of last week",
        "",
        f"This reverts commit {merge}.",
        f"This reverts commit {second}.",
        f"This reverts commit {first}.",
    ]


async def test_revert_conflict_names_commits_and_paths_and_pushes_nothing(
    remote: base.RepoSpec, upstream: Upstream, scratch: Path
) -> None:
    bad = upstream.commit({"app/values.yaml": VALUES.replace("v1", "v2")}, "bump to v2")
    upstream.commit({"app/values.yaml": VALUES.replace("v1", "v3")}, "bump to v3")
    before = head(upstream)

    with pytest.raises(committing.RevertConflict) as caught:
        await committing.revert_and_push(
            remote, "main", [bad], author=AUTHOR, workdir_parent=scratch
        )

    assert caught.value.commits == (bad,)
    assert caught.value.paths == ("app/values.yaml",)
    assert isinstance(caught.value, errors.InputError)
    message = str(caught.value)
    assert bad in message and "app/values.yaml" in message and "branch main of" in message
    assert head(upstream) == before
    assert list(scratch.iterdir()) == []


async def test_revert_of_a_commit_not_on_the_branch_is_refused(
    upstream: Upstream, scratch: Path
) -> None:
    _prepare_bare(upstream)
    upstream.commit({"a": "1"}, "initial")
    elsewhere = upstream.commit({"a": "2"}, "on a branch", push="feature")
    upstream.git("reset", "-q", "--hard", "HEAD~1")
    repo = base.RepoSpec(upstream.url)
    before = head(upstream)

    with pytest.raises(errors.RevisionNotFound, match="not in the history of branch main"):
        await committing.revert_and_push(repo, "main", [elsewhere], author=AUTHOR)
    with pytest.raises(errors.RevisionNotFound, match="commit deadbeef not found"):
        await committing.revert_and_push(repo, "main", ["deadbeef"], author=AUTHOR)
    with pytest.raises(errors.RevisionNotFound, match="is not a commit id"):
        await committing.revert_and_push(repo, "main", ["HEAD~1"], author=AUTHOR)
    with pytest.raises(committing.CommitError, match="no commit to revert"):
        await committing.revert_and_push(repo, "main", [], author=AUTHOR)
    assert head(upstream) == before
