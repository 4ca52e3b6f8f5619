"""The Application and Project schemas: what users declare in Git.

An Application says where its desired state lives (a repository, a ref, a
path), how to render it, where to apply it, and how to keep it there. A
Project is the tenancy boundary its Applications are held to.

Callers load YAML safely and pass the document to :func:`parse` (or
:func:`parse_project`); a bad document raises :class:`gitward.errors.ConfigError`
naming the file and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from gitward import errors
from gitward.config import base, durations, rendering

API_VERSION = "gitward.dev/v1"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_dns_label(value: str, what: str = "name") -> str:
    """``value`` if it is an RFC 1123 label (how Kubernetes names namespaces)."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{what} {value!r} must be a DNS label: at most 63 characters, lowercase "
            "letters, digits and '-', starting and ending with a letter or digit"
        )
    return value


class Metadata(base.Spec):
    name: str = Field(description="Application name; a DNS label, unique in the agent.")
    project: str = Field("default", description="Project the Application belongs to.")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("name", "project")
    @classmethod
    def _label(cls, value: str) -> str:
        return check_dns_label(value)


class Verify(base.Spec):
    """Require every applied commit to be signed by a key of the agent's
    ``signingKeys`` entry named ``keyRef``."""

    key_ref: str = Field(alias="keyRef")


class Source(base.Spec):
    """Where desired state comes from: a Git repository (``ref``, ``path``), a chart
    in a Helm repository (``chart``, ``version``) or a chart in an OCI registry
    (``repoURL: oci://...``, ``version``)."""

    repo_url: str = Field(
        alias="repoURL",
        description=(
            "Git repository URL (https, ssh, git, file), Helm repository URL (with "
            "`chart`), or `oci://registry/path/chart` (optionally `@sha256:<digest>`)."
        ),
    )
    ref: str = Field(
        "HEAD",
        description="Git: branch, tag, semver range over tags (`>=1.2 <2`), or commit sha.",
    )
    path: str = Field("", description="Git: directory inside the repository; '' is the root.")
    verify: Verify | None = Field(None, description="Git: require signed commits.")
    chart: str = Field(
        "", description="Name of the chart in the Helm repository `repoURL` (not for oci://)."
    )
    version: str = Field(
        "",
        description=(
            "Chart version: exact (`4.11.2`), semver range (`>=4.10 <5`), or '' for the "
            "newest stable version."
        ),
    )
    name: str = Field(
        "",
        description=(
            "In `spec.sources`: names this source so render options can reference its "
            "files as `$<name>/path` (Helm `valueFiles`); a named source is not rendered."
        ),
    )
    render: rendering.Render | None = Field(
        None,
        description="In `spec.sources`: how to render this source (default: `spec.render`).",
    )

    @field_validator("repo_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("repoURL is empty")
        return value.strip()

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        cleaned = value.strip().strip("/") if value not in ("", ".") else ""
        if value.startswith("/"):
            raise ValueError(f"path {value!r} must be relative to the repository root")
        if any(part == ".." for part in cleaned.split("/")):
            raise ValueError(f"path {value!r} must not contain '..'")
        if "\x00" in value:
            raise ValueError("path contains a NUL byte")
        return "" if cleaned == "." else cleaned

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_dns_label(value, "source name") if value else value

    @model_validator(mode="after")
    def _kind(self) -> Source:
        oci = self.repo_url.startswith("oci://")
        if oci:
            rest = self.repo_url[len("oci://") :].partition("@")[0].strip("/")
            if "/" not in rest:
                raise ValueError(f"repoURL {self.repo_url!r}: expected oci://host/path/chart")
            if self.chart:
                raise ValueError(
                    "an oci:// repoURL names the chart itself (oci://host/path/chart); drop `chart`"
                )
        if oci or self.chart:
            what = "chart source"
            if self.ref != "HEAD":
                raise ValueError(f"a {what} takes `version`, not `ref`")
            if self.path:
                raise ValueError(f"a {what} has no `path` (the chart is the archive's root)")
            if self.verify is not None:
                raise ValueError(f"a {what} has no commit signatures to `verify`")
        elif self.version:
            raise ValueError("`version` is for charts: set `chart` (or an oci:// repoURL)")
        return self

    @property
    def is_chart(self) -> bool:
        return bool(self.chart) or self.repo_url.startswith("oci://")

    @property
    def wanted(self) -> str:
        """What the source follows: the Git ref, or the chart version ('' = newest)."""
        return (self.version or "*") if self.is_chart else self.ref


class Destination(base.Spec):
    target: str = Field(description="Name of a target declared in the agent's configuration.")
    namespace: str = Field("default", description="Namespace for objects that declare none.")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return check_dns_label(value, "namespace")


class Automated(base.Spec):
    prune: bool = Field(False, description="Delete managed objects that left Git.")
    self_heal: bool = Field(False, alias="selfHeal", description="Revert live changes.")
    allow_empty: bool = Field(
        False,
        alias="allowEmpty",
        description="Allow a render with no objects to prune everything the app manages.",
    )


class Backoff(base.Spec):
    duration: durations.PositiveDuration = 5.0
    factor: float = Field(2.0, ge=1.0)
    max_duration: durations.PositiveDuration = Field(180.0, alias="maxDuration")


class Retry(base.Spec):
    limit: int = Field(5, ge=0, description="Retries after a failed sync; 0 = none.")
    backoff: Backoff = Field(default_factory=lambda: Backoff())


class SyncPolicy(base.Spec):
    automated: Automated | None = Field(None, description="Sync without a person asking.")
    retry: Retry = Field(default_factory=lambda: Retry())
    interval: durations.PositiveDuration = Field(
        180.0, description="Resync interval: re-plan even without a new commit or event."
    )
    force: bool = Field(
        False,
        description="Take ownership of fields other managers own (server-side apply force).",
    )
    prune: bool = Field(
        False, description="Prune on manual syncs too (automated.prune covers automatic ones)."
    )
    take_over_from: list[str] = Field(
        default_factory=lambda: ["kubectl", "kubectl-*", "before-first-apply"],
        alias="takeOverFrom",
        description=(
            "Field managers (globs) whose fields gitward takes over on a conflict: the "
            "managers people use for manual changes (drift). A conflict with any other "
            "manager fails the resource unless `force` is set."
        ),
    )
    cascade_delete: bool = Field(
        False,
        alias="cascadeDelete",
        description=(
            "When the Application is removed from Git, delete what it manages "
            "(except objects annotated Delete=false). Off: they are left running."
        ),
    )
    health_timeout: durations.PositiveDuration = Field(300.0, alias="healthTimeout")
    create_namespace: bool = Field(
        False,
        alias="createNamespace",
        description=(
            "Create the destination namespace (and any namespace the objects name) when "
            "missing, before anything else; it is not tracked, so never pruned."
        ),
    )

    @property
    def prune_enabled(self) -> bool:
        return self.prune or bool(self.automated and self.automated.prune)

    @property
    def allow_empty(self) -> bool:
        return bool(self.automated and self.automated.allow_empty)


class IgnoreDifference(base.Spec):
    group: str = ""
    kind: str
    name: str = ""
    namespace: str = ""
    json_pointers: list[str] = Field(default_factory=list, alias="jsonPointers")
    managed_fields_managers: list[str] = Field(default_factory=list, alias="managedFieldsManagers")

    @field_validator("json_pointers")
    @classmethod
    def _pointers(cls, value: list[str]) -> list[str]:
        for pointer in value:
            if pointer and not pointer.startswith("/"):
                raise ValueError(f"JSON pointer {pointer!r} must start with '/'")
        return value


class Decryption(base.Spec):
    """SOPS-encrypted files under the Application's path are decrypted at render
    time with the agent's key named ``keyRef`` (settings ``decryptionKeys``)."""

    provider: Literal["sops"] = "sops"
    key_ref: str = Field(alias="keyRef", description="Name of a key in decryptionKeys.")


class PostBuild(base.Spec):
    """Variable substitution after render (``${var}``, ``${var:=default}``)."""

    substitute: dict[str, str] = Field(
        default_factory=dict, description="Variables and their values, highest precedence."
    )
    substitute_from: list[str] = Field(
        default_factory=list,
        alias="substituteFrom",
        description=(
            "Names of the agent's `variables` entries (ConfigMaps or Secrets) to read "
            "variables from; later entries win."
        ),
    )


def _source_optional(schema: dict[str, Any]) -> None:
    # `source` is filled in from `sources` when absent: not required as written.
    required = schema.get("required")
    if isinstance(required, list) and "source" in required:
        required.remove("source")


class ApplicationSpec(base.Spec):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, json_schema_extra=_source_optional
    )

    source: Source = Field(
        description=(
            "The one source; with `sources`, the first source that is rendered (filled in)."
        )
    )
    sources: list[Source] = Field(
        default_factory=list,
        description=(
            "Several sources instead of `source`: rendered ones are combined, named ones "
            "provide files (`$name/...`)."
        ),
    )
    post_build: PostBuild | None = Field(None, alias="postBuild")
    render: rendering.Render = Field(default_factory=lambda: rendering.Render())
    decryption: Decryption | None = None
    destination: Destination
    sync_policy: SyncPolicy = Field(default_factory=lambda: SyncPolicy(), alias="syncPolicy")
    ignore_differences: list[IgnoreDifference] = Field(
        default_factory=list, alias="ignoreDifferences"
    )
    depends_on: list[str] = Field(default_factory=list, alias="dependsOn")
    suspend: bool = False

    @field_validator("depends_on")
    @classmethod
    def _deps(cls, value: list[str]) -> list[str]:
        return [check_dns_label(v, "dependsOn entry") for v in value]

    @model_validator(mode="before")
    @classmethod
    def _one_or_many(cls, data: Any) -> Any:
        # `source` always holds the primary source, so code that follows one
        # repository keeps working; `sources` lists them all.
        if not isinstance(data, Mapping) or not data.get("sources"):
            return data
        listed = data["sources"]
        if not isinstance(listed, list):
            return data
        rendered = [s for s in listed if isinstance(s, Mapping) and not s.get("name")]
        if not rendered:
            raise ValueError("sources: at least one source must be rendered (have no `name`)")
        if data.get("source") not in (None, rendered[0]):
            raise ValueError("declare either `source` or `sources`, not both")
        return {**data, "source": rendered[0]}

    @model_validator(mode="after")
    def _sources(self) -> ApplicationSpec:
        names = [s.name for s in self.sources if s.name]
        if len(names) != len(set(names)):
            raise ValueError(f"sources: names must be unique ({', '.join(names)})")
        if not self.sources and (self.source.name or self.source.render is not None):
            raise ValueError("source: `name` and `render` belong to entries of `sources`")
        return self

    @property
    def all_sources(self) -> list[Source]:
        """Every source, in order (the one ``source`` when ``sources`` is not used)."""
        return list(self.sources) if self.sources else [self.source]


class Application(base.Spec):
    api_version: Literal["gitward.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["Application"]
    metadata: Metadata
    spec: ApplicationSpec

    @property
    def name(self) -> str:
        return self.metadata.name


class ProjectSpec(base.Spec):
    description: str = ""
    signature_key_ref: str = Field(
        "",
        alias="signatureKeyRef",
        description="Every Application of the Project applies only commits signed by these keys.",
    )
    source_repos: list[str] = Field(
        default_factory=lambda: ["*"],
        alias="sourceRepos",
        description="Glob patterns of repository URLs the Applications may use.",
    )
    destinations: list[dict[str, str]] = Field(
        default_factory=lambda: [{"target": "*", "namespace": "*"}],
        description="Allowed (target, namespace) glob pairs.",
    )
    cluster_resource_whitelist: list[dict[str, str]] = Field(
        default_factory=lambda: [{"group": "*", "kind": "*"}],
        alias="clusterResourceWhitelist",
        description="Cluster-scoped kinds the Applications may manage.",
    )


class Project(base.Spec):
    api_version: Literal["gitward.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["Project"]
    metadata: Metadata
    spec: ProjectSpec = Field(default_factory=lambda: ProjectSpec())


def _describe(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(document)"
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return f"{origin}: invalid: " + "; ".join(lines)


def parse(document: Mapping[str, Any], origin: str) -> Application:
    """Validate an Application document; ``origin`` (a file path) names it in errors."""
    if not isinstance(document, Mapping):
        raise errors.ConfigError(f"{origin}: an Application must be a mapping")
    try:
        return Application.model_validate(document)
    except ValidationError as exc:
        raise errors.ConfigError(_describe(exc, origin)) from None


def parse_project(document: Mapping[str, Any], origin: str) -> Project:
    """Validate a Project document; ``origin`` names it in errors."""
    if not isinstance(document, Mapping):
        raise errors.ConfigError(f"{origin}: a Project must be a mapping")
    try:
        return Project.model_validate(document)
    except ValidationError as exc:
        raise errors.ConfigError(_describe(exc, origin)) from None
