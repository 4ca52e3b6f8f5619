"""A repository as configured: its URL and how to reach it.

The engine builds a :class:`RepoSpec` per repository from the settings
(``engine.runtimes``); ``source.base`` (as ``base.RepoSpec``) and
``source.mirrors`` take it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitward import errors
from gitward.source import credentials


@dataclass(frozen=True, slots=True)
class RepoSpec:
    """A repository as configured: its URL and how to reach it.

    ``credentials`` hold references (env var names, file paths), never values;
    a password embedded in ``url`` is redacted from the repr and all messages.
    ``timeout`` (seconds) bounds one fetch (None: the :class:`Sources`
    default). ``ca_file`` adds a PEM bundle of CAs to trust for HTTPS.
    ``insecure`` skips TLS certificate and SSH host key verification.
    """

    url: str
    credentials: credentials.Credentials | None = None
    timeout: float | None = None
    ca_file: Path | None = None
    insecure: bool = False

    def __post_init__(self) -> None:
        if not self.url.strip():
            raise errors.ConfigError("a repository URL must not be empty")
        if self.timeout is not None and self.timeout <= 0:
            raise errors.ConfigError(
                f"fetch timeout of {credentials.redact(self.url)} must be positive"
            )

    def __repr__(self) -> str:
        return (
            f"RepoSpec(url={credentials.redact(self.url)!r}, credentials={self.credentials!r}, "
            f"timeout={self.timeout!r}, ca_file={self.ca_file!r}, insecure={self.insecure!r})"
        )

    __str__ = __repr__

    @property
    def display_url(self) -> str:
        """The URL safe to print (password redacted)."""
        return credentials.redact(self.url)
