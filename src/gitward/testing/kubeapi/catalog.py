"""The built-in resource types the Kubernetes API test server serves.

Read by the registry (:mod:`.crds`) at start-up; discovery, routing, storage
and the simulated controllers all look types up there. The list follows
kube-apiserver 1.37 (plural, short names, categories, subresources) so that
kubectl resolves ``deploy``, ``cm``, ``all`` and friends as it does against a
real cluster.
"""

from __future__ import annotations

from gitward.testing.kubeapi import types

_ALL = ("all",)
_STATUS = ("status",)
_SCALE = ("status", "scale")


def _t(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    sub: tuple[str, ...] = (),
) -> types.ResourceType:
    return types.ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        subresources=sub,
    )


BUILTIN: tuple[types.ResourceType, ...] = (
    # core/v1
    _t("", "v1", "Namespace", "namespaces", namespaced=False, short=("ns",), sub=_STATUS),
    _t("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _t("", "v1", "Secret", "secrets"),
    _t("", "v1", "Service", "services", short=("svc",), categories=_ALL, sub=_STATUS),
    _t("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
    _t("", "v1", "Pod", "pods", short=("po",), categories=_ALL, sub=_STATUS),
    _t("", "v1", "Endpoints", "endpoints", short=("ep",)),
    _t("", "v1", "Event", "events", short=("ev",)),
    _t("", "v1", "LimitRange", "limitranges", short=("limits",)),
    _t("", "v1", "ResourceQuota", "resourcequotas", short=("quota",), sub=_STATUS),
    _t("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), sub=_STATUS),
    _t(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        namespaced=False,
        short=("pv",),
        sub=_STATUS,
    ),
    # apps/v1
    _t("apps", "v1", "Deployment", "deployments", short=("deploy",), categories=_ALL, sub=_SCALE),
    _t("apps", "v1", "StatefulSet", "statefulsets", short=("sts",), categories=_ALL, sub=_SCALE),
    _t("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), categories=_ALL, sub=_STATUS),
    _t("apps", "v1", "ReplicaSet", "replicasets", short=("rs",), categories=_ALL, sub=_SCALE),
    _t("apps", "v1", "ControllerRevision", "controllerrevisions"),
    # batch/v1
    _t("batch", "v1", "Job", "jobs", categories=_ALL, sub=_STATUS),
    _t("batch", "v1", "CronJob", "cronjobs", short=("cj",), categories=_ALL, sub=_STATUS),
    # networking.k8s.io/v1
    _t("networking.k8s.io", "v1", "Ingress", "ingresses", short=("ing",), sub=_STATUS),
    _t("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    _t("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    # rbac.authorization.k8s.io/v1
    _t("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _t("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _t(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    # storage.k8s.io/v1
    _t("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short=("sc",)),
    # autoscaling/v2
    _t(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        categories=_ALL,
        sub=_STATUS,
    ),
    # policy/v1
    _t("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",), sub=_STATUS),
    # coordination.k8s.io/v1
    _t("coordination.k8s.io", "v1", "Lease", "leases"),
    # apiextensions.k8s.io/v1
    _t(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=("crd", "crds"),
        categories=("api-extensions",),
        sub=_STATUS,
    ),
)

# Kinds whose API strategy maintains metadata.generation. kube-apiserver leaves
# it unset on these core kinds (they have no spec to observe); every other kind,
# custom resources included, starts at 1 and is bumped on spec changes.
WITHOUT_GENERATION = frozenset(
    {
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "Endpoints"),
        ("", "Event"),
        ("", "Namespace"),
        ("", "LimitRange"),
        ("", "PersistentVolumeClaim"),
        ("", "PersistentVolume"),
        ("", "Service"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("coordination.k8s.io", "Lease"),
        ("apps", "ControllerRevision"),
    }
)

# Kinds whose names must be RFC 1123 labels (63 characters, no dots) rather
# than subdomains; Services are stricter still (RFC 1035: start with a letter).
DNS1123_LABEL_NAMES = frozenset({("", "Namespace")})
DNS1035_LABEL_NAMES = frozenset({("", "Service")})
# RBAC objects accept any name that is a valid path segment ("system:admin").
PATH_SEGMENT_NAMES = frozenset(
    {
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    }
)

# Field selectors each kind supports beyond metadata.name/metadata.namespace,
# as kube-apiserver registers them (kubectl events, kubectl get pods).
FIELD_SELECTORS: dict[tuple[str, str], frozenset[str]] = {
    ("", "Pod"): frozenset({"spec.nodeName", "spec.restartPolicy", "status.phase"}),
    ("", "Event"): frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    ("", "Secret"): frozenset({"type"}),
    ("", "Namespace"): frozenset({"status.phase"}),
    ("batch", "Job"): frozenset({"status.successful"}),
}
