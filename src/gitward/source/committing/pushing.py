"""Committing a change or a revert and pushing it, re-applied on a newer head
when another push lands first (the package's docstring tells the steps).
Called by the engine for rollbacks, image and chart policies, promotions and
bootstrap."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import structlog

from gitward import errors
from gitward.source import base
from gitward.source.committing import workingcopies
from gitward.source.committing.values import (
    Author,
    CommitError,
    NothingToRevert,
    PushContended,
    Pushed,
    PushRejected,
    RevertConflict,
)

_log = structlog.get_logger(__name__)

_SHA = re.compile(r"[0-9a-fA-F]{4,64}")


async def change_and_push(
    repo: base.RepoSpec,
    branch: str,
    change: Callable[[Path], str | None],
    *,
    author: Author,
    workdir_parent: Path | None = None,
    attempts: int = 5,
    timeout: float | None = None,  # noqa: ASYNC109 (bounds each git command, not the call)
    cache_dir: Path | None = None,
    paths: Sequence[str] | None = None,
    base: str | None = None,
    orphan: bool = False,
) -> Pushed | None:
    """Apply ``change`` to the head of ``branch``, commit and push; re-apply if overtaken.

    ``base``: when ``branch`` does not exist yet, start from the head of the
    branch ``base`` and create ``branch`` with the push (a branch for a pull
    request); if someone creates it first, the change is re-applied on theirs.
    ``orphan``: when ``branch`` (and ``base``) do not exist, start from an
    empty tree: the first commit of an empty repository (``gitward
    bootstrap`` into a new one); ``Pushed.parent`` is then ''.

    ``change(workdir)`` runs in a worker thread on a clean checkout of the
    remote head; it edits files and returns the commit message, or None when
    there is nothing to do. It may be called again on a newer head (up to
    ``attempts`` times) when another push lands first, so it must compute its
    edit from the files it finds. Returns None when ``change`` returned None
    or left the tree unchanged (nothing is pushed).

    ``timeout`` bounds each git command (default: ``repo.timeout``, else 60 s).
    ``cache_dir`` is the :class:`gitward.source.base.Sources` cache directory;
    its mirror of ``repo``, if any, saves transferring objects. The working
    copy lives in a temporary directory under ``workdir_parent``.

    ``paths`` (directories, relative to the repository root) narrows the
    working copy to what the change reads and writes: only those directories
    and the files at the root are checked out (git's cone-mode sparse
    checkout) and, without a mirror, only their file contents are fetched.
    A change writing anywhere else raises :class:`CommitError` (nothing is
    pushed), since git would silently leave such a file out of the commit.

    Raises :class:`gitward.errors.RevisionNotFound` (no such branch),
    :class:`PushRejected`, :class:`PushContended`,
    :class:`gitward.errors.SourceUnavailable` (unreachable, credentials
    refused, timed out), :class:`gitward.errors.ConfigError` (invalid branch,
    unreadable credentials); exceptions raised by ``change`` propagate.
    """

    where = workingcopies.where(repo, branch)
    _check_attempts(attempts, where)
    sparse = _sparse_directories(paths, where)

    async def apply(copy: workingcopies.WorkingCopy) -> str | None:
        message = await _in_thread(change, copy.path)
        if message is not None and not message.strip():
            raise CommitError(f"the change for {where} returned an empty commit message")
        return message

    async with workingcopies.opened(
        repo, branch, author, workdir_parent, timeout, cache_dir, full_history=False, sparse=sparse
    ) as copy:
        return await _commit_until_pushed(copy, apply, attempts, base=base, orphan=orphan)


async def revert_and_push(
    repo: base.RepoSpec,
    branch: str,
    commits: Sequence[str],
    *,
    author: Author,
    message: str | None = None,
    workdir_parent: Path | None = None,
    attempts: int = 5,
    timeout: float | None = None,  # noqa: ASYNC109 (bounds each git command, not the call)
    cache_dir: Path | None = None,
) -> Pushed:
    """Push ONE commit on ``branch`` that reverts ``commits`` (newest first), retrying if overtaken.

    One commit, however many are reverted: a rollback lands or fails as a
    whole, and undoing it is a single revert again. The commits are reverted
    newest first (topological order on the branch, whatever order they are
    given in) with ``git revert --no-commit``; a merge commit is reverted
    against its first parent (the branch it was merged into). Each must be in
    the history of ``branch`` (full or abbreviated ids).

    The commit message is ``message`` (default: git's ``Revert "<subject>"``,
    or a list of the reverted subjects) followed by one ``This reverts commit
    <sha>.`` line per commit, as ``git revert`` writes it, so tooling that
    greps history for reverts finds them.

    Raises :class:`RevertConflict` (naming commits and paths; nothing pushed),
    :class:`NothingToRevert`, :class:`gitward.errors.RevisionNotFound` (a
    commit not on the branch, or no such branch), and the errors of
    :func:`change_and_push`.
    """
    wanted = tuple(dict.fromkeys(c.strip() for c in commits))
    where = workingcopies.where(repo, branch)
    _check_attempts(attempts, where)
    if not wanted:
        raise CommitError(f"no commit to revert on {where}")
    for commit in wanted:
        if not _SHA.fullmatch(commit):
            raise errors.RevisionNotFound(f"{commit!r} is not a commit id ({where})")

    async def apply(copy: workingcopies.WorkingCopy) -> str | None:
        return await _revert(copy, wanted, message)

    # Always the whole tree: the merge behind a revert follows renames made
    # since the reverted commit, so it may write to any path.
    async with workingcopies.opened(
        repo, branch, author, workdir_parent, timeout, cache_dir, full_history=True, sparse=()
    ) as copy:
        pushed = await _commit_until_pushed(copy, apply, attempts)
    if pushed is None:
        raise NothingToRevert(
            f"{where} already has the changes of {', '.join(wanted)} undone; nothing to revert"
        )
    return pushed


# --- the retry loop ---------------------------------------------------------------------


async def _commit_until_pushed(
    copy: workingcopies.WorkingCopy,
    apply: Callable[[workingcopies.WorkingCopy], Awaitable[str | None]],
    attempts: int,
    *,
    base: str | None = None,
    orphan: bool = False,
) -> Pushed | None:
    async def head() -> str:
        try:
            return await copy.fetch()
        except errors.RevisionNotFound:
            if base is None and orphan:
                return ""
            if base is None:
                raise
        try:
            return await copy.fetch(base)
        except errors.RevisionNotFound:
            if orphan:
                return ""
            raise

    parent = await head()
    for attempt in range(1, attempts + 1):
        if parent:
            await copy.reset(parent)
        message = await apply(copy)
        if message is None:
            return None
        sha = await copy.commit(message)
        if sha is None:
            return None
        refusal = await copy.push(sha)
        if refusal is None:
            _log.info(
                "pushed commit",
                url=copy.display_url,
                branch=copy.branch,
                sha=sha,
                parent=parent,
                attempts=attempt,
            )
            return Pushed(sha=sha, branch=copy.branch, attempts=attempt, parent=parent)
        latest = await head()
        if latest == parent:
            # Nobody pushed in between, so the server refused this commit itself.
            raise PushRejected(f"the push to {copy.where} was rejected: {refusal}")
        _log.info(
            "push overtaken, re-applying on the new head",
            url=copy.display_url,
            branch=copy.branch,
            attempt=attempt,
            old_head=parent,
            new_head=latest,
        )
        parent = latest
    raise PushContended(
        f"{copy.where} moved during each of {attempts} push attempts; nothing was pushed"
    )


async def _revert(
    copy: workingcopies.WorkingCopy, wanted: tuple[str, ...], message: str | None
) -> str:
    full = [await copy.commit_id(commit) for commit in wanted]
    ordered = await copy.newest_first(full)
    subjects: list[str] = []
    for sha in ordered:
        parents = (await copy.git("rev-list", "--parents", "-n", "1", sha)).split()[1:]
        mainline = ["-m", "1"] if len(parents) > 1 else []
        done = await copy.run("revert", "--no-commit", *mainline, sha)
        if done.code != 0:
            unmerged = await copy.git("diff", "--name-only", "--diff-filter=U", "-z")
            paths = tuple(p for p in unmerged.split("\0") if p)
            if paths:
                raise RevertConflict(
                    f"reverting {', '.join(ordered)} on {copy.where} conflicts with later "
                    f"changes (at commit {sha}) in: {', '.join(paths)}; nothing was pushed",
                    commits=tuple(ordered),
                    paths=paths,
                )
            raise CommitError(f"reverting {sha} on {copy.where} failed: {copy.detail(done.err)}")
        subjects.append(await copy.git("log", "-1", "--format=%s", sha))
    if message is not None and message.strip():
        head = message.strip()
    elif len(ordered) == 1:
        head = f'Revert "{subjects[0]}"'
    else:
        listed = "\n".join(
            f"- {sha[:12]} {subject}" for sha, subject in zip(ordered, subjects, strict=True)
        )
        head = f"Revert {len(ordered)} commits\n\n{listed}"
    trailer = "\n".join(f"This reverts commit {sha}." for sha in ordered)
    return f"{head}\n\n{trailer}\n"


def _check_attempts(attempts: int, where: str) -> None:
    if attempts < 1:
        raise errors.ConfigError(f"attempts must be at least 1 (got {attempts}) for {where}")


def _sparse_directories(paths: Sequence[str] | None, where: str) -> tuple[str, ...]:
    """``paths`` as clean relative directory names; () for the whole tree."""
    if paths is None:
        return ()
    if isinstance(paths, str):
        paths = [paths]
    clean: list[str] = []
    for path in paths:
        parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
        if path.startswith("/") or ".." in parts or any(c in path for c in "\n\r\0"):
            raise errors.SourcePathError(
                f"path {path!r} for {where} must be a directory inside the repository"
            )
        if not parts:
            return ()  # the root: the whole tree
        if parts[0] == ".git":
            raise errors.SourcePathError(f"path {path!r} for {where} is inside .git")
        clean.append("/".join(parts))
    return tuple(dict.fromkeys(clean))


async def _in_thread(change: Callable[[Path], str | None], path: Path) -> str | None:
    """Run the caller's edit in a thread; if we are cancelled, wait for it to stop
    touching the working copy before it is deleted."""
    task = asyncio.ensure_future(asyncio.to_thread(change, path))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise
