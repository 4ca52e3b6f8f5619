"""Assess the health of live objects and of an Application as a whole.

Called by ``engine.waiting`` (sync waves, hooks, ``--wait``) and by status
reporting. :func:`assess` finds the check registered for the object's
(group, kind), falling back to the generic conditions check, and never
raises: a check that throws on an odd object gives Unknown with the error,
so one strange resource cannot stop a sync or a status update. An object
being deleted is Progressing whatever its kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gitward.health import (
    autoscalers,
    base,
    conditions,
    crds,
    daemonsets,
    deployments,
    ingresses,
    jobs,
    namespaces,
    pods,
    replicasets,
    services,
    statefulsets,
    volumes,
)
from gitward.model import resources, status

_BUILT_IN: tuple[tuple[str, str, base.Check], ...] = (
    ("apps", "Deployment", deployments.deployment),
    ("extensions", "Deployment", deployments.deployment),
    ("apps", "StatefulSet", statefulsets.statefulset),
    ("apps", "DaemonSet", daemonsets.daemonset),
    ("extensions", "DaemonSet", daemonsets.daemonset),
    ("apps", "ReplicaSet", replicasets.replicaset),
    ("extensions", "ReplicaSet", replicasets.replicaset),
    ("", "ReplicationController", replicasets.replicaset),
    ("", "Pod", pods.pod),
    ("batch", "Job", jobs.job),
    ("batch", "CronJob", jobs.cronjob),
    ("", "Service", services.service),
    ("networking.k8s.io", "Ingress", ingresses.ingress),
    ("extensions", "Ingress", ingresses.ingress),
    ("", "PersistentVolumeClaim", volumes.persistent_volume_claim),
    ("autoscaling", "HorizontalPodAutoscaler", autoscalers.horizontal_pod_autoscaler),
    ("", "Namespace", namespaces.namespace),
    ("apiextensions.k8s.io", "CustomResourceDefinition", crds.custom_resource_definition),
    ("apiregistration.k8s.io", "APIService", crds.api_service),
)


def _default_registry() -> base.Registry:
    registry = base.Registry()
    for group, kind, check in _BUILT_IN:
        registry.register(group, kind, check)
    return registry


REGISTRY = _default_registry()


def check_for(group: str, kind: str, registry: base.Registry | None = None) -> base.Check:
    """The check for (group, kind): a registered one, else the generic conditions check."""
    found = (registry or REGISTRY).lookup(group, kind)
    return found if found is not None else conditions.generic


def assess(obj: Mapping[str, Any], registry: base.Registry | None = None) -> status.HealthResult:
    """Health of one live object; never raises."""
    try:
        key = resources.ResourceKey.of(obj)
        meta = obj.get("metadata")
        if isinstance(meta, Mapping) and meta.get("deletionTimestamp"):
            return status.HealthResult(status.HealthStatus.PROGRESSING, "being deleted")
        result = check_for(key.group, key.kind, registry)(obj)
        if not isinstance(result, status.HealthResult):
            raise TypeError(f"the check returned {type(result).__name__}, not a HealthResult")
        return result
    # Any exception: a check is code run on untrusted shapes, and one broken
    # object must never take down a sync or a status update.
    except Exception as exc:
        return status.HealthResult(
            status.HealthStatus.UNKNOWN,
            f"health check for {_describe(obj)} failed: {type(exc).__name__}: {exc}",
        )


def _describe(obj: Any) -> str:
    try:
        key = resources.ResourceKey.of(obj)
    except Exception:
        return f"an object of type {type(obj).__name__}"
    where = f"{key.namespace}/" if key.namespace else ""
    return f"{key.kind or 'object'} {where}{key.name}"


def app_health(
    results: Mapping[resources.ResourceKey, status.HealthResult] | Iterable[status.HealthResult],
) -> status.HealthResult:
    """An Application is as healthy as its worst resource (Healthy when it has none).

    Given a mapping, the message names the worst resource and how many others
    share its status, so the status line says where to look.
    """
    if not isinstance(results, Mapping):
        return status.worst(results)
    if not results:
        return status.HealthResult(status.HealthStatus.HEALTHY)
    worst_key = None
    worst = status.HealthResult(status.HealthStatus.HEALTHY)
    for key in sorted(results):
        result = results[key]
        if worst_key is None or status.health_rank(result.status) > status.health_rank(
            worst.status
        ):
            worst_key, worst = key, result
    if worst.status is status.HealthStatus.HEALTHY:
        return status.HealthResult(status.HealthStatus.HEALTHY, f"{len(results)} resources healthy")
    same = sum(1 for r in results.values() if r.status is worst.status) - 1
    message = f"{worst_key}: {worst.message or worst.status.value}"
    if same:
        message += f" (and {same} more {worst.status.value})"
    return status.HealthResult(worst.status, message)
