"""What the annotations on an object ask of gitward: gitward's own, Argo CD's, Helm's, Flux's.

Repositories written for Argo CD or Flux work unchanged: their annotations
mean here what they mean there (docs/configuration.md, "Annotations", lists
each one). This module is the one reading of them, shared by the stages that
act on it: ``diff`` (phase, wave, skip, prune, compare), ``engine.syncing``
(hook delete policies, create/replace/if-absent) and the Kubernetes target.
Pure functions over an annotations mapping; a malformed value raises
:class:`ValueError` with a message naming the annotation, which the caller
turns into its own error naming the object.

Precedence, as Argo CD's gitops-engine has it: a hook annotation of gitward
or Argo CD wins over Helm's hook annotations (which are then ignored); a
sync wave of gitward or Argo CD wins over ``helm.sh/hook-weight``. Helm hooks
map to phases as Argo CD maps them: ``pre-install``/``pre-upgrade`` to
PreSync, ``post-install``/``post-upgrade`` to PostSync; other Helm hooks
(``pre-delete``, ``post-rollback``, ``test``...) are never run, and
``crd-install`` is not a hook at all (the CRD is applied as any object).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

GITWARD = "gitward.dev/"
ARGOCD = "argocd.argoproj.io/"
HELM = "helm.sh/"
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io/"

HOOK = ("gitward.dev/hook", "argocd.argoproj.io/hook")
HOOK_DELETE_POLICY = ("gitward.dev/hook-delete-policy", "argocd.argoproj.io/hook-delete-policy")
SYNC_WAVE = ("gitward.dev/sync-wave", "argocd.argoproj.io/sync-wave")
SYNC_OPTIONS = ("gitward.dev/sync-options", "argocd.argoproj.io/sync-options")
COMPARE_OPTIONS = ("gitward.dev/compare-options", "argocd.argoproj.io/compare-options")
HELM_HOOK = "helm.sh/hook"
HELM_HOOK_WEIGHT = "helm.sh/hook-weight"
HELM_HOOK_DELETE_POLICY = "helm.sh/hook-delete-policy"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
FLUX_SSA = "kustomize.toolkit.fluxcd.io/ssa"
FLUX_RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"

PHASES = ("PreSync", "Sync", "PostSync", "SyncFail")
SKIP = "Skip"
# Helm hooks Argo CD runs, and the phase it runs them in.
_HELM_PHASES = {
    "pre-install": "PreSync",
    "pre-upgrade": "PreSync",
    "post-install": "PostSync",
    "post-upgrade": "PostSync",
}
# Helm hooks that exist but have no sync phase: Argo CD never runs them.
_HELM_OTHER = frozenset(
    {
        "pre-delete",
        "post-delete",
        "pre-rollback",
        "post-rollback",
        "test",
        "test-success",
        "test-failure",
    }
)
_HELM_NOT_A_HOOK = "crd-install"

BEFORE_HOOK_CREATION = "BeforeHookCreation"
HOOK_SUCCEEDED = "HookSucceeded"
HOOK_FAILED = "HookFailed"
_DELETE_POLICIES = {
    BEFORE_HOOK_CREATION: BEFORE_HOOK_CREATION,
    HOOK_SUCCEEDED: HOOK_SUCCEEDED,
    HOOK_FAILED: HOOK_FAILED,
    "before-hook-creation": BEFORE_HOOK_CREATION,
    "hook-succeeded": HOOK_SUCCEEDED,
    "hook-failed": HOOK_FAILED,
}
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


class ApplyMode(StrEnum):
    """How an object is written (``sync-options`` and Flux's ``ssa``)."""

    APPLY = "apply"  # server-side apply (the default; also Flux's Override)
    # Flux ssa: Merge: keep fields other tools added. gitward's server-side
    # apply never removes those (it never clears other managers' fields, as
    # Flux's default Override does), so this applies like APPLY.
    MERGE = "merge"
    IF_NOT_PRESENT = "if-not-present"  # Flux ssa: IfNotPresent: create once, then leave
    REPLACE = "replace"  # Argo CD Replace=true: PUT the whole object (create if absent)
    IGNORE = "ignore"  # Flux ssa: Ignore / reconcile: disabled: never written


@dataclass(frozen=True, slots=True)
class Hook:
    """The hook phases of an object (``Skip`` alone means never applied)."""

    phases: tuple[str, ...]
    # Where the phases came from, for messages: the annotation read.
    annotation: str
    # A Helm hook gitward does not run (``test``, ``pre-delete``...): skipped.
    unsupported: str = ""

    @property
    def skip(self) -> bool:
        return SKIP in self.phases or bool(self.unsupported)


@dataclass(frozen=True, slots=True)
class Options:
    """Per-object sync and compare options, from every tool's annotations."""

    prune: bool = True  # Prune=false, Flux prune: disabled
    delete: bool = True  # Delete=false (kept when the Application is deleted)
    mode: ApplyMode = ApplyMode.APPLY
    # SkipDryRunOnMissingResource=true: the kind may be missing at plan time
    # (its CRD comes from elsewhere); plan it as a create, apply it in order.
    skip_dry_run_on_missing: bool = False
    create_namespace: bool = False  # CreateNamespace=true
    ignore_extraneous: bool = False  # compare-options: IgnoreExtraneous
    # Flux reconcile: disabled: neither applied nor pruned.
    reconcile: bool = True


def _csv(value: object) -> list[str]:
    return [part.strip() for part in str(value).split(",") if part.strip()]


def hook(annotations: Mapping[str, str]) -> Hook | None:
    """The object's hook phases, None when it is not a hook.

    Raises :class:`ValueError` for an unknown gitward/Argo CD phase (a
    ``PostDelete`` hook silently applied as an ordinary object would be worse
    than an error) or an unknown Helm hook.
    """
    for name in HOOK:
        if name in annotations:
            declared = tuple(dict.fromkeys(_csv(annotations[name])))
            unknown = [p for p in declared if p not in PHASES and p != SKIP]
            if unknown or not declared:
                allowed = ", ".join([*PHASES, SKIP])
                raise ValueError(
                    f"{name} {annotations[name]!r} is not a hook phase gitward runs "
                    f"(allowed: {allowed})"
                )
            return Hook(phases=declared, annotation=name)
    if HELM_HOOK not in annotations:
        return None
    names = _csv(annotations[HELM_HOOK])
    if names == [_HELM_NOT_A_HOOK]:
        return None
    phases: list[str] = []
    other: list[str] = []
    for name in names:
        if name in _HELM_PHASES:
            phases.append(_HELM_PHASES[name])
        elif name in _HELM_OTHER or name == _HELM_NOT_A_HOOK:
            other.append(name)
        else:
            raise ValueError(f"{HELM_HOOK} {annotations[HELM_HOOK]!r}: unknown Helm hook {name!r}")
    if not phases:
        return Hook(phases=(), annotation=HELM_HOOK, unsupported=", ".join(other))
    return Hook(phases=tuple(dict.fromkeys(phases)), annotation=HELM_HOOK)


def is_hook(annotations: Mapping[str, str]) -> bool:
    """Whether a (live) object is a hook; never raises (live objects are not ours to judge)."""
    if any(name in annotations for name in HOOK):
        return True
    value = annotations.get(HELM_HOOK)
    return value is not None and _csv(value) != [_HELM_NOT_A_HOOK]


def wave(annotations: Mapping[str, str]) -> int:
    """The sync wave (default 0); ``helm.sh/hook-weight`` when no wave is declared."""
    for name in (*SYNC_WAVE, HELM_HOOK_WEIGHT):
        if name in annotations:
            text = str(annotations[name]).strip()
            if not _INTEGER.match(text):
                raise ValueError(f"{name} must be an integer, got {annotations[name]!r}")
            return int(text)
    return 0


def live_wave(annotations: Mapping[str, str]) -> int:
    """The wave of a live object; 0 when unreadable (only orders prunes)."""
    try:
        return wave(annotations)
    except ValueError:
        return 0


def delete_policies(annotations: Mapping[str, str]) -> frozenset[str]:
    """A hook's delete policies, of every tool; ``BeforeHookCreation`` when none."""
    found: set[str] = set()
    for name in (*HOOK_DELETE_POLICY, HELM_HOOK_DELETE_POLICY):
        for value in _csv(annotations.get(name, "")):
            policy = _DELETE_POLICIES.get(value)
            if policy is None:
                allowed = ", ".join(_DELETE_POLICIES)
                raise ValueError(f"{name}: unknown delete policy {value!r} (allowed: {allowed})")
            found.add(policy)
    return frozenset(found or {BEFORE_HOOK_CREATION})


def _option_pairs(annotations: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for name in names:
        for item in _csv(annotations.get(name, "")):
            key, _, value = item.partition("=")
            pairs[key.strip().lower()] = value.strip().lower() if value else "true"
    return pairs


_OPTION_ANNOTATIONS = (*SYNC_OPTIONS, *COMPARE_OPTIONS, FLUX_SSA, FLUX_RECONCILE, FLUX_PRUNE)
_NO_OPTIONS = Options()


def options(annotations: Mapping[str, str]) -> Options:
    """The sync and compare options the annotations declare (unknown ones are ignored,
    as Argo CD ignores them)."""
    if not any(name in annotations for name in _OPTION_ANNOTATIONS):
        return _NO_OPTIONS  # most objects declare none; planning asks for each several times
    sync = _option_pairs(annotations, SYNC_OPTIONS)
    compare = _option_pairs(annotations, COMPARE_OPTIONS)
    flux_ssa = str(annotations.get(FLUX_SSA, "")).strip().lower()
    mode = ApplyMode.APPLY
    if sync.get("replace") == "true":
        mode = ApplyMode.REPLACE
    if flux_ssa == "merge":
        mode = ApplyMode.MERGE
    elif flux_ssa == "ifnotpresent":
        mode = ApplyMode.IF_NOT_PRESENT
    elif flux_ssa == "ignore":
        mode = ApplyMode.IGNORE
    reconcile = str(annotations.get(FLUX_RECONCILE, "")).strip().lower() != "disabled"
    if not reconcile:
        mode = ApplyMode.IGNORE
    flux_prune = str(annotations.get(FLUX_PRUNE, "")).strip().lower() != "disabled"
    return Options(
        prune=sync.get("prune") != "false" and flux_prune and reconcile,
        delete=sync.get("delete") != "false" and reconcile,
        mode=mode,
        skip_dry_run_on_missing=sync.get("skipdryrunonmissingresource") == "true",
        create_namespace=sync.get("createnamespace") == "true",
        ignore_extraneous="ignoreextraneous" in compare,
        reconcile=reconcile,
    )
