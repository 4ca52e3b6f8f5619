"""The ``targets`` of ``gitward.yaml``: one entry per target, keyed by ``type``.

``type: kubernetes`` (the default, so a configuration written before there was
a choice means what it meant) is a cluster reached through a kubeconfig or a
pod's service account; ``type: host`` is the Linux host the agent runs on,
written only under its declared ``roots``. Any other ``type`` names a target
plugin (entry point group ``gitward.targets``): its entry keeps the options the
plugin validates itself.
"""

from __future__ import annotations

import posixpath
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, field_validator

from gitward.config import base, durations

DEFAULT_TYPE = "kubernetes"
DEFAULT_TIMEOUT = 30.0


class _Common(base.Spec):
    timeout: durations.PositiveDuration = Field(
        DEFAULT_TIMEOUT, description="Timeout of one request to the target."
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Labels ApplicationSet `targets` generators and rollout steps select on; "
            "Applications with `postBuild` substitute them as `${target_<key>}`."
        ),
    )

    def options(self) -> dict[str, Any]:
        """The entry as the target's factory receives it (field names, not aliases)."""
        return self.model_dump(exclude={"labels"})


class KubernetesTargetSettings(_Common):
    """A Kubernetes cluster gitward applies to."""

    type: Literal["kubernetes"] = Field("kubernetes", description="The kind of target.")
    kubeconfig: str = Field(
        "", description="Path of a kubeconfig file; '' means $KUBECONFIG or ~/.kube/config."
    )
    context: str = Field("", description="Context in the kubeconfig; '' means its current one.")
    in_cluster: bool = Field(
        False, alias="inCluster", description="Use the pod's service account instead."
    )
    allow_exec: bool = Field(
        False,
        alias="allowExec",
        description="Allow kubeconfig `exec` credential plugins (they run arbitrary programs).",
    )
    service_account_dir: str = Field(
        "/var/run/secrets/kubernetes.io/serviceaccount",
        alias="serviceAccountDir",
        description=(
            "With inCluster: where the pod's token, ca.crt and namespace files are "
            "(the API address comes from KUBERNETES_SERVICE_HOST/PORT)."
        ),
    )


class HostTargetSettings(_Common):
    """The Linux host the agent runs on: files, directories, symlinks and commands."""

    type: Literal["host"] = Field(description="The kind of target.")
    roots: list[str] = Field(
        min_length=1,
        description="Absolute directories gitward may write under; nothing outside them.",
    )
    state_dir: str = Field(
        "",
        alias="stateDir",
        description="Where the record of what gitward created is kept; '' means "
        "<cacheDir>/targets/<name>.",
    )
    rescan_interval: durations.PositiveDuration = Field(
        5.0,
        alias="rescanInterval",
        description="How often managed files are hashed, besides inotify (the fallback).",
    )
    output_limit: int = Field(
        4096,
        alias="outputLimit",
        ge=256,
        le=1024 * 1024,
        description="Bytes of a Command's output kept in the operation (its tail).",
    )
    allow_commands: bool = Field(
        False,
        alias="allowCommands",
        description="Run Command objects (they run programs as the agent's user).",
    )

    @field_validator("roots")
    @classmethod
    def _roots(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for root in value:
            if not root.startswith("/"):
                raise ValueError(f"root {root!r} is not an absolute path")
            if ".." in root.split("/"):
                raise ValueError(f"root {root!r} contains '..'")
            normal = posixpath.normpath(root)
            if normal == "/":
                raise ValueError("root '/' would hand gitward the whole host; name directories")
            out.append(normal)
        return out


class PluginTargetSettings(_Common):
    """A target of a type a plugin provides; its other options are the plugin's."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    type: str = Field(description="The target type a plugin registered.")

    def options(self) -> dict[str, Any]:
        return {**super().options(), **(self.model_extra or {})}


def _type_of(value: Any) -> str:
    kind = value.get("type", DEFAULT_TYPE) if isinstance(value, dict) else value.type
    return kind if kind in ("kubernetes", "host") else "plugin"


TargetSettings = Annotated[
    Annotated[KubernetesTargetSettings, Tag("kubernetes")]
    | Annotated[HostTargetSettings, Tag("host")]
    | Annotated[PluginTargetSettings, Tag("plugin")],
    Discriminator(_type_of),
]
"""One entry of ``targets``, told apart by ``type`` (``kubernetes`` when absent)."""
