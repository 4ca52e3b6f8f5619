"""What git credentials look like, where their secret parts come from, and how
URLs are cleaned of them.

Configuration never holds a secret value, only a *reference* to one: the name
of an environment variable or the path of a file (a mounted Kubernetes Secret,
a Vault agent file). The value is read when a fetch starts, handed to the fetch
process in memory, and never stored, logged or put in an error message.

A repository URL may still embed ``user:password@`` (people paste them); it is
accepted, the password is treated as a secret, and the URL is stripped of its
userinfo before it is used as a remote, a mirror name or in any message
(:func:`strip_userinfo`, :func:`redact`).

Called by :mod:`gitward.source.mirrors` (to prepare a fetch) and by whoever
builds a :class:`gitward.source.base.RepoSpec` from settings.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from gitward import errors

REDACTED = "***"

# scp-like ssh address: [user@]host:path (no scheme, no "//" after the colon).
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?!//)(?P<path>.+)$")


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret value lives: exactly one of an env var name or a file path.

    The repr shows the reference (``env=GIT_TOKEN``), never the value.
    """

    env: str = ""
    file: Path | None = None

    def __post_init__(self) -> None:
        if bool(self.env) == (self.file is not None):
            raise errors.ConfigError(
                "a secret reference needs exactly one of an environment variable name or a "
                f"file path (got env={self.env!r}, file={self.file})"
            )

    def describe(self) -> str:
        """Where the value comes from, for messages (never the value)."""
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def read(self) -> str:
        """The secret value; trailing newlines of a file are dropped.

        Raises :class:`gitward.errors.ConfigError` naming the reference when the
        variable is unset, the file unreadable, or the value empty.
        """
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise errors.ConfigError(f"{self.describe()} is not set")
        else:
            assert self.file is not None
            try:
                value = self.file.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                raise errors.ConfigError(
                    f"cannot read {self.describe()}: {exc.__class__.__name__}"
                ) from None
        if not value:
            raise errors.ConfigError(f"{self.describe()} is empty")
        return value


@dataclass(frozen=True, slots=True)
class HttpsCredentials:
    """HTTP(S) basic authentication: a username and a password or access token.

    Forges accept a token as the password of any non-empty username
    (``x-access-token`` on GitHub, ``oauth2`` on GitLab); the default ``git``
    works for both.
    """

    password: SecretRef
    username: str = "git"


@dataclass(frozen=True, slots=True)
class SshCredentials:
    """An SSH private key (OpenSSH or PEM format) and how to trust the server.

    ``known_hosts`` replaces ``~/.ssh/known_hosts`` for this repository; an
    unknown or changed host key fails the fetch unless the repository is
    declared ``insecure``. ``username`` is used when the URL names none.
    """

    private_key: Path
    passphrase: SecretRef | None = None
    known_hosts: Path | None = None
    username: str = "git"


Credentials = HttpsCredentials | SshCredentials


@dataclass(frozen=True, slots=True)
class Resolved:
    """Secret values read for one fetch; lives only in memory for its duration."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    private_key: Path | None = None
    passphrase: str | None = field(default=None, repr=False)
    known_hosts: Path | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in a message."""
        return tuple(v for v in (self.password, self.passphrase) if v)


def resolve(url: str, credentials: Credentials | None) -> Resolved:
    """Read the secret values for fetching ``url`` (which may embed userinfo).

    Credentials declared on the repository win over userinfo embedded in the
    URL. Raises :class:`gitward.errors.ConfigError` naming the URL (redacted)
    and the reference when a value cannot be read.
    """
    _, url_user, url_password = strip_userinfo(url)
    try:
        if isinstance(credentials, HttpsCredentials):
            return Resolved(username=credentials.username, password=credentials.password.read())
        if isinstance(credentials, SshCredentials):
            passphrase = credentials.passphrase.read() if credentials.passphrase else None
            if not credentials.private_key.is_file():
                raise errors.ConfigError(
                    f"ssh private key file {credentials.private_key} not found"
                )
            return Resolved(
                username=url_user or credentials.username,
                private_key=credentials.private_key,
                passphrase=passphrase,
                known_hosts=credentials.known_hosts,
            )
    except errors.ConfigError as exc:
        raise errors.ConfigError(f"credentials for {redact(url)}: {exc.message}") from None
    return Resolved(username=url_user, password=url_password)


def strip_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without ``user[:password]@``, plus the (percent-decoded) user and password.

    scp-like ssh addresses (``git@host:org/repo.git``) keep their shape; their
    user is returned and removed like any other.
    """
    if "://" not in url:
        match = _SCP_LIKE.match(url)
        if match is None:
            return url, None, None
        user = match.group("user")
        return f"{match.group('host')}:{match.group('path')}", user, None
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, unquote(user) or None, (unquote(password) if sep else None) or None


def redact(url: str) -> str:
    """``url`` safe to print: a password in it becomes ``***`` (the user stays)."""
    if "://" not in url:
        return url  # scp-like addresses cannot carry a password
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, _ = userinfo.partition(":")
    netloc = f"{user}:{REDACTED}@{hostport}" if sep else f"{user}@{hostport}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every occurrence of a secret value replaced by ``***``.

    Defence in depth for messages that come from libgit2 or a server: they
    should never contain a secret, but an echoed URL or header might.
    """
    # Longest first, and percent-encoded forms too (a password in a URL).
    variants = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
    for secret in sorted(variants, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
