"""What committing takes and gives: the :class:`Author`, a :class:`Pushed`
commit, and the errors, sorted by what the caller does (fix the request vs
try again later)."""

from __future__ import annotations

from dataclasses import dataclass

from gitward import errors


@dataclass(frozen=True, slots=True)
class Author:
    """Who commits: recorded as both author and committer of the commit."""

    name: str
    email: str

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("email", self.email)):
            # git rejects these in an identity; say so before any work starts.
            if not value.strip() or any(c in value for c in "<>\n\r\0"):
                raise errors.ConfigError(f"commit author {label} {value!r} is not valid")


@dataclass(frozen=True, slots=True)
class Pushed:
    """A commit that landed on ``branch``.

    ``parent`` is the remote head the commit was made on; ``attempts`` counts
    pushes (1 when nobody pushed in between).
    """

    sha: str
    branch: str
    attempts: int
    parent: str


class CommitError(errors.InputError):
    """A change cannot be committed or pushed as asked; retrying will not help."""

    reason = "CommitFailed"


class RevertConflict(CommitError):
    """Reverting would conflict with what the branch changed since; nothing was pushed.

    ``commits`` are the commits asked to be reverted, ``paths`` the files in
    conflict.
    """

    reason = "RevertConflict"

    def __init__(self, message: str, commits: tuple[str, ...], paths: tuple[str, ...]) -> None:
        super().__init__(message)
        self.commits = commits
        self.paths = paths


class NothingToRevert(CommitError):
    """The branch already holds the reverted state (the commits were undone before)."""

    reason = "NothingToRevert"


class PushRejected(CommitError):
    """The server refused the commit itself (protected branch, hook, permissions)."""

    reason = "PushRejected"


class PushContended(errors.RetryableError):
    """The branch kept moving: every attempt was overtaken by another push."""

    reason = "PushFailed"
