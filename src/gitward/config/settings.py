"""The agent's own configuration (``gitward.yaml``): targets, repositories, store.

Applications are not declared here: they live in Git, under ``root`` (app of
apps), so the engine's configuration is GitOps too. This file names only what
must exist before any repository can be read: where to apply, how to
authenticate to repositories, where to keep state.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from gitward import errors
from gitward.config import applications, base, durations, images, quantities
from gitward.config import charts as charts_config
from gitward.config import notifications as notifying
from gitward.config.targets import HostTargetSettings as HostTargetSettings
from gitward.config.targets import KubernetesTargetSettings as KubernetesTargetSettings
from gitward.config.targets import PluginTargetSettings as PluginTargetSettings
from gitward.config.targets import TargetSettings as TargetSettings

UrlMatcher = Callable[[str, str], bool]
"""``matches(glob, url)``: whether a repository URL glob matches a URL."""


class TargetSecretsSettings(base.Spec):
    """Targets registered as Secrets in a management cluster (label
    ``gitward.dev/secret-type: target``): ``data.kubeconfig`` is the cluster's
    kubeconfig, ``data.context`` an optional context, the Secret's other labels
    are the target's labels, and its name (or ``data.name``) the target's."""

    target: str = Field(description="The declared target holding the Secrets.")
    namespace: str = Field("gitward-system", description="Namespace of the Secrets.")
    interval: durations.PositiveDuration = Field(10.0, description="How often they are read.")
    allow_exec: bool = Field(
        False,
        alias="allowExec",
        description="Allow `exec` credential plugins in their kubeconfigs (they run programs).",
    )
    timeout: durations.PositiveDuration = Field(30.0, description="API request timeout.")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return applications.check_dns_label(value, "targetSecrets.namespace")


class ClusterObjectsSettings(base.Spec):
    """Applications and Projects declared as custom resources (``applications.gitward.dev``,
    ``projects.gitward.dev``) in the cluster of ``target``, beside those in Git."""

    target: str = Field(description="The target whose API holds the objects.")
    namespace: str = Field(
        "gitward-system",
        description=(
            "Where Applications declared in Git are mirrored as objects (with their status), "
            "so kubectl lists every Application."
        ),
    )
    namespaces: list[str] = Field(
        default_factory=list,
        description=(
            "Namespaces whose objects are read; [] = every namespace. Whoever may "
            "create Applications in a listed namespace deploys with gitward's rights "
            "(within the Application's Project)."
        ),
    )

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, value: list[str]) -> list[str]:
        return [applications.check_dns_label(v, "namespace") for v in value]

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return applications.check_dns_label(value, "namespace")


class RepositoryCredentials(base.Spec):
    """How to authenticate to repositories whose URL matches ``url`` (a glob).

    Only references are written here: the name of an environment variable or
    the path of a file holding the secret, never the secret itself.
    """

    url: str = Field(description="Glob over repository URLs, e.g. https://git.example.com/org/*")
    username: str = ""
    password_env: str = Field("", alias="passwordEnv")
    password_file: str = Field("", alias="passwordFile")
    ssh_key_file: str = Field("", alias="sshKeyFile")
    ssh_key_passphrase_env: str = Field("", alias="sshKeyPassphraseEnv")
    known_hosts_file: str = Field("", alias="knownHostsFile")
    ca_file: str = Field("", alias="caFile", description="Extra CA bundle for https.")
    token_env: str = Field(
        "", alias="tokenEnv", description="Helm repositories: a bearer token in this variable."
    )
    token_file: str = Field(
        "", alias="tokenFile", description="Helm repositories: a bearer token in this file."
    )
    plain_http: bool = Field(
        False,
        alias="plainHTTP",
        description="OCI registries: speak HTTP, not HTTPS (a registry on loopback only).",
    )


class WebhookSettings(base.Spec):
    """Push webhooks for repositories whose URL matches ``url`` (a glob).

    The shared secret (GitHub/Gitea/Bitbucket HMAC key, GitLab token) is
    referenced, never written here. Unsigned webhooks are refused unless
    ``allowUnsigned`` is set for that URL.
    """

    url: str = Field(description="Glob over repository URLs.")
    secret_env: str = Field("", alias="secretEnv")
    secret_file: str = Field("", alias="secretFile")
    allow_unsigned: bool = Field(False, alias="allowUnsigned")


class DecryptionKey(base.Spec):
    """Where the age identities for SOPS-encrypted files are: a key file and/or an
    environment variable holding ``AGE-SECRET-KEY-1...`` lines.

    Declared here, in the agent's configuration, and only referenced by name
    from Applications (``spec.decryption.keyRef``): a repository never decides
    which file on the agent's machine is read.
    """

    age_key_file: str = Field("", alias="ageKeyFile")
    age_key_env: str = Field("", alias="ageKeyEnv")

    def as_spec(self) -> dict[str, str]:
        spec = {"provider": "sops"}
        if self.age_key_file:
            spec["ageKeyFile"] = str(Path(self.age_key_file).expanduser())
        if self.age_key_env:
            spec["ageKeyEnv"] = self.age_key_env
        return spec


class SigningKeys(base.Spec):
    """Public keys allowed to sign commits, for sources that require signed commits
    (``spec.source.verify.keyRef`` or a Project's ``signatureKeyRef``).

    Files on the agent's machine, named here and referenced by name from Git,
    so a repository can never add its own key to the allowed set.
    """

    gpg_public_keys_file: str = Field(
        "", alias="gpgPublicKeysFile", description="ASCII-armored OpenPGP public keys."
    )
    ssh_allowed_signers_file: str = Field(
        "", alias="sshAllowedSignersFile", description="An OpenSSH allowed-signers file."
    )


class ChartSettings(base.Spec):
    """Limits on charts from Helm repositories and OCI registries."""

    max_archive_bytes: int = Field(
        16 * 1024 * 1024, alias="maxArchiveBytes", ge=1024, description="Largest chart archive."
    )
    max_unpacked_bytes: int = Field(
        64 * 1024 * 1024,
        alias="maxUnpackedBytes",
        ge=1024,
        description="Largest total of a chart's files, uncompressed.",
    )
    timeout: durations.PositiveDuration = Field(
        60.0, description="Time limit of one request to a repository or registry, body included."
    )


class VariableSource(base.Spec):
    """A ConfigMap or Secret whose entries Applications may substitute
    (``spec.postBuild.substituteFrom: [<name>]``). Values from a Secret are
    substituted only into Secrets, so they stay masked everywhere."""

    target: str = Field(description="The target whose API holds the object.")
    namespace: str = Field(description="Its namespace.")
    kind: Literal["ConfigMap", "Secret"] = Field(description="ConfigMap or Secret.")
    name: str = Field(description="Its name.")


class RootSettings(base.Spec):
    repo_url: str = Field(alias="repoURL")
    ref: str = "HEAD"
    path: str = "apps"


class AuthSettings(base.Spec):
    """Who may use the REST API (``gitward.api.auth``).

    Tokens are created with ``gitward token create`` and kept hashed in the
    store; each has a role (``read-only`` or ``admin``) over a list of Projects.
    """

    anonymous: Literal["none", "read-only"] = Field(
        "none",
        description=(
            "What a request without a token may do: 'none' (answer 401) or "
            "'read-only' (read every Project). Health, readiness and the OpenAPI "
            "document are always open; webhooks use their own secrets."
        ),
    )


class DeliveryMetricsSettings(base.Spec):
    """The delivery (DORA) figures (``gitward report delivery``, ``/api/v1/delivery``)."""

    failure_window: durations.PositiveDuration = Field(
        3600.0,
        alias="failureWindow",
        description=(
            "A deployment counts as failed when a failed sync, Degraded health or a "
            "rollback/revert of the Application follows it within this window."
        ),
    )
    window: durations.PositiveDuration = Field(
        30 * 86400.0, description="Default period of the figures (--since)."
    )


class ReplicaSettings(base.Spec):
    """Several ``gitward serve`` sharing the work (``replicas`` in gitward.yaml).

    Off by default (``coordinator: none``): one agent owns every Application.
    With a coordinator, each replica holds a lease, Applications are spread
    over the live replicas (consistent hashing with bounded loads), and every
    write to a target is fenced by the owner's lease. See docs/operations.md.
    """

    coordinator: Literal["none", "kubernetes", "postgresql"] = Field(
        "none",
        description=(
            "'none': a single replica. 'kubernetes': coordination.k8s.io/v1 Leases "
            "(in the cluster of `target`, or in-cluster). 'postgresql': advisory "
            "locks and a members table in the PostgreSQL store."
        ),
    )
    identity: str = Field(
        "",
        description=(
            "This replica's name among the others; '' means the pod name in a "
            "cluster, else host name and process id."
        ),
    )
    target: str = Field(
        "",
        description=(
            "kubernetes: the target (from `targets`) whose cluster holds the Leases; "
            "'' means the cluster gitward runs in (service account)."
        ),
    )
    namespace: str = Field(
        "",
        description=(
            "kubernetes: namespace of the Leases; '' means the pod's own namespace "
            "in-cluster (required with `target`)."
        ),
    )
    group: str = Field(
        "gitward",
        description="Lease group: replicas with the same store must share it.",
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
    )
    lease_duration: durations.PositiveDuration = Field(
        15.0,
        alias="leaseDuration",
        description="How long the others wait after a replica's last renewal before taking over.",
    )
    renew_deadline: durations.PositiveDuration = Field(
        10.0,
        alias="renewDeadline",
        description="A replica stops writing when it could not renew for this long.",
    )
    retry_period: durations.PositiveDuration = Field(
        2.0, alias="retryPeriod", description="Time between renewals and membership reads."
    )
    balance: float = Field(
        0.25,
        ge=0.0,
        le=10.0,
        description=(
            "ε of the bounded loads: no replica owns more than ceil((1+ε)·N/replicas) "
            "of N Applications."
        ),
    )
    advertise: str = Field(
        "",
        description=(
            "URL the other replicas reach this one's API at (actions are forwarded "
            "to the owner); '' means http://<listen>."
        ),
    )

    @model_validator(mode="after")
    def _timings(self) -> ReplicaSettings:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "need retryPeriod < renewDeadline < leaseDuration (got "
                f"{self.retry_period:g}s, {self.renew_deadline:g}s, {self.lease_duration:g}s)"
            )
        return self

    @property
    def enabled(self) -> bool:
        return self.coordinator != "none"


class Settings(base.Spec):
    targets: dict[str, TargetSettings] = Field(default_factory=dict)
    repositories: list[RepositoryCredentials] = Field(default_factory=list)
    root: RootSettings | None = None
    cluster_objects: ClusterObjectsSettings | None = Field(
        None,
        alias="clusterObjects",
        description="Read Applications and Projects from custom resources too.",
    )
    target_secrets: TargetSecretsSettings | None = Field(
        None,
        alias="targetSecrets",
        description="Also take targets registered as Secrets in a management cluster.",
    )
    store: str = Field("sqlite:///gitward-state.db", description="SQLAlchemy URL of the store.")
    charts: ChartSettings = Field(
        default_factory=lambda: ChartSettings(), description="Chart source limits."
    )
    variables: dict[str, VariableSource] = Field(
        default_factory=dict,
        description="Named ConfigMaps/Secrets Applications may read substitution variables from.",
    )
    cache_dir: str = Field(
        "", alias="cacheDir", description="Git mirrors; '' means $XDG_CACHE_HOME/gitward."
    )
    fetch_timeout: durations.PositiveDuration = Field(30.0, alias="fetchTimeout")
    poll_interval: durations.PositiveDuration = Field(60.0, alias="pollInterval")
    workers: int = Field(4, ge=1, le=256)
    listen: str = Field("127.0.0.1:8080", description="host:port of the API and webhooks.")
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    signing_keys: dict[str, SigningKeys] = Field(
        default_factory=dict,
        alias="signingKeys",
        description="Named sets of keys allowed to sign commits.",
    )
    image_policies: list[images.ImagePolicy] = Field(
        default_factory=list,
        alias="imagePolicies",
        description="Registries to watch; a newer tag is committed to Git, never applied directly.",
    )
    chart_policies: list[charts_config.ChartPolicy] = Field(
        default_factory=list,
        alias="chartPolicies",
        description="Charts to watch; a newer version is committed to Git, never applied directly.",
    )
    decryption_keys: dict[str, DecryptionKey] = Field(
        default_factory=dict,
        alias="decryptionKeys",
        description="Named SOPS age keys Applications may reference (spec.decryption.keyRef).",
    )
    render_memory_limit: quantities.RenderMemory = Field(
        1 << 30,
        alias="renderMemoryLimit",
        description=(
            "Memory ceiling (private writable memory, RLIMIT_DATA) of every process a render"
            " runs (Helm, kubectl kustomize); over it the render fails with RenderFailed."
        ),
    )
    webhook_max_bytes: int = Field(
        1024 * 1024, alias="webhookMaxBytes", ge=1024, description="Largest accepted body."
    )
    auth: AuthSettings = Field(
        default_factory=lambda: AuthSettings(), description="REST API access."
    )
    notifications: notifying.NotificationSettings = Field(
        default_factory=lambda: notifying.NotificationSettings(),
        description="Providers (where to send) and alerts (which events, for whom).",
    )
    delivery_metrics: DeliveryMetricsSettings = Field(
        default_factory=lambda: DeliveryMetricsSettings(),
        alias="deliveryMetrics",
        description="How the delivery (DORA) figures are computed.",
    )
    replicas: ReplicaSettings = Field(
        default_factory=lambda: ReplicaSettings(),
        description="Several agents sharing the work; off by default.",
    )

    @field_validator("targets")
    @classmethod
    def _target_names(cls, value: dict[str, TargetSettings]) -> dict[str, TargetSettings]:
        for name in value:
            applications.check_dns_label(name, "target name")
        return value

    @model_validator(mode="after")
    def _cluster_roles_need_clusters(self) -> Settings:
        wanted = {
            "targetSecrets.target": self.target_secrets.target if self.target_secrets else "",
            "clusterObjects.target": self.cluster_objects.target if self.cluster_objects else "",
            "replicas.target": self.replicas.target,
        }
        for field, name in wanted.items():
            declared = self.targets.get(name) if name else None
            if declared is not None and declared.type != "kubernetes":
                raise ValueError(
                    f"{field} {name!r} is a {declared.type} target; it must be a kubernetes one"
                )
        return self

    @model_validator(mode="after")
    def _target_secrets_target(self) -> Settings:
        wanted = self.target_secrets.target if self.target_secrets else None
        if wanted is not None and wanted not in self.targets:
            known = ", ".join(sorted(self.targets)) or "none"
            raise ValueError(
                f"targetSecrets.target {wanted!r} is not a declared target (declared: {known})"
            )
        return self

    @model_validator(mode="after")
    def _cluster_target(self) -> Settings:
        wanted = self.cluster_objects.target if self.cluster_objects else None
        if wanted is not None and wanted not in self.targets:
            known = ", ".join(sorted(self.targets)) or "none"
            raise ValueError(
                f"clusterObjects.target {wanted!r} is not a declared target (declared: {known})"
            )
        return self

    @model_validator(mode="after")
    def _replicas_need_a_shared_store(self) -> Settings:
        replicas = self.replicas
        if replicas.enabled and not self.store.startswith(("postgresql", "postgres")):
            raise ValueError(
                f"replicas.coordinator {replicas.coordinator}: replicas share a PostgreSQL "
                "store; SQLite runs a single replica"
            )
        if replicas.target and replicas.target not in self.targets:
            raise ValueError(f"replicas.target {replicas.target!r} is not one of `targets`")
        if replicas.coordinator == "kubernetes" and replicas.target and not replicas.namespace:
            raise ValueError("replicas.namespace is required with replicas.target")
        return self

    def webhook_for(
        self, repo_url: str, matches: UrlMatcher | None = None
    ) -> WebhookSettings | None:
        """The first webhook entry whose glob matches ``repo_url``.

        ``matches(glob, url)`` defaults to a plain glob match; the engine
        passes ``source.webhooks.glob_matches``, which normalises both sides
        (payloads name their repository by a scheme-less key).
        """
        match = matches or _glob
        return next((w for w in self.webhooks if match(w.url, repo_url)), None)

    def credentials_for(
        self, repo_url: str, matches: UrlMatcher | None = None
    ) -> RepositoryCredentials | None:
        """The first credentials entry whose glob matches ``repo_url`` (see
        :meth:`webhook_for` for ``matches``)."""
        match = matches or _glob
        return next((c for c in self.repositories if match(c.url, repo_url)), None)


def _glob(pattern: str, url: str) -> bool:
    return fnmatch.fnmatchcase(url, pattern)


def parse(document: Mapping[str, Any] | None, origin: str) -> Settings:
    """Validate the agent configuration; ``origin`` names the file in errors."""
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise errors.ConfigError(f"{origin}: the configuration must be a mapping")
    try:
        return Settings.model_validate(document)
    except ValidationError as exc:
        raise errors.ConfigError(applications._describe(exc, origin)) from None
