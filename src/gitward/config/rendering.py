"""How an Application's source is rendered: ``spec.source.render`` — at most
one of directory, kustomize, helm and jsonnet with its options, and the
render time limit. The render stage reads the chosen options as a plain
mapping (:meth:`Render.options`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from gitward.config import base, durations


class DirectoryOptions(base.Spec):
    recurse: bool = Field(True, description="Read subdirectories too.")
    include: list[str] = Field(default_factory=list, description="Glob patterns to keep.")
    exclude: list[str] = Field(default_factory=list, description="Glob patterns to skip.")


class KustomizeOptions(base.Spec):
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


class HelmOptions(base.Spec):
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


class JsonnetOptions(base.Spec):
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


class Render(base.Spec):
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
