"""Notifications in ``gitward.yaml``: providers (where to send) and alerts (what, for whom).

``notifications.providers`` names each receiver; ``notifications.alerts`` route
events to them. Alerts may also be declared as ``kind: Alert`` documents in the
Git root (:func:`parse_alert_document`), so routing is GitOps too; providers
are only declared here, because they hold references to secrets, and a
repository must never decide where a secret goes.

Secrets are referenced (``secretEnv``/``secretFile``, ``tokenEnv``/``tokenFile``,
``passwordEnv``/``passwordFile``), never written in the file. The engine
(:mod:`gitward.engine.notifications`) reads and delivers.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from gitward import errors
from gitward.config import applications, base, durations

ProviderType = Literal[
    "webhook",
    "slack",
    "msteams",
    "discord",
    "email",
    "github",
    "gitlab",
    "gitea",
    "forgejo",
    "bitbucket",
]
_MAX_TEMPLATE = 4000
COMMIT_STATUS_TYPES = frozenset({"github", "gitlab", "gitea", "forgejo", "bitbucket"})
_DEFAULT_URLS = {
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com",
    "bitbucket": "https://api.bitbucket.org",
    "slack": "https://slack.com/api/chat.postMessage",
}


class ProviderSettings(base.Spec):
    """One receiver of notifications.

    ``url`` is the webhook (webhook, slack incoming webhook, msteams Workflows
    webhook, discord), the API base (github, gitlab, gitea/forgejo, bitbucket;
    defaults to the public service) or, for slack with a bot token, the
    ``chat.postMessage`` endpoint. ``email`` uses ``address`` (SMTP host:port).
    """

    type: ProviderType
    url: str = ""
    url_env: str = Field(
        "",
        alias="urlEnv",
        description="The URL from an environment variable (incoming-webhook URLs are secrets).",
    )
    url_file: str = Field("", alias="urlFile", description="The URL from a file.")
    secret_env: str = Field("", alias="secretEnv", description="Webhook HMAC key (env var).")
    secret_file: str = Field("", alias="secretFile", description="Webhook HMAC key (file).")
    token_env: str = Field("", alias="tokenEnv", description="API or bot token (env var).")
    token_file: str = Field("", alias="tokenFile", description="API or bot token (file).")
    channel: str = Field("", description="slack chat.postMessage: the channel id or name.")
    username: str = Field(
        "", description="bitbucket: the user of an app password; email: the SMTP login."
    )
    password_env: str = Field("", alias="passwordEnv", description="SMTP password (env var).")
    password_file: str = Field("", alias="passwordFile", description="SMTP password (file).")
    address: str = Field("", description="email: SMTP server host:port (STARTTLS).")
    sender: str = Field("", alias="from", description="email: the From address.")
    to: list[str] = Field(default_factory=list, description="email: recipients.")
    ca_file: str = Field("", alias="caFile", description="Extra CA bundle (https and SMTP TLS).")
    timeout: durations.PositiveDuration = Field(10.0, description="Per-request timeout.")
    rate_limit: int = Field(
        60, alias="rateLimit", ge=1, description="At most this many deliveries per minute."
    )
    allow_link_local: bool = Field(
        False,
        alias="allowLinkLocal",
        description=(
            "Allow a URL that resolves to a link-local or cloud metadata address "
            "(169.254.0.0/16, fe80::/10, fd00:ec2::254); refused by default."
        ),
    )

    @model_validator(mode="after")
    def _complete(self) -> ProviderSettings:
        if self.type == "email":
            if not self.address or not self.sender or not self.to:
                raise ValueError("an email provider needs address (host:port), from and to")
            host, _, port = self.address.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"email address {self.address!r} must be host:port")
            return self
        has_token = bool(self.token_env or self.token_file)
        if self.type in ("github", "gitlab", "gitea", "forgejo", "bitbucket") and not has_token:
            raise ValueError(f"a {self.type} provider needs tokenEnv or tokenFile")
        if self.type == "slack" and has_token and not self.channel:
            raise ValueError("a slack provider with a bot token needs channel")
        if self.url_env or self.url_file:
            if self.url:
                raise ValueError("give url, urlEnv or urlFile, not several")
            return self
        if not self.url and self.type not in _DEFAULT_URLS:
            raise ValueError(f"a {self.type} provider needs url (or urlEnv/urlFile)")
        if self.type == "slack" and not self.url and not has_token:
            raise ValueError("a slack provider needs an incoming-webhook url or a bot token")
        url = self.url or _DEFAULT_URLS[self.type]
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"provider url {url!r} must start with https:// or http://")
        return self

    @property
    def endpoint(self) -> str:
        """The URL, or the service's public default."""
        return self.url or _DEFAULT_URLS.get(self.type, "")

    @property
    def commit_status(self) -> bool:
        return self.type in COMMIT_STATUS_TYPES


class AlertSpec(base.Spec):
    """Which events go to which provider, for which Applications, in what words.

    ``events``: event reasons (SyncStarted, SyncSucceeded, SyncFailed,
    DriftDetected, DriftCorrected, HealthDegraded, Deployed, RolledBack,
    ImageUpdated ...) or globs (``"*"``, ``"Sync*"``). ``applications``:
    names or globs; ``projects`` and ``labels`` narrow further (every label
    pair must match). ``template``: a Jinja2 message template (sandboxed);
    empty means the provider's default.
    """

    provider: str
    events: list[str] = Field(default_factory=lambda: ["*"])
    applications: list[str] = Field(default_factory=lambda: ["*"])
    projects: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    template: str = ""
    name: str = Field("", description="Shown in the delivery log; defaults to alert-<n>.")

    @field_validator("template")
    @classmethod
    def _template_compiles(cls, value: str) -> str:
        if len(value) > _MAX_TEMPLATE:
            raise ValueError(f"template is longer than {_MAX_TEMPLATE} characters")
        if value:
            import jinja2.sandbox  # only a configuration with templates pays for its import

            try:
                jinja2.sandbox.ImmutableSandboxedEnvironment().parse(value)
            except jinja2.TemplateSyntaxError as exc:
                raise ValueError(f"template line {exc.lineno}: {exc.message}") from None
        return value

    def matches(self, reason: str, app: str, project: str, labels: Mapping[str, str]) -> bool:
        """Whether an event ``reason`` of Application ``app`` goes to this alert."""
        if not any(fnmatch.fnmatchcase(reason, e) for e in self.events):
            return False
        if not any(fnmatch.fnmatchcase(app, a) for a in self.applications):
            return False
        if self.projects and project not in self.projects:
            return False
        return all(labels.get(k) == v for k, v in self.labels.items())


class Backoff(base.Spec):
    duration: durations.PositiveDuration = 2.0
    factor: float = Field(2.0, ge=1.0)
    max_duration: durations.PositiveDuration = Field(300.0, alias="maxDuration")


class DeliverySettings(base.Spec):
    """How the outbox delivers (see ``gitward.engine.notifications.delivering``)."""

    max_attempts: int = Field(
        8, alias="maxAttempts", ge=1, le=100, description="Give up after this many attempts."
    )
    backoff: Backoff = Field(default_factory=lambda: Backoff())
    dedup_window: durations.Duration = Field(
        60.0,
        alias="dedupWindow",
        ge=0,
        description="The same event for the same alert within this window is sent once.",
    )
    outbox_limit: int = Field(
        10_000,
        alias="outboxLimit",
        ge=10,
        description="Most undelivered notifications kept; beyond, the oldest are dropped.",
    )
    keep: int = Field(5_000, ge=10, description="Finished deliveries kept in the delivery log.")


class NotificationSettings(base.Spec):
    external_url: str = Field(
        "",
        alias="externalURL",
        description="Base URL of gitward's UI; notifications and commit statuses link to it.",
    )
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    alerts: list[AlertSpec] = Field(default_factory=list)
    delivery: DeliverySettings = Field(default_factory=lambda: DeliverySettings())

    @model_validator(mode="after")
    def _known_providers(self) -> NotificationSettings:
        for index, alert in enumerate(self.alerts):
            if alert.provider not in self.providers:
                raise ValueError(
                    f"alerts[{index}] names provider {alert.provider!r}, which is not "
                    "declared under notifications.providers "
                    f"({', '.join(sorted(self.providers)) or 'none'})"
                )
        return self

    def named_alerts(self) -> list[tuple[str, AlertSpec]]:
        """The alerts with their log names (``name`` or ``alert-<index>``)."""
        return [(a.name or f"alert-{i}", a) for i, a in enumerate(self.alerts)]


class AlertMetadata(base.Spec):
    name: str

    @field_validator("name")
    @classmethod
    def _label(cls, value: str) -> str:
        return applications.check_dns_label(value, "Alert name")


class AlertDocument(base.Spec):
    """``kind: Alert`` in the Git root: ``spec`` is an :class:`AlertSpec`."""

    api_version: Literal["gitward.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["Alert"]
    metadata: AlertMetadata
    spec: AlertSpec


def parse_alert_document(document: Mapping[str, Any], origin: str) -> AlertSpec:
    """The alert a ``kind: Alert`` document declares; named after its metadata."""
    try:
        parsed = AlertDocument.model_validate(document)
    except ValidationError as exc:
        raise errors.ConfigError(applications._describe(exc, origin)) from None
    return parsed.spec.model_copy(update={"name": parsed.spec.name or parsed.metadata.name})
