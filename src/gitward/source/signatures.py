"""Verifying a commit's signature (GPG or SSH) against an allowed set of keys.

Called by :meth:`gitward.source.base.Sources.verify` when an Application's
source requires signed commits.

libgit2 can extract a signature but not check it, so this runs
``git verify-commit --raw`` (as DESIGN.md chooses) on the mirror with a
configuration built for this check only: a temporary ``GNUPGHOME`` holding
exactly the policy's armored public keys, and a temporary
``gpg.ssh.allowedSignersFile`` holding exactly its allowed-signer lines. A
signature is accepted only when git reports it good against those; user and
system git/gpg configuration is ignored. git picks GPG or SSH from the
signature itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from gitward import errors

_SHA = re.compile(r"[0-9a-f]{4,64}")
_GOODSIG = re.compile(r"^\[GNUPG:\] GOODSIG (?P<keyid>\S+) (?P<uid>.*)$", re.MULTILINE)
_VALIDSIG = re.compile(
    r"^\[GNUPG:\] VALIDSIG (?P<fpr>[0-9A-F]+)\b.*?(?P<primary>[0-9A-F]{40,64})?$", re.MULTILINE
)
_NO_PUBKEY = re.compile(r"^\[GNUPG:\] (?:NO_PUBKEY|ERRSIG) (?P<keyid>\S+)", re.MULTILINE)
_SSH_GOOD = re.compile(
    r'^Good "git" signature for (?P<principal>.+) with (?P<type>\S+) key (?P<fpr>\S+)$',
    re.MULTILINE,
)


class SignerKind(StrEnum):
    GPG = "gpg"
    SSH = "ssh"


@dataclass(frozen=True, slots=True)
class SignaturePolicy:
    """The keys allowed to sign commits of a source.

    ``gpg_public_keys``: ASCII-armored OpenPGP public keys (``gpg --armor
    --export``). ``ssh_allowed_signers``: lines of an OpenSSH allowed-signers
    file (``principal[,principal] [options] key-type base64-key``), as git's
    ``gpg.ssh.allowedSignersFile`` reads them.
    """

    gpg_public_keys: tuple[str, ...] = ()
    ssh_allowed_signers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.gpg_public_keys and not self.ssh_allowed_signers:
            raise errors.ConfigError(
                "a signature policy needs at least one GPG public key or SSH allowed signer"
            )


@dataclass(frozen=True, slots=True)
class Signer:
    """Who signed a commit: the key's identity and fingerprint."""

    kind: SignerKind
    identity: str  # GPG user id ("Alice <alice@example.com>") or SSH principal
    fingerprint: str  # GPG primary key fingerprint or SSH key SHA256 fingerprint


async def verify(
    git_dir: Path, sha: str, policy: SignaturePolicy, *, url: str, time_limit: float = 30.0
) -> Signer:
    """The signer of commit ``sha`` in the mirror ``git_dir`` if the policy allows it.

    Raises :class:`gitward.errors.SignatureError` naming the commit and the
    URL when the commit is unsigned, the signature is bad, or the key is not
    allowed; :class:`gitward.errors.ConfigError` when a configured key cannot be
    imported.
    """
    if not _SHA.fullmatch(sha):
        raise errors.RevisionNotFound(f"{sha!r} is not a commit id of {url}")
    try:
        code, out, err = await _verify(git_dir, sha, policy, url=url, time_limit=time_limit)
    except TimeoutError:
        raise errors.SourceUnavailable(
            f"verifying the signature of commit {sha} of {url} took over {time_limit:g}s"
        ) from None
    where = f"commit {sha} of {url}"
    report = out + err
    if code == 0:
        ssh = _SSH_GOOD.search(report)
        if ssh is not None:
            return Signer(SignerKind.SSH, ssh.group("principal"), ssh.group("fpr"))
        good, valid = _GOODSIG.search(report), _VALIDSIG.search(report)
        if good is not None and valid is not None:
            fingerprint = valid.group("primary") or valid.group("fpr")
            return Signer(SignerKind.GPG, good.group("uid"), fingerprint)
        raise errors.SignatureError(f"{where}: git accepted a signature gitward cannot read")
    if not report.strip():
        raise errors.SignatureError(f"{where} is not signed")
    missing = _NO_PUBKEY.search(report)
    if missing is not None:
        raise errors.SignatureError(
            f"{where} is signed by GPG key {missing.group('keyid')}, which is not allowed"
        )
    if "No principal matched" in report or "no principal" in report.lower():
        raise errors.SignatureError(f"{where} is signed by an SSH key that is not allowed")
    if "BADSIG" in report or "Signature verification failed" in report:
        raise errors.SignatureError(f"{where} has an invalid signature")
    if "fatal:" in report:
        raise errors.SignatureError(f"{where} cannot be verified: {_summary(report)}")
    raise errors.SignatureError(f"{where}: signature not accepted: {_summary(report)}")


async def _verify(
    git_dir: Path, sha: str, policy: SignaturePolicy, *, url: str, time_limit: float
) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory(prefix="gitward-verify-") as scratch:
        home = Path(scratch)
        gnupg = home / "gnupg"
        gnupg.mkdir(mode=0o700)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GNUPGHOME": str(gnupg),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "LC_ALL": "C",
        }
        for index, key in enumerate(policy.gpg_public_keys):
            code, _, err = await _run(
                ["gpg", "--batch", "--quiet", "--import"], env, time_limit, stdin=key.encode()
            )
            if code != 0:
                raise errors.ConfigError(
                    f"GPG public key #{index + 1} of the signature policy for {url} cannot be "
                    f"imported: {err.strip()[:300]}"
                )
        allowed = home / "allowed_signers"
        allowed.write_text("".join(line.strip() + "\n" for line in policy.ssh_allowed_signers))
        code, out, err = await _run(
            [
                "git",
                "-C",
                str(git_dir),
                "-c",
                f"gpg.ssh.allowedSignersFile={allowed}",
                "verify-commit",
                "--raw",
                sha,
            ],
            env,
            time_limit,
        )
    return code, out, err


def _summary(report: str) -> str:
    lines = [line for line in report.splitlines() if line.strip()]
    return " | ".join(lines[-3:])[:300]


async def _run(
    argv: list[str], env: dict[str, str], time_limit: float, *, stdin: bytes | None = None
) -> tuple[int, str, str]:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise errors.SignatureError(f"cannot run {argv[0]}: {exc}") from exc
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), time_limit)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")
