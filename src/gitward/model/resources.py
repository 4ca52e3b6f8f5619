"""Identity and content of one declared or live object.

A :class:`ResourceKey` identifies an object independently of the API version it
was read or written with (``apps/v1`` and ``apps/v1beta2`` Deployments are the
same object), so desired and live objects are matched by group, kind,
namespace and name, as Kubernetes itself does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Annotations and labels gitward reads on declared objects. Kept here so every
# stage spells them the same way.
ANNOTATION_PREFIX = "gitward.dev/"
SYNC_WAVE_ANNOTATION = "gitward.dev/sync-wave"
HOOK_ANNOTATION = "gitward.dev/hook"
HOOK_DELETE_POLICY_ANNOTATION = "gitward.dev/hook-delete-policy"
SYNC_OPTIONS_ANNOTATION = "gitward.dev/sync-options"
COMPARE_OPTIONS_ANNOTATION = "gitward.dev/compare-options"
# Inventory tracking: every object gitward applies carries the owning
# Application in this label (for cheap label-selector listing) and the full
# identity in the annotation (so a copied label cannot make gitward prune a
# foreign object: both must agree).
APP_LABEL = "gitward.dev/app"
TRACKING_ANNOTATION = "gitward.dev/tracking-id"
# A digest of the field paths (never the values) gitward last applied to the
# object. When it equals the digest of what Git now declares, no field left
# the declaration, so a plan needs no server-side dry run for an object whose
# declared values all match and whose fields nobody else took (see
# diff.planning.known_unchanged and docs/tracking.md).
FIELDS_DIGEST_ANNOTATION = "gitward.dev/fields-digest"
# The name of a declared object that has only ``metadata.generateName`` (a
# hook the API server names at creation) ends with this: ``upgrade-sql-*``.
# It can never be a real name, so such a key never matches a live object.
GENERATED_SUFFIX = "*"


@dataclass(frozen=True, order=True, slots=True)
class ResourceKey:
    """Group, kind, namespace and name: the identity of one object.

    ``group`` is empty for the core API group; ``namespace`` is empty for
    cluster-scoped objects (and for namespaced objects whose namespace is to be
    defaulted from the Application's destination).
    """

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ResourceKey:
        """Key of a Kubernetes-shaped object (``apiVersion``/``kind``/``metadata``)."""
        api_version = str(obj.get("apiVersion") or "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name and meta.get("generateName"):
            name = f"{meta['generateName']}{GENERATED_SUFFIX}"
        return cls(
            group=group,
            kind=str(obj.get("kind") or ""),
            namespace=str(meta.get("namespace") or ""),
            name=name,
        )

    @property
    def generated(self) -> bool:
        """Whether this names a declared object the server will name (generateName)."""
        return self.name.endswith(GENERATED_SUFFIX)

    @property
    def generate_name(self) -> str:
        """The ``generateName`` prefix of a generated key ('' otherwise)."""
        return self.name[: -len(GENERATED_SUFFIX)] if self.generated else ""

    @property
    def group_kind(self) -> str:
        """``Kind.group`` as kubectl prints it (``Deployment.apps``, ``ConfigMap``)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.group_kind} {where}{self.name}"


@dataclass(frozen=True, slots=True)
class Manifest:
    """One desired object as rendered from Git.

    ``body`` is the full object (``apiVersion``, ``kind``, ``metadata``...). It
    is a plain dict for speed and interoperability; by convention no stage
    mutates a Manifest's body after construction (copy it first).
    ``source`` names where it came from (``path/in/repo.yaml#2``, ``helm:chart``)
    so errors can point at the file.
    """

    key: ResourceKey
    # Never in repr: a Secret's body would print its data in clear.
    body: Mapping[str, Any] = field(repr=False)
    source: str = ""

    @classmethod
    def from_body(cls, body: Mapping[str, Any], source: str = "") -> Manifest:
        return cls(key=ResourceKey.of(body), body=body, source=source)

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion") or "")

    @property
    def annotations(self) -> Mapping[str, str]:
        meta = self.body.get("metadata") or {}
        return meta.get("annotations") or {}

    @property
    def labels(self) -> Mapping[str, str]:
        meta = self.body.get("metadata") or {}
        return meta.get("labels") or {}

    def options(self, annotation: str = SYNC_OPTIONS_ANNOTATION) -> frozenset[str]:
        """The comma-separated options of an annotation (``Prune=false,...``)."""
        raw = self.annotations.get(annotation, "")
        return frozenset(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class Rendered:
    """The render stage's output for one Application at one revision."""

    manifests: tuple[Manifest, ...]
    # Digest of every input that went into the render (files, values, options);
    # equal digests mean an equal render, which is what the cache keys on.
    input_digest: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # The repository paths (files or directories, the Application's path
    # first) the render read, when they are known to be all it read: a commit
    # that changes none of them renders the same objects. None when unknown
    # (a symlink on the way, a remote base, another tool's renderer).
    input_paths: tuple[str, ...] | None = None
