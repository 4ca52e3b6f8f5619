"""The composed dependencies of a running engine: settings, sources, targets.

Built once per process (the agent) or per command (the one-shot CLI) by
:meth:`Runtime.open`; closed when done. The stages never see each other: the
Runtime hands the engine one ``Sources`` for every repository and one Target
per declared target name.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitward import errors
from gitward.config import settings as config_settings
from gitward.config import targets as config_targets
from gitward.engine import documents, metrics
from gitward.render import keeping, sops
from gitward.source import base as source_base
from gitward.source import credentials as source_credentials
from gitward.targets import base as targets
from gitward.targets import registry as target_registry

if TYPE_CHECKING:
    from gitward.source import charts as source_charts


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    """What a command line (or the agent) says about where things are."""

    config_file: Path | None = None
    # Used for every target not declared in the configuration file.
    kubeconfig: Path | None = None
    context: str = ""
    cache_dir: Path | None = None
    settings: config_settings.Settings | None = None  # already loaded (agent, demo)
    # False for a one-shot command: nobody scrapes its metrics.
    record_metrics: bool = True
    # True for a one-shot command: renders are kept under the cache directory
    # for the next process (render.keeping); the agent keeps them in memory.
    keep_renders: bool = False


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitward"


def default_kubeconfig() -> Path:
    """The kubeconfig kubectl would use: the first of $KUBECONFIG, else ~/.kube/config."""
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(listed[0]) if listed else Path.home() / ".kube" / "config"


class Runtime:
    """Sources and targets for one process; use :meth:`open`."""

    def __init__(
        self,
        settings: config_settings.Settings,
        options: RuntimeOptions,
        sources: source_base.Sources,
        cache_dir: Path,
    ) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.options = options
        self.sources = sources
        self._charts: source_charts.Charts | None = None
        self.concurrency = 8
        self.metrics = metrics.Metrics(recorded=options.record_metrics)
        self._targets: dict[str, targets.Target] = {}
        # Replicas fence every write (engine.replicas): set before the first target.
        self.wrap: Callable[[targets.Target], targets.Target] | None = None
        self._decryption: dict[str, sops.Decryption] = {}
        self.kept_renders = (
            keeping.KeptRenders(cache_dir / "renders") if options.keep_renders else None
        )
        self._signing: dict[str, source_base.SignaturePolicy] = {}

    @classmethod
    @asynccontextmanager
    async def open(cls, options: RuntimeOptions) -> AsyncIterator[Runtime]:
        settings = options.settings
        if settings is None:
            settings = (
                documents.load_settings(options.config_file)
                if options.config_file is not None
                else config_settings.Settings()
            )
        cache = options.cache_dir or (
            Path(settings.cache_dir) if settings.cache_dir else default_cache_dir()
        )
        sources = source_base.Sources(cache / "repositories", fetch_timeout=settings.fetch_timeout)
        runtime = cls(settings, options, sources, cache)
        try:
            yield runtime
        finally:
            await runtime.close()

    def repo(self, url: str) -> source_base.RepoSpec:
        """The repository spec for ``url``, with the configured credentials."""
        found = self.settings.credentials_for(url, _same_transport)
        if found is None:
            return source_base.RepoSpec(url=url)
        return source_base.RepoSpec(
            url=url,
            credentials=_credentials(found),
            ca_file=Path(found.ca_file).expanduser() if found.ca_file else None,
        )

    @property
    def charts(self) -> source_charts.Charts:
        """The chart cache, made on first use: an Application of Git sources
        needs none of the registry clients it imports."""
        if self._charts is None:
            from gitward.source import archives as source_archives
            from gitward.source import charts as source_charts

            self._charts = source_charts.Charts(
                self.cache_dir / "charts",
                access=self.chart_access,
                limits=source_archives.Limits(
                    max_archive_bytes=self.settings.charts.max_archive_bytes,
                    max_unpacked_bytes=self.settings.charts.max_unpacked_bytes,
                ),
            )
        return self._charts

    def chart_access(self, url: str) -> source_charts.Access:
        """How to reach the Helm repository or OCI registry ``url`` (from ``repositories``)."""
        from gitward.source import charts as source_charts

        timeout = self.settings.charts.timeout
        found = self.settings.credentials_for(url, _same_transport)
        if found is None:
            return source_charts.Access(timeout=timeout)
        token = _secret(found.token_env, found.token_file)
        return source_charts.Access(
            username=found.username,
            password=_secret(found.password_env, found.password_file),
            token=token,
            ca_file=Path(found.ca_file).expanduser() if found.ca_file else None,
            plain_http=found.plain_http,
            timeout=timeout,
        )

    def target(self, name: str) -> targets.Target:
        """The target called ``name``, connected on first use."""
        if name not in self._targets:
            target = self._connect(name)
            self._targets[name] = self.wrap(target) if self.wrap is not None else target
        return self._targets[name]

    def _connect(self, name: str) -> targets.Target:
        # Targets keep their records (the kinds each Application ever applied,
        # what a host target created) beside the git mirrors, so a later run
        # (another process) still finds, and can prune, what left Git.
        state = self.cache_dir / "targets"
        declared = self.settings.targets.get(name)
        if declared is None:
            if self.options.kubeconfig is not None or self.options.config_file is None:
                # One-shot use without a configuration file: the kubeconfig given
                # on the command line (or the default one) serves every target.
                declared = config_targets.KubernetesTargetSettings(
                    kubeconfig=str(self.options.kubeconfig or ""), context=self.options.context
                )
            else:
                known = ", ".join(sorted(self.settings.targets)) or "none"
                raise errors.ConfigError(
                    f"target {name!r} is not declared in {self.options.config_file} "
                    f"(declared: {known})"
                )
        return target_registry.create(
            target_registry.Request(
                name=name, type=declared.type, options=declared.options(), state_dir=state
            )
        )

    def decryption(self, key_ref: str, app: str) -> sops.Decryption:
        """The SOPS keys named ``key_ref`` in the configuration, read on first use."""
        if key_ref not in self._decryption:
            declared = self.settings.decryption_keys.get(key_ref)
            if declared is None:
                known = ", ".join(sorted(self.settings.decryption_keys)) or "none"
                raise errors.ConfigError(
                    f"Application {app}: decryption key {key_ref!r} is not declared in the "
                    f"agent configuration (declared: {known})"
                )
            self._decryption[key_ref] = sops.Decryption.parse(
                declared.as_spec(), f"decryptionKeys.{key_ref}"
            )
        return self._decryption[key_ref]

    def signature_policy(self, key_ref: str, app: str) -> source_base.SignaturePolicy:
        """The keys allowed to sign commits named ``key_ref`` in the configuration."""
        if key_ref not in self._signing:
            declared = self.settings.signing_keys.get(key_ref)
            if declared is None:
                known = ", ".join(sorted(self.settings.signing_keys)) or "none"
                raise errors.ConfigError(
                    f"Application {app}: signing keys {key_ref!r} are not declared in the "
                    f"agent configuration (declared: {known})"
                )
            gpg = _read_keys(declared.gpg_public_keys_file, key_ref)
            ssh = _read_keys(declared.ssh_allowed_signers_file, key_ref)
            self._signing[key_ref] = source_base.SignaturePolicy(
                gpg_public_keys=(gpg,) if gpg else (),
                ssh_allowed_signers=tuple(
                    line for line in ssh.splitlines() if line.strip() and not line.startswith("#")
                ),
            )
        return self._signing[key_ref]

    async def forget(self, name: str) -> None:
        """Close the connection to target ``name``; the next use connects anew
        (its settings changed, or it was unregistered)."""
        target = self._targets.pop(name, None)
        if target is not None:
            await target.close()

    async def close(self) -> None:
        if self._charts is not None:
            await self._charts.close()
        for target in self._targets.values():
            await target.close()
        self._targets.clear()


def _same_transport(pattern: str, url: str) -> bool:
    # Only with credentials configured: the webhooks package costs ~10 ms to import.
    from gitward.source import webhooks as source_webhooks

    # An ssh key is never offered to an https URL of the same host, nor a password to ssh.
    return source_webhooks.glob_matches(pattern, url, same_transport=True)


def _secret(env: str, file: str) -> source_credentials.SecretRef | None:
    if env:
        return source_credentials.SecretRef(env=env)
    if file:
        return source_credentials.SecretRef(file=Path(file).expanduser())
    return None


def _credentials(
    found: config_settings.RepositoryCredentials,
) -> source_credentials.Credentials | None:
    if found.ssh_key_file:
        return source_credentials.SshCredentials(
            private_key=Path(found.ssh_key_file).expanduser(),
            passphrase=_secret(found.ssh_key_passphrase_env, ""),
            known_hosts=Path(found.known_hosts_file).expanduser()
            if found.known_hosts_file
            else None,
            username=found.username or "git",
        )
    password = _secret(found.password_env, found.password_file)
    if password is None:
        return None
    return source_credentials.HttpsCredentials(password=password, username=found.username or "git")


def _read_keys(path: str, key_ref: str) -> str:
    if not path:
        return ""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.ConfigError(
            f"signingKeys.{key_ref}: cannot read {path}: {exc.strerror}"
        ) from None
