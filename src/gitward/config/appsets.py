"""The ApplicationSet schema: many Applications from one template.

An ApplicationSet pairs *generators* (each yields a list of parameter sets:
the elements of a list, the targets whose labels match, the directories or
files of a Git repository, or a combination of two generators) with a
*template* of an Application whose strings may refer to those parameters
(``{{target.name}}``, ``{{path.basename}}``). ``gitward.engine.generating``
turns one into Applications; this module only validates the declaration.

The template is kept as a mapping here, not as an Application: it holds
placeholders, so it is validated as an Application only once rendered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from gitward import errors
from gitward.config import applications, base

_PERCENT = re.compile(r"^(100|[1-9]?[0-9])%$")


class LabelSelector(base.Spec):
    """Kubernetes-style selector over labels (``matchLabels`` and ``matchExpressions``)."""

    match_labels: dict[str, str] = Field(default_factory=dict, alias="matchLabels")
    match_expressions: list[SelectorRequirement] = Field(
        default_factory=list, alias="matchExpressions"
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        return all(requirement.matches(labels) for requirement in self.match_expressions)


class SelectorRequirement(base.Spec):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values(self) -> SelectorRequirement:
        needs_values = self.operator in ("In", "NotIn")
        if needs_values and not self.values:
            raise ValueError(f"operator {self.operator} needs values")
        if not needs_values and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


LabelSelector.model_rebuild()


class ListGenerator(base.Spec):
    """Fixed parameter sets: each element's fields become parameters."""

    elements: list[dict[str, Any]] = Field(min_length=1)


class TargetsGenerator(base.Spec):
    """One parameter set per target of the agent configuration whose labels match:
    ``target.name`` and ``target.labels.<key>``."""

    selector: LabelSelector = Field(default_factory=lambda: LabelSelector())


class GitPath(base.Spec):
    path: str = Field(description="A glob over repository paths; '*' stays within one segment.")
    exclude: bool = Field(False, description="Drop what this glob matches.")

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        cleaned = value.strip().strip("/")
        if value.startswith("/") or any(part == ".." for part in cleaned.split("/")):
            raise ValueError(f"path {value!r} must stay inside the repository")
        if not cleaned:
            raise ValueError("path is empty")
        return cleaned


class GitDirectoriesGenerator(base.Spec):
    """One parameter set per directory of a repository matching the globs:
    ``path.path``, ``path.basename``, ``path.basenameNormalized``, ``path.segments``."""

    repo_url: str = Field(alias="repoURL")
    ref: str = "HEAD"
    directories: list[GitPath] = Field(min_length=1)


class GitFilesGenerator(base.Spec):
    """One parameter set per document of every JSON/YAML file matching the globs:
    the document's fields, plus ``path.*`` of the file's directory and ``path.filename``."""

    repo_url: str = Field(alias="repoURL")
    ref: str = "HEAD"
    files: list[GitPath] = Field(min_length=1)


class MatrixGenerator(base.Spec):
    """Every combination of two generators' parameter sets."""

    generators: list[Generator] = Field(min_length=2, max_length=2)


class MergeGenerator(base.Spec):
    """The first generator's parameter sets, each updated by the sets of the
    following generators that agree with it on every merge key."""

    merge_keys: list[str] = Field(alias="mergeKeys", min_length=1)
    generators: list[Generator] = Field(min_length=2)


class Generator(base.Spec):
    """Exactly one kind of generator."""

    list: ListGenerator | None = None
    targets: TargetsGenerator | None = None
    git_directories: GitDirectoriesGenerator | None = Field(None, alias="gitDirectories")
    git_files: GitFilesGenerator | None = Field(None, alias="gitFiles")
    matrix: MatrixGenerator | None = None
    merge: MergeGenerator | None = None

    @model_validator(mode="after")
    def _one(self) -> Generator:
        chosen = [name for name in _GENERATOR_KINDS if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "a generator declares exactly one of list, targets, gitDirectories, "
                f"gitFiles, matrix, merge (found {', '.join(chosen) or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(name for name in _GENERATOR_KINDS if getattr(self, name) is not None)


_GENERATOR_KINDS = ("list", "targets", "git_directories", "git_files", "matrix", "merge")
MatrixGenerator.model_rebuild()
MergeGenerator.model_rebuild()


class RolloutStep(base.Spec):
    """Applications whose labels match, updated once every earlier step is Synced
    and Healthy; ``maxUpdate`` bounds how many of them change at once."""

    match_labels: dict[str, str] = Field(default_factory=dict, alias="matchLabels")
    match_expressions: list[SelectorRequirement] = Field(
        default_factory=list, alias="matchExpressions"
    )
    max_update: int | str = Field(
        "100%", alias="maxUpdate", description="A count, or a percentage of the step."
    )

    @field_validator("max_update")
    @classmethod
    def _max_update(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("maxUpdate must be at least 1")
            return value
        if not _PERCENT.match(value) or value == "0%":
            raise ValueError(f"maxUpdate {value!r} must be a count or a percentage 1%..100%")
        return value

    def selector(self) -> LabelSelector:
        return LabelSelector(
            match_labels=self.match_labels, match_expressions=self.match_expressions
        )

    def limit(self, size: int) -> int:
        """How many of a step of ``size`` Applications may be updating at once."""
        if isinstance(self.max_update, int):
            return self.max_update
        percent = int(self.max_update.rstrip("%"))
        return max(1, size * percent // 100)


class RollingSync(base.Spec):
    steps: list[RolloutStep] = Field(min_length=1)


class Strategy(base.Spec):
    rolling_sync: RollingSync | None = Field(None, alias="rollingSync")


class SetSyncPolicy(base.Spec):
    """What happens to generated Applications when the generators change."""

    applications_sync: Literal["sync", "create-update"] = Field(
        "sync",
        alias="applicationsSync",
        description=(
            "'sync': create, update and remove Applications as the generators say; "
            "'create-update': keep an Application the generators no longer produce."
        ),
    )
    cascade_delete: bool = Field(
        False,
        alias="cascadeDelete",
        description=(
            "When a generated Application is removed, delete the objects it manages. "
            "Off (the default): they are left running, unmanaged."
        ),
    )


class ApplicationSetSpec(base.Spec):
    generators: list[Generator] = Field(min_length=1)
    template: dict[str, Any] = Field(
        description="An Application (metadata and spec) whose strings may hold {{parameters}}."
    )
    strategy: Strategy = Field(default_factory=lambda: Strategy())
    sync_policy: SetSyncPolicy = Field(default_factory=lambda: SetSyncPolicy(), alias="syncPolicy")

    @field_validator("template")
    @classmethod
    def _template(cls, value: dict[str, Any]) -> dict[str, Any]:
        if set(value) - {"metadata", "spec"}:
            extra = ", ".join(sorted(set(value) - {"metadata", "spec"}))
            raise ValueError(f"template holds only metadata and spec (found {extra})")
        if not isinstance(value.get("metadata"), Mapping) or "name" not in value["metadata"]:
            raise ValueError("template.metadata.name is required")
        if not isinstance(value.get("spec"), Mapping):
            raise ValueError("template.spec is required")
        return value


class ApplicationSet(base.Spec):
    api_version: Literal["gitward.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["ApplicationSet"]
    metadata: applications.Metadata
    spec: ApplicationSetSpec

    @property
    def name(self) -> str:
        return self.metadata.name


def parse(document: Mapping[str, Any], origin: str) -> ApplicationSet:
    """Validate an ApplicationSet document; ``origin`` names it in errors."""
    if not isinstance(document, Mapping):
        raise errors.ConfigError(f"{origin}: an ApplicationSet must be a mapping")
    try:
        return ApplicationSet.model_validate(document)
    except ValidationError as exc:
        raise errors.ConfigError(applications._describe(exc, origin)) from None
