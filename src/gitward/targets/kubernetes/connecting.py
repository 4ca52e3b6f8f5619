"""Build a connection to a Kubernetes API from a kubeconfig context or in-cluster.

Called by :meth:`KubernetesTarget.connect` once per target. lightkube parses the
kubeconfig and supplies TLS verification (the cluster's CA,
``insecure-skip-tls-verify``, client certificates) and the auth flows (bearer
tokens, token files, exec plugins); requests go through an httpx2 client over
gitward's own HTTP/1.1 transport (``transport``). This module adds gitward's
policy on top:

* users with an ``exec`` credential plugin or an ``auth-provider`` are refused
  unless the target explicitly allows them (``allow_exec``): a kubeconfig taken
  from Git or a shared volume must not be able to make gitward run a program;
* every request has a bounded timeout (watches bound only the silence between
  two events, see ``watching``);
* problems are reported as :class:`gitward.errors.ConfigError` naming the
  kubeconfig path, context and user, never a credential.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2
import lightkube
import yaml
from lightkube.config import client_adapter as lk_adapter
from lightkube.config import kubeconfig as lk_kubeconfig
from lightkube.config import models as lk_models
from lightkube.core import exceptions as lk_exceptions

import gitward
from gitward import errors
from gitward.targets import base as targets_base
from gitward.targets.kubernetes import requesting, transport

DEFAULT_TIMEOUT = 10.0
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True, slots=True)
class Settings:
    """How to reach one cluster.

    ``kubeconfig`` None with ``in_cluster`` True uses the pod's service account.
    ``context`` None uses the kubeconfig's ``current-context``.
    ``timeout`` bounds connect and each request (seconds).
    """

    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False
    allow_exec: bool = False
    timeout: float = DEFAULT_TIMEOUT
    service_account_dir: Path = SERVICE_ACCOUNT_DIR
    # Where KUBERNETES_SERVICE_HOST/PORT are read (None: the process environment).
    environ: Mapping[str, str] | None = None


class Connection:
    """The HTTP client gitward's requests go through (``api``), and a lightkube
    client over the same settings, built on first use (leases need one; a
    one-shot sync never does)."""

    def __init__(
        self, single: lk_kubeconfig.SingleConfig, api: requesting.Api, where: str, timeout: float
    ) -> None:
        self._single = single
        self._where = where
        self._timeout = timeout
        self._client: lightkube.AsyncClient | None = None
        self.api = api
        self.server = api.server
        self.namespace: str = single.namespace  # the context's default namespace

    @property
    def client(self) -> lightkube.AsyncClient:
        if self._client is None:
            try:
                self._client = lightkube.AsyncClient(
                    config=self._single,
                    timeout=httpx2.Timeout(self._timeout),
                    field_manager="gitward",
                    trust_env=False,
                    transport=transport.Transport(_tls(self._single, self._where)),
                )
            except (lk_exceptions.ConfigError, OSError, ValueError) as exc:
                raise errors.ConfigError(f"{self._where}: {type(exc).__name__}: {exc}") from exc
        return self._client

    async def close(self) -> None:
        await self.api.close()
        if self._client is not None:
            await self._client.close()


def _where(settings: Settings) -> str:
    if settings.in_cluster:
        return f"in-cluster service account {settings.service_account_dir}"
    context = settings.context or "current-context"
    return f"kubeconfig {settings.kubeconfig} (context {context})"


def load(settings: Settings) -> lk_kubeconfig.SingleConfig:
    """The selected context of the kubeconfig, after gitward's policy checks."""
    where = _where(settings)
    try:
        if settings.in_cluster:
            config = _in_cluster(settings, where)
        else:
            if settings.kubeconfig is None:
                raise errors.ConfigError("a Kubernetes target needs a kubeconfig or in_cluster")
            config = lk_kubeconfig.KubeConfig.from_file(settings.kubeconfig)
        single = config.get(settings.context)
    except errors.ConfigError:
        raise
    except lk_exceptions.ConfigError as exc:
        raise errors.ConfigError(f"{where}: {exc}") from exc
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        # Only the exception type: parser messages quote the file, which may
        # hold a token.
        raise errors.ConfigError(f"{where}: unreadable kubeconfig: {type(exc).__name__}") from exc
    if single is None:
        raise errors.ConfigError(f"{where}: no context selected")
    user = single.user
    user_name = single.context.user or "(none)"
    if user is not None and not settings.allow_exec:
        if user.exec is not None:
            raise errors.ConfigError(
                f"{where}: user {user_name} uses an exec credential plugin "
                f"({user.exec.command}); refused unless the target sets allowExec"
            )
        if user.auth_provider is not None:
            raise errors.ConfigError(
                f"{where}: user {user_name} uses an auth-provider; refused unless the "
                "target sets allowExec"
            )
    if user is not None and user.auth_provider is not None:
        # lightkube has no auth-provider support; say so now rather than on
        # the first request.
        raise errors.ConfigError(f"{where}: user {user_name}: auth-provider is not supported")
    return single


def _in_cluster(settings: Settings, where: str) -> lk_kubeconfig.KubeConfig:
    """The pod's identity: the API address from the environment Kubernetes sets,
    the token (re-read on every request: projected tokens rotate), CA and
    namespace from the service account directory."""
    environ = os.environ if settings.environ is None else settings.environ
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise errors.ConfigError(
            f"{where}: not running in a cluster (KUBERNETES_SERVICE_HOST is unset)"
        )
    folder = settings.service_account_dir
    missing = [n for n in ("token", "ca.crt") if not (folder / n).is_file()]
    if missing:
        raise errors.ConfigError(f"{where}: {', '.join(missing)} missing (no service account?)")
    namespace_file = folder / "namespace"
    namespace = (
        namespace_file.read_text(encoding="utf-8").strip() if namespace_file.is_file() else ""
    )
    if ":" in host:
        host = f"[{host}]"
    return lk_kubeconfig.KubeConfig.from_one(
        cluster=lk_models.Cluster(
            server=f"https://{host}:{port}", certificate_auth=str(folder / "ca.crt")
        ),
        user=lk_models.User(token_file=str(folder / "token")),
        namespace=namespace or "default",
    )


_USER_AGENT = f"gitward/{gitward.__version__}"


async def _stamp(request: httpx2.Request) -> None:
    # Per request, not per client: one target serves every Application, and
    # the engine sets who is writing (replica, fence) for the task at hand.
    who = targets_base.attribution.get()
    request.headers["User-Agent"] = f"{_USER_AGENT} ({who})" if who else _USER_AGENT


def _tls(single: lk_kubeconfig.SingleConfig, where: str) -> ssl.SSLContext | None:
    """The TLS context for the cluster (its CA or the system's, client
    certificate, ``insecure-skip-tls-verify``); None for a plain-HTTP server."""
    if not str(single.cluster.server).startswith("https:"):
        return None
    try:
        return lk_adapter.verify_cluster(
            single.cluster, single.user or lk_models.User(), single.abs_file, trust_env=False
        )
    except (lk_exceptions.ConfigError, OSError, ValueError) as exc:
        # ssl.SSLError is an OSError: a CA or key file that is not one.
        raise errors.ConfigError(f"{where}: {type(exc).__name__}: {exc}") from exc


def connect(settings: Settings) -> Connection:
    """A connection for ``settings``; no request is sent yet."""
    single = load(settings)
    where = _where(settings)
    server = str(single.cluster.server).rstrip("/")
    try:
        auth = lk_adapter.user_auth(single.user)
    except lk_exceptions.ConfigError as exc:
        raise errors.ConfigError(f"{where}: {exc}") from exc
    http = httpx2.AsyncClient(
        base_url=server,
        auth=auth,
        timeout=httpx2.Timeout(settings.timeout),
        transport=transport.Transport(_tls(single, where)),
        event_hooks={"request": [_stamp]},
        trust_env=False,
    )
    return Connection(single, requesting.Api(http, server), where, settings.timeout)
