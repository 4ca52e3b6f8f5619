"""The temporary working copy a change or a revert is made in, and the isolated
git commands that act on it (see the package's docstring for the isolation and
the credentials). Used by ``pushing``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pygit2

from gitward import errors
from gitward.source import base, credentials, mirrors
from gitward.source.committing.values import Author, CommitError

_DEFAULT_TIMEOUT = 60.0
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


@dataclass(frozen=True, slots=True)
class Completed:
    code: int
    out: str
    err: str


class WorkingCopy:
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
        self.where = where(repo, branch)
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

    async def run(self, *args: str, stdin: bytes | None = None) -> Completed:
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
        return Completed(
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
async def opened(
    repo: base.RepoSpec,
    branch: str,
    author: Author,
    workdir_parent: Path | None,
    per_command: float | None,
    cache_dir: Path | None,
    *,
    full_history: bool,
    sparse: tuple[str, ...],
) -> AsyncIterator[WorkingCopy]:
    """A fresh working copy of ``branch`` (``init`` done, nothing fetched), deleted
    afterwards whatever happens. ``per_command`` bounds each git command
    (default: ``repo.timeout``, else 60 s); ``cache_dir`` holds the mirror whose
    objects it borrows."""
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
        copy = WorkingCopy(scratch, repo, name, author, limit, full_history, mirror, sparse)
        await copy.init()
        yield copy
    finally:
        # Shielded: a cancelled caller still gets its temporary files removed.
        await asyncio.shield(asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True))


def _url(repo: base.RepoSpec) -> str:
    """The repository URL for messages and logs: no userinfo at all (not even a user)."""
    return credentials.strip_userinfo(repo.url)[0]


def where(repo: base.RepoSpec, branch: str) -> str:
    """``branch`` of the repository, as messages name it."""
    return f"branch {branch.removeprefix('refs/heads/')} of {_url(repo)}"


def _make_scratch(parent: Path | None) -> Path:
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="gitward-commit-", dir=parent))


def _is_ssh(url: str) -> bool:
    if "://" in url:
        return url.split("://", 1)[0].lower() in {"ssh", "git+ssh", "ssh+git"}
    # scp-like "host:path" (a local path has no colon before its first slash).
    head = url.split("/", 1)[0]
    return ":" in head
