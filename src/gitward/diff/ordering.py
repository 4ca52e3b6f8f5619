"""Apply order of a Plan: phase, sync wave, kind, then namespace and name.

Called by ``planning`` to read each manifest's hook phase and wave and to
order the Plan's changes. The order follows Argo CD's:

1. phase: PreSync, Sync, PostSync, SyncFail (annotation ``gitward.dev/hook``,
   ``argocd.argoproj.io/hook`` or a Helm hook, see ``model.directives``;
   ordinary manifests are in Sync);
2. wave: the integer annotation ``gitward.dev/sync-wave`` or
   ``argocd.argoproj.io/sync-wave``, else ``helm.sh/hook-weight`` (default 0),
   lowest first; negative waves run before the default;
3. kind: what others need first (Namespaces, then policies and accounts,
   config, storage, CRDs, RBAC, Services, workloads, Ingresses, APIServices);
   kinds not in the table (custom resources) come last;
4. namespace and name, so the order is total and stable.

Prunes (and prunes that are skipped) come after everything else, in reverse:
highest wave first, custom resources before their CRD, workloads before
their Namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gitward import errors
from gitward.model import directives, plans, resources

KIND_ORDER: tuple[str, ...] = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
_KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}
# The table names built-in kinds; a custom resource that happens to be called
# "Service" in its own group must not jump ahead of its CRD.
_BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "extensions",
        "policy",
        "autoscaling",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
    }
)
_UNKNOWN_RANK = len(KIND_ORDER)
_HOOK_PHASES = {phase.value: phase for phase in plans.Phase}
# Argo CD's "Skip" hook: the manifest is in Git but never applied.
SKIP_HOOK = directives.SKIP


def kind_rank(key: resources.ResourceKey) -> int:
    if key.group not in _BUILTIN_GROUPS:
        return _UNKNOWN_RANK
    return _KIND_RANK.get(key.kind, _UNKNOWN_RANK)


def _invalid(manifest: resources.Manifest, exc: ValueError) -> errors.PlanError:
    where = f" ({manifest.source})" if manifest.source else ""
    return errors.PlanError(f"{manifest.key}{where}: {exc}")


def wave(manifest: resources.Manifest) -> int:
    """The manifest's sync wave (gitward's, Argo CD's, else Helm's hook weight);
    a non-integer value is a :class:`PlanError`."""
    try:
        return directives.wave(manifest.annotations)
    except ValueError as exc:
        raise _invalid(manifest, exc) from None


def live_wave(obj: Mapping[str, Any]) -> int:
    """The wave recorded on a live object; 0 when absent or unreadable.

    Only used to order prunes, so a bad value on a live object (which Git no
    longer declares) must not block the plan.
    """
    return directives.live_wave((obj.get("metadata") or {}).get("annotations") or {})


def hook(manifest: resources.Manifest) -> directives.Hook | None:
    """The hook phases of a manifest (gitward, Argo CD or Helm annotations), None
    if not a hook. Several phases may be listed (``PreSync,PostSync``): the hook
    then runs in each. An unknown phase is a :class:`PlanError` naming the manifest.
    """
    try:
        found = directives.hook(manifest.annotations)
        if found is not None:
            directives.delete_policies(manifest.annotations)
    except ValueError as exc:
        raise _invalid(manifest, exc) from None
    return found


def phase(name: str) -> plans.Phase:
    return _HOOK_PHASES[name]


def is_live_hook(obj: Mapping[str, Any]) -> bool:
    return directives.is_hook((obj.get("metadata") or {}).get("annotations") or {})


def live_options(obj: Mapping[str, Any]) -> directives.Options:
    return directives.options((obj.get("metadata") or {}).get("annotations") or {})


def _key_fields(key: resources.ResourceKey) -> tuple[int, str, str, str, str]:
    return (kind_rank(key), key.group, key.kind, key.namespace, key.name)


def apply_key(change: plans.Change) -> tuple[Any, ...]:
    """Sort key of a change that applies (or skips) a declared object."""
    return (plans.PHASE_ORDER[change.phase], change.wave, *_key_fields(change.key))


def prune_key(change: plans.Change) -> tuple[Any, ...]:
    """Sort key of a prune: reverse wave and reverse kind, then namespace/name."""
    rank, group, kind, namespace, name = _key_fields(change.key)
    return (-change.wave, -rank, group, kind, namespace, name)


def order(changes: Iterable[plans.Change]) -> tuple[plans.Change, ...]:
    """Plan order: declared objects by :func:`apply_key`, then prunes by :func:`prune_key`.

    A change without a desired object (a prune, or a prune that was skipped)
    is a prune for ordering purposes.
    """
    items = list(changes)
    declared = [c for c in items if c.desired is not None]
    leftover = [c for c in items if c.desired is None]
    return tuple(sorted(declared, key=apply_key)) + tuple(sorted(leftover, key=prune_key))
