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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gitward import errors
from gitward.config import durations

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


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Metadata(_Spec):
    name: str = Field(description="Application name; a DNS label, unique in the agent.")
    project: str = Field("default", description="Project the Application belongs to.")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("name", "project")
    @classmethod
    def _label(cls, value: str) -> str:
        return check_dns_label(value)


class Verify(_Spec):
    """Require every applied commit to be signed by a key of the agent's
    ``signingKeys`` entry named ``keyRef``."""

    key_ref: str = Field(alias="keyRef")


class Source(_Spec):
    repo_url: str = Field(
        alias="repoURL", description="Git repository URL (https, ssh, git, file)."
    )
    ref: str = Field(
        "HEAD",
        description="Branch, tag, semver range over tags (`>=1.2 <2`), or commit sha.",
    )
    path: str = Field("", description="Directory inside the repository; '' is the root.")
    verify: Verify | None = Field(None, description="Require signed commits.")

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


class DirectoryOptions(_Spec):
    recurse: bool = Field(True, description="Read subdirectories too.")
    include: list[str] = Field(default_factory=list, description="Glob patterns to keep.")
    exclude: list[str] = Field(default_factory=list, description="Glob patterns to skip.")


class KustomizeOptions(_Spec):
    name_prefix: str = Field("", alias="namePrefix")
    name_suffix: str = Field("", alias="nameSuffix")
    namespace: str = Field("", description="Override the namespace of every object.")
    images: list[str] = Field(
        default_factory=list, description="Image overrides, `name=newName:tag` or `name:tag`."
    )
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    allow_remote_bases: bool = Field(
        False,
        alias="allowRemoteBases",
        description="Allow remote (URL/git) resources; off by default (network, supply chain).",
    )


class HelmOptions(_Spec):
    release_name: str = Field("", alias="releaseName", description="Defaults to the app name.")
    value_files: list[str] = Field(
        default_factory=list,
        alias="valueFiles",
        description="Values files, relative to the Application's path, inside the repository.",
    )
    values: dict[str, Any] = Field(default_factory=dict, description="Inline values (last wins).")
    set: list[str] = Field(default_factory=list, description="`key=value` overrides.")
    include_crds: bool = Field(True, alias="includeCRDs")
    kube_version: str = Field("", alias="kubeVersion")
    api_versions: list[str] = Field(default_factory=list, alias="apiVersions")


class JsonnetOptions(_Spec):
    tlas: dict[str, Any] = Field(
        default_factory=dict,
        description="Top-level arguments: strings as strings, other values as Jsonnet code.",
    )
    ext_vars: dict[str, Any] = Field(
        default_factory=dict,
        alias="extVars",
        description="External variables (std.extVar), typed as tlas are.",
    )
    libs: list[str] = Field(
        default_factory=list,
        description="Library directories searched by imports (repository paths, in order).",
    )
    recurse: bool = Field(True, description="Read subdirectories too.")
    include: list[str] = Field(default_factory=list, description="Glob patterns to keep.")
    exclude: list[str] = Field(default_factory=list, description="Glob patterns to skip.")


_RENDERERS = ("directory", "kustomize", "helm", "jsonnet")


class Render(_Spec):
    """At most one of the renderers; none means auto-detect (Chart.yaml → helm,
    kustomization.yaml → kustomize, *.jsonnet → jsonnet, otherwise a directory
    of manifests)."""

    directory: DirectoryOptions | None = None
    kustomize: KustomizeOptions | None = None
    helm: HelmOptions | None = None
    jsonnet: JsonnetOptions | None = None
    timeout: durations.PositiveDuration = Field(60.0, description="Render time limit.")

    @model_validator(mode="after")
    def _one(self) -> Render:
        chosen = [n for n in _RENDERERS if getattr(self, n) is not None]
        if len(chosen) > 1:
            raise ValueError(f"render declares {', '.join(chosen)}: choose one")
        return self

    @property
    def kind(self) -> str | None:
        for name in _RENDERERS:
            if getattr(self, name) is not None:
                return name
        return None

    def options(self) -> dict[str, Any]:
        """The chosen renderer's options as the render stage reads them (camelCase)."""
        kind = self.kind
        if kind is None:
            return {}
        chosen: BaseModel = getattr(self, kind)
        return chosen.model_dump(by_alias=True)


class Destination(_Spec):
    target: str = Field(description="Name of a target declared in the agent's configuration.")
    namespace: str = Field("default", description="Namespace for objects that declare none.")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return check_dns_label(value, "namespace")


class Automated(_Spec):
    prune: bool = Field(False, description="Delete managed objects that left Git.")
    self_heal: bool = Field(False, alias="selfHeal", description="Revert live changes.")
    allow_empty: bool = Field(
        False,
        alias="allowEmpty",
        description="Allow a render with no objects to prune everything the app manages.",
    )


class Backoff(_Spec):
    duration: durations.PositiveDuration = 5.0
    factor: float = Field(2.0, ge=1.0)
    max_duration: durations.PositiveDuration = Field(180.0, alias="maxDuration")


class Retry(_Spec):
    limit: int = Field(5, ge=0, description="Retries after a failed sync; 0 = none.")
    backoff: Backoff = Field(default_factory=lambda: Backoff())


class SyncPolicy(_Spec):
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


class IgnoreDifference(_Spec):
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


class Decryption(_Spec):
    """SOPS-encrypted files under the Application's path are decrypted at render
    time with the agent's key named ``keyRef`` (settings ``decryptionKeys``)."""

    provider: Literal["sops"] = "sops"
    key_ref: str = Field(alias="keyRef", description="Name of a key in decryptionKeys.")


class ApplicationSpec(_Spec):
    source: Source
    render: Render = Field(default_factory=lambda: Render())
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


class Application(_Spec):
    api_version: Literal["gitward.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["Application"]
    metadata: Metadata
    spec: ApplicationSpec

    @property
    def name(self) -> str:
        return self.metadata.name


class ProjectSpec(_Spec):
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


class Project(_Spec):
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
