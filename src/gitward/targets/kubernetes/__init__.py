"""The Kubernetes target: gitward's only code that talks to a Kubernetes API.

Public facade, used by the engine::

    from gitward.targets import kubernetes
    target = kubernetes.KubernetesTarget.connect("staging", kubeconfig="~/.kube/config",
                                                 context="staging")

Modules: ``connecting`` (kubeconfig → client, exec plugins refused unless
allowed), ``discovery`` (kinds the cluster serves), ``preparing`` (namespaces
and inventory tracking, see docs/tracking.md), ``applying`` (server-side
apply), ``reading`` (get and inventory), ``pruning`` (delete with a uid
precondition), ``watching`` (one shared watch per kind), ``recording`` (kinds
each Application used), ``target`` (the Target Protocol).
"""

from __future__ import annotations

from gitward.targets.kubernetes.applying import FIELD_MANAGER, Conflict, FieldConflictError
from gitward.targets.kubernetes.preparing import is_tracked, tracking_id
from gitward.targets.kubernetes.pruning import ObjectReplaced, protected
from gitward.targets.kubernetes.reading import ForbiddenError
from gitward.targets.kubernetes.target import KubernetesTarget

__all__ = [
    "FIELD_MANAGER",
    "Conflict",
    "FieldConflictError",
    "ForbiddenError",
    "KubernetesTarget",
    "ObjectReplaced",
    "is_tracked",
    "protected",
    "tracking_id",
]
