"""Writing to Git: commit a generated change, or revert commits, and push with retry.

Called by the engine for GitOps rollback (:func:`revert_and_push`) and for CI's
image bumps and environment promotions (:func:`change_and_push`).

Everything runs in a temporary working copy driven by the ``git`` CLI (revert,
commit and push are what git does best), deleted afterwards whatever happens:

1. ``git init`` an empty repository whose only remote is the repository URL
   stripped of userinfo. When the Sources cache holds a mirror of the
   repository (``cache_dir``), the mirror's object store is borrowed as an
   *alternate*, so the fetch below transfers only what the mirror lacks; the
   mirror is only read (it is fetched into, never pruned of reachable objects,
   and git tolerates packs being added or repacked under a reader).
2. Fetch the branch from the real URL: ``--depth=1`` for a change when there
   is no mirror; the full history (``--filter=blob:none`` where the server
   allows it, blobs then come on demand) for a revert, which needs the
   reverted commits, their parents and their order. A change that names the
   directories it edits (``paths``) gets a sparse checkout of just those,
   and without a mirror (where the server allows partial clone) only their
   blobs are fetched: an image bump in a monorepo of thousands of files
   writes a few files, not thousands.
3. Check out the remote head, apply the edit (the caller's ``change`` callback
   or ``git revert``), commit if anything changed, and push that commit to the
   branch, never with ``--force``.
4. If the push is refused and the branch has moved (someone pushed in the
   meantime), fetch again, reset to the new head and apply the edit *again* on
   the fresh tree: for generated edits this is the robust form of a rebase (an
   image bump re-applied to the new file cannot conflict, and never drops the
   other commit). If the branch has not moved, the server refused the commit
   itself (a protected branch, a hook): :class:`PushRejected`.

Isolation: git sees no system or global configuration, no terminal, and a
temporary ``HOME``; only transports ``file``, ``git``, ``http(s)`` and
``ssh`` are allowed. Credentials never reach the command line or
``.git/config``: for HTTPS a ``GIT_ASKPASS`` script answers git's prompts from
environment variables that exist only in the git child's environment; for
SSH, ``GIT_SSH_COMMAND`` names the key, pins the known hosts and refuses
password authentication (the passphrase, if any, comes from the same askpass
script through ``SSH_ASKPASS``). Every git command is bounded by the timeout
and runs in its own process group, killed whole (ssh and remote helpers
included) at the deadline or on cancellation. Error messages name the
repository (its URL without any userinfo) and the branch, and are scrubbed of
secret values.

Lost replies: when a push fails without a verdict (timeout, dropped
connection), the branch is listed again; if it points at the commit just
pushed, the push landed and counts as done.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pygit2
import structlog

from gitward import errors
from gitward.source import base, credentials, mirrors

_log = structlog.get_logger(__name__)

_DEFAULT_TIMEOUT = 60.0
_SHA = re.compile(r"[0-9a-fA-F]{4,64}")
# Forwarded from the agent's environment: how to reach the network and which
# CAs to trust. Anything else (GIT_DIR, GIT_SSH_COMMAND, a user's askpass)
# could redirect or alter what git does.
_PASSTHROUGH = (
    "PATH",
    "TMPDIR",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
_ASKPASS_USER = "GITWARD_ASKPASS_USERNAME"
_ASKPASS_SECRET = "GITWARD_ASKPASS_SECRET"  # noqa: S105 (a variable name, not a value)
# Answers only the prompts it knows: git's username and password prompts and
# ssh's key passphrase prompt. Anything else (a server asking ssh for a
# password) gets nothing, so a secret is never handed to the wrong question.
_ASKPASS_SCRIPT = f"""#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "${_ASKPASS_USER}" ;;
  Password*) printf '%s\\n' "${_ASKPASS_SECRET}" ;;
  "Enter passphrase"*) printf '%s\\n' "${_ASKPASS_SECRET}" ;;
  *) exit 1 ;;
esac
"""
_PORCELAIN = re.compile(r"^(?P<flag>[ +\-*!=])\t(?P<src>[^\t]*):(?P<dst>[^\t]+)\t(?P<summary>.*)$")
_MAX_DETAIL = 600


# --- values and errors ----------------------------------------------------------------


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


# --- public functions -----------------------------------------------------------------


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

    where = _where(repo, branch)
    _check_attempts(attempts, where)
    sparse = _sparse_directories(paths, where)

    async def apply(copy: _WorkingCopy) -> str | None:
        message = await _in_thread(change, copy.path)
        if message is not None and not message.strip():
            raise CommitError(f"the change for {where} returned an empty commit message")
        return message

    async with _working_copy(
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
    where = _where(repo, branch)
    _check_attempts(attempts, where)
    if not wanted:
        raise CommitError(f"no commit to revert on {where}")
    for commit in wanted:
        if not _SHA.fullmatch(commit):
            raise errors.RevisionNotFound(f"{commit!r} is not a commit id ({where})")

    async def apply(copy: _WorkingCopy) -> str | None:
        return await _revert(copy, wanted, message)

    # Always the whole tree: the merge behind a revert follows renames made
    # since the reverted commit, so it may write to any path.
    async with _working_copy(
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
    copy: _WorkingCopy,
    apply: Callable[[_WorkingCopy], Awaitable[str | None]],
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


async def _revert(copy: _WorkingCopy, wanted: tuple[str, ...], message: str | None) -> str:
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


# --- the working copy ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Completed:
    code: int
    out: str
    err: str


class _WorkingCopy:
    """A temporary clone of one branch, and the isolated git commands that act on it."""

    def __init__(
        self,
        scratch: Path,
        repo: base.RepoSpec,
        branch: str,
        author: Author,
        timeout: float,
        full_history: bool,
        mirror: Path | None,
        sparse: tuple[str, ...],
    ) -> None:
        self.path = scratch / "work"
        self.branch = branch
        self.url, _, _ = credentials.strip_userinfo(repo.url)
        self.display_url = self.url
        self.where = _where(repo, branch)
        self._repo = repo
        self._timeout = timeout
        self._full_history = full_history
        self._sparse = sparse
        self._mirror = mirror
        self._secrets = credentials.resolve(repo.url, repo.credentials)
        self._env = self._environment(scratch, author)
        self._options = self._config_options()

    def _environment(self, scratch: Path, author: Author) -> dict[str, str]:
        home = scratch / "home"
        home.mkdir(mode=0o700)
        env = {name: os.environ[name] for name in _PASSTHROUGH if name in os.environ}
        env.setdefault("PATH", os.defpath)
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_TERMINAL_PROMPT="0",
            GIT_ALLOW_PROTOCOL="file:git:http:https:ssh",
            LC_ALL="C",
            GIT_AUTHOR_NAME=author.name,
            GIT_AUTHOR_EMAIL=author.email,
            GIT_COMMITTER_NAME=author.name,
            GIT_COMMITTER_EMAIL=author.email,
        )
        secrets = self._secrets
        secret = secrets.passphrase if secrets.private_key is not None else secrets.password
        askpass = scratch / "askpass"
        if secret is not None:
            askpass.write_text(_ASKPASS_SCRIPT, encoding="utf-8")
            askpass.chmod(0o700)
            env[_ASKPASS_USER] = secrets.username or "git"
            env[_ASKPASS_SECRET] = secret
            env["GIT_ASKPASS"] = str(askpass)
        if _is_ssh(self.url):
            env["GIT_SSH_COMMAND"] = self._ssh_command(with_passphrase=secret is not None)
            if secret is not None:
                env["SSH_ASKPASS"] = str(askpass)
                env["SSH_ASKPASS_REQUIRE"] = "force"
        return env

    def _ssh_command(self, *, with_passphrase: bool) -> str:
        secrets = self._secrets
        argv = [
            "ssh",
            "-F",
            os.devnull,
            "-o",
            f"ConnectTimeout={max(1, int(self._timeout))}",
            # Only the key: a server asking for a password gets none.
            "-o",
            "PreferredAuthentications=publickey",
            "-o",
            "PasswordAuthentication=no",
            "-o",
            "KbdInteractiveAuthentication=no",
        ]
        if not with_passphrase:
            argv += ["-o", "BatchMode=yes"]
        if secrets.username:
            argv += ["-o", f"User={secrets.username}"]
        if secrets.private_key is not None:
            argv += ["-i", str(secrets.private_key.absolute()), "-o", "IdentitiesOnly=yes"]
        if self._repo.insecure:
            argv += ["-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={os.devnull}"]
        else:
            # Same trust as the fetches: the declared known_hosts, else the
            # agent user's own (HOME is replaced for git, so name it).
            known = secrets.known_hosts or Path("~/.ssh/known_hosts").expanduser()
            argv += [
                "-o",
                f"UserKnownHostsFile={known.absolute()}",
                "-o",
                "StrictHostKeyChecking=yes",
            ]
        return shlex.join(argv)

    def _config_options(self) -> list[str]:
        options = [
            "-c",
            "core.hooksPath=" + os.devnull,
            "-c",
            "gc.auto=0",
            "-c",
            "maintenance.auto=false",
            "-c",
            "commit.gpgSign=false",
            "-c",
            "credential.helper=",
        ]
        if self._repo.ca_file is not None:
            options += ["-c", f"http.sslCAInfo={self._repo.ca_file.absolute()}"]
        if self._repo.insecure:
            options += ["-c", "http.sslVerify=false"]
        return options

    # -- running git --

    async def run(self, *args: str, stdin: bytes | None = None) -> _Completed:
        """Run ``git <args>`` in the working copy; its own process group, killed at the deadline."""
        try:
            process = await asyncio.create_subprocess_exec(
                "git",
                *self._options,
                *args,
                cwd=self.path,
                env=self._env,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise errors.SourceUnavailable(
                f"cannot run git for {self.where}: {exc.__class__.__name__}"
            ) from None
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin), self._timeout)
        except BaseException as exc:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            if isinstance(exc, TimeoutError):
                raise errors.SourceUnavailable(
                    f"git {args[0]} for {self.where} timed out after {self._timeout:g}s"
                ) from None
            raise
        assert process.returncode is not None
        return _Completed(
            process.returncode, out.decode(errors="replace"), err.decode(errors="replace")
        )

    async def git(self, *args: str, stdin: bytes | None = None) -> str:
        """``git <args>`` that must succeed (a local operation); its stdout, stripped."""
        done = await self.run(*args, stdin=stdin)
        if done.code != 0:
            raise CommitError(f"git {args[0]} failed for {self.where}: {self.detail(done.err)}")
        return done.out.strip()

    def detail(self, text: str) -> str:
        """The useful lines of git's stderr, safe to show."""
        lines = [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.startswith("hint:") and line.strip() != "remote:"
        ]
        summary = " | ".join(lines[-6:])
        summary = credentials.scrub(summary, self._secrets.secrets)
        return summary[-_MAX_DETAIL:] or "no detail from git"

    # -- steps --

    async def init(self) -> None:
        self.path.mkdir()
        await self.git("init", "-q", "--template=", f"--initial-branch={self.branch}")
        await self.git("config", "remote.origin.url", self.url)
        if self._mirror is not None:
            alternates = self.path / ".git" / "objects" / "info" / "alternates"
            alternates.parent.mkdir(parents=True, exist_ok=True)
            alternates.write_text(f"{(self._mirror / 'objects').absolute()}\n", encoding="utf-8")
        if self._sparse:
            # Directory names go through stdin: one starting with "-" stays a name.
            await self.git(
                "sparse-checkout",
                "set",
                "--cone",
                "--stdin",
                stdin="".join(f"{d}\n" for d in self._sparse).encode(),
            )

    async def fetch(self, branch: str | None = None) -> str:
        """Fetch the branch (or ``branch``) from the remote; the sha of its head."""
        branch = branch or self.branch
        shape: list[str] = []
        if self._mirror is None:
            if self._full_history:
                shape = ["--filter=blob:none"]
            elif self._sparse:
                shape = ["--depth=1", "--filter=blob:none"]
            else:
                shape = ["--depth=1"]
        tracking = f"refs/remotes/origin/{branch}"
        done = await self.run(
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-recurse-submodules",
            *shape,
            "origin",
            f"+refs/heads/{branch}:{tracking}",
        )
        if done.code != 0:
            lowered = done.err.lower()
            if "couldn't find remote ref" in lowered:
                raise errors.RevisionNotFound(f"branch {branch} not found in {self.display_url}")
            raise errors.SourceUnavailable(f"fetching {self.where} failed: {self.detail(done.err)}")
        return await self.git("rev-parse", "--verify", f"{tracking}^{{commit}}")

    async def reset(self, sha: str) -> None:
        """A clean checkout of ``sha`` on the local branch (nothing left of a previous try)."""
        await self.git("checkout", "-q", "-f", "-B", self.branch, sha)
        await self.git("clean", "-q", "-ffdx")

    async def commit(self, message: str) -> str | None:
        """Commit every change in the working tree; the new sha, or None if nothing changed."""
        added = await self.run("add", "-A")
        if self._sparse:
            # git refuses new files outside the sparse directories, and skips
            # edits to existing ones: name both, whatever "add" said.
            await self._refuse_edits_outside_sparse()
        if added.code != 0:
            raise CommitError(f"git add failed for {self.where}: {self.detail(added.err)}")
        staged = await self.run("diff", "--cached", "--quiet")
        if staged.code == 0:
            return None
        if staged.code != 1:
            raise CommitError(f"git diff failed for {self.where}: {self.detail(staged.err)}")
        await self.git(
            "commit",
            "-q",
            "--no-verify",
            "--no-gpg-sign",
            "--cleanup=whitespace",
            "-F",
            "-",
            stdin=message.encode(),
        )
        return await self.git("rev-parse", "HEAD")

    async def _refuse_edits_outside_sparse(self) -> None:
        # After "add -A", anything still unstaged lies outside the sparse directories.
        status = await self.git(
            "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"
        )
        left = sorted(
            {entry[3:] for entry in status.split("\0") if len(entry) > 3 and entry[1] != " "}
        )
        if left:
            shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
            raise CommitError(
                f"the change for {self.where} edited files outside its paths "
                f"({', '.join(self._sparse)}): {shown}; nothing was pushed"
            )

    async def push(self, sha: str) -> str | None:
        """Push ``sha`` to the branch (never forced); None if it landed, else the refusal."""
        target = f"refs/heads/{self.branch}"
        try:
            done = await self.run("push", "--porcelain", "--no-verify", "origin", f"{sha}:{target}")
        except errors.SourceUnavailable:
            # A timeout may have cut the reply of a push that landed.
            if await self._landed(sha, target):
                return None
            raise
        status = None
        for line in done.out.splitlines():
            match = _PORCELAIN.match(line)
            if match is not None and match.group("dst") == target:
                status = match
        if status is not None and status.group("flag") == "!":
            remote = [
                line.removeprefix("remote:").strip()
                for line in done.err.splitlines()
                if line.startswith("remote:") and line.removeprefix("remote:").strip()
            ]
            said = f" ({self.detail(chr(10).join(remote))})" if remote else ""
            return f"{status.group('summary')}{said}"
        if (done.code == 0 and status is not None) or await self._landed(sha, target):
            return None
        raise errors.SourceUnavailable(f"pushing to {self.where} failed: {self.detail(done.err)}")

    async def _landed(self, sha: str, target: str) -> bool:
        with contextlib.suppress(errors.SourceUnavailable):
            listed = await self.run("ls-remote", "origin", target)
            if listed.code == 0:
                return any(line.split("\t")[0] == sha for line in listed.out.splitlines())
        return False

    async def commit_id(self, commit: str) -> str:
        """The full id of a commit present in the fetched history."""
        done = await self.run("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
        if done.code != 0:
            raise errors.RevisionNotFound(f"commit {commit} not found on {self.where}")
        return done.out.strip()

    async def newest_first(self, shas: list[str]) -> list[str]:
        """``shas`` in topological order, newest first; each must be in HEAD's history.

        Reads ``git rev-list --topo-order HEAD`` only as far as the oldest of
        them (a rollback reverts recent commits, so this stops early).
        """
        wanted = set(shas)
        order: list[str] = []
        process = await asyncio.create_subprocess_exec(
            "git",
            *self._options,
            "rev-list",
            "--topo-order",
            "HEAD",
            cwd=self.path,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        assert process.stdout is not None

        async def read() -> None:
            assert process.stdout is not None
            async for raw in process.stdout:
                sha = raw.decode().strip()
                if sha in wanted:
                    order.append(sha)
                    if len(order) == len(wanted):
                        return

        try:
            await asyncio.wait_for(read(), self._timeout)
        except TimeoutError:
            raise errors.SourceUnavailable(
                f"listing the history of {self.where} timed out after {self._timeout:g}s"
            ) from None
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        missing = [sha for sha in shas if sha not in order]
        if missing:
            raise errors.RevisionNotFound(
                f"commit {', '.join(missing)} is not in the history of {self.where}"
            )
        return order


@contextlib.asynccontextmanager
async def _working_copy(
    repo: base.RepoSpec,
    branch: str,
    author: Author,
    workdir_parent: Path | None,
    per_command: float | None,
    cache_dir: Path | None,
    *,
    full_history: bool,
    sparse: tuple[str, ...],
) -> AsyncIterator[_WorkingCopy]:
    name = branch.removeprefix("refs/heads/")
    if (
        not name
        or name.startswith("-")
        or name == "HEAD"
        or not pygit2.reference_is_valid_name(f"refs/heads/{name}")
    ):
        raise errors.ConfigError(f"{branch!r} is not a valid branch name for {_url(repo)}")
    limit = per_command if per_command is not None else repo.timeout or _DEFAULT_TIMEOUT
    if limit <= 0:
        raise errors.ConfigError(f"the git timeout for {_url(repo)} must be positive")
    mirror = None
    if cache_dir is not None:
        found = mirrors.Mirror(cache_dir, repo.url)
        mirror = found.path if found.fetched else None
    scratch = await asyncio.to_thread(_make_scratch, workdir_parent)
    try:
        copy = _WorkingCopy(scratch, repo, name, author, limit, full_history, mirror, sparse)
        await copy.init()
        yield copy
    finally:
        # Shielded: a cancelled caller still gets its temporary files removed.
        await asyncio.shield(asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True))


def _url(repo: base.RepoSpec) -> str:
    """The repository URL for messages and logs: no userinfo at all (not even a user)."""
    return credentials.strip_userinfo(repo.url)[0]


def _where(repo: base.RepoSpec, branch: str) -> str:
    return f"branch {branch.removeprefix('refs/heads/')} of {_url(repo)}"


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


def _make_scratch(parent: Path | None) -> Path:
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="gitward-commit-", dir=parent))


async def _in_thread(change: Callable[[Path], str | None], path: Path) -> str | None:
    """Run the caller's edit in a thread; if we are cancelled, wait for it to stop
    touching the working copy before it is deleted."""
    task = asyncio.ensure_future(asyncio.to_thread(change, path))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


def _is_ssh(url: str) -> bool:
    if "://" in url:
        return url.split("://", 1)[0].lower() in {"ssh", "git+ssh", "ssh+git"}
    # scp-like "host:path" (a local path has no colon before its first slash).
    head = url.split("/", 1)[0]
    return ":" in head
