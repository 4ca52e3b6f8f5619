"""Build a connection to a Kubernetes API from a kubeconfig context or in-cluster.

Called by :meth:`KubernetesTarget.connect` once per target. lightkube parses the
kubeconfig and builds the HTTP client (TLS verification with the cluster's CA,
``insecure-skip-tls-verify``, client certificates, bearer tokens and token
files); this module adds gitward's policy on top:

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2
import lightkube
import yaml
from lightkube.config import kubeconfig as lk_kubeconfig
from lightkube.config import models as lk_models
from lightkube.core import exceptions as lk_exceptions

import gitward
from gitward import errors
from gitward.targets import base as targets_base
from gitward.targets.kubernetes import requesting

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


@dataclass(frozen=True, slots=True)
class Connection:
    client: lightkube.AsyncClient
    api: requesting.Api
    server: str
    namespace: str  # the context's default namespace

    async def close(self) -> None:
        await self.client.close()


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


def connect(settings: Settings) -> Connection:
    """A connection for ``settings``; no request is sent yet."""
    single = load(settings)
    timeout = httpx2.Timeout(settings.timeout)
    try:
        client = lightkube.AsyncClient(
            config=single, timeout=timeout, field_manager="gitward", trust_env=False
        )
    except (lk_exceptions.ConfigError, OSError, ValueError) as exc:
        raise errors.ConfigError(f"{_where(settings)}: {type(exc).__name__}: {exc}") from exc
    # lightkube keeps its httpx2 client private; gitward sends its own raw
    # requests (discovery, deletes with preconditions, watches with bookmarks)
    # over the same pool, TLS and auth instead of configuring a second client.
    http: httpx2.AsyncClient = client._client._client
    http.event_hooks = {**http.event_hooks, "request": [*http.event_hooks["request"], _stamp]}
    server = str(single.cluster.server).rstrip("/")
    return Connection(
        client=client,
        api=requesting.Api(http, server),
        server=server,
        namespace=single.namespace,
    )
