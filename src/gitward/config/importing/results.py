"""What an import produces: gitward documents, agent configuration entries, notes.

Built by ``argocd`` and ``flux``, returned by ``translating.translate``.
Every field of the input that has no exact gitward equivalent gets a
:class:`Note` saying why, so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

IN_CLUSTER = "in-cluster"
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
# Field managers an imported Application may take fields over from without
# force, besides the importing tool's own.
DEFAULT_TAKE_OVER = ("kubectl", "kubectl-*", "before-first-apply")
NO_EQUIVALENT = "gitward has no equivalent"


@dataclass(frozen=True, slots=True)
class Note:
    """One input field not translated (or translated loosely), and why."""

    source: str  # "Application argocd/guestbook" (kind namespace/name)
    field: str  # "spec.source.plugin"
    reason: str


@dataclass(slots=True)
class Imported:
    """gitward documents and ``gitward.yaml`` entries, plus the notes."""

    applications: list[dict[str, Any]] = field(default_factory=list)
    application_sets: list[dict[str, Any]] = field(default_factory=list)
    projects: list[dict[str, Any]] = field(default_factory=list)
    # gitward.yaml entries: references only, never secret values.
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    repositories: list[dict[str, Any]] = field(default_factory=list)
    decryption_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)

    def note(self, source: str, path: str, reason: str) -> None:
        self.notes.append(Note(source, path, reason))

    def note_unhandled(
        self,
        source: str,
        prefix: str,
        mapping: Mapping[str, Any],
        handled: set[str],
        reasons: Mapping[str, str] | None = None,
    ) -> None:
        """Note every key of ``mapping`` (at ``prefix``) not in ``handled``, with
        its reason from ``reasons`` or :data:`NO_EQUIVALENT`."""
        for key in mapping:
            if key not in handled:
                self.note(source, f"{prefix}.{key}", (reasons or {}).get(key, NO_EQUIVALENT))

    def add_repository(self, entry: Mapping[str, Any]) -> None:
        if all(existing.get("url") != entry.get("url") for existing in self.repositories):
            self.repositories.append(dict(entry))

    def add_target(self, name: str, entry: Mapping[str, Any]) -> None:
        self.targets.setdefault(name, dict(entry))

    def settings(self) -> dict[str, Any]:
        """The ``gitward.yaml`` entries the imported objects refer to."""
        out: dict[str, Any] = {}
        if self.targets:
            out["targets"] = dict(sorted(self.targets.items()))
        if self.repositories:
            out["repositories"] = self.repositories
        if self.decryption_keys:
            out["decryptionKeys"] = dict(sorted(self.decryption_keys.items()))
        if self.variables:
            out["variables"] = dict(sorted(self.variables.items()))
        return out


def env_name(*parts: str) -> str:
    """An environment variable name from names (``flux-system``, ``git-auth`` →
    ``FLUX_SYSTEM_GIT_AUTH``)."""
    text = "_".join(parts).upper()
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def where(document: Mapping[str, Any]) -> str:
    meta = document.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name") or "(no name)"
    return f"{document.get('kind')} {namespace + '/' if namespace else ''}{name}"
