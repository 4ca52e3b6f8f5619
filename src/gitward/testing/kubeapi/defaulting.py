"""Defaults the Kubernetes API test server fills into built-in objects on every write.

What kube-apiserver's defaulting sets and clients read back and diff against:
a Namespace's name label, a Service's type and cluster IP, a Secret's type
(and stringData folded into data), a workload's replicas, strategy and
pod-template defaults, a Job's and CronJob's policies. Called by
:meth:`.handling.Api.commit`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

from gitward.testing.kubeapi import types


def builtin_defaults(
    rtype: types.ResourceType, obj: dict[str, Any], cluster_ips: Iterator[int]
) -> None:
    """Defaults kube-apiserver fills on every write, which clients read back and diff against."""
    group, kind = rtype.group, rtype.kind
    if group == "" and kind == "Namespace":
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif group == "" and kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if spec.get("type") != "ExternalName":
            if not spec.get("clusterIP"):
                n = next(cluster_ips)
                spec["clusterIP"] = f"10.96.{n // 250 % 250}.{n % 250 + 1}"
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or ():
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif group == "" and kind == "Secret":
        obj.setdefault("type", "Opaque")
        # stringData is write-only: merged into data (and winning over it), never stored.
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, Mapping) and string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
    elif group == "" and kind == "Pod":
        _pod_spec_defaults(obj.setdefault("spec", {}))
    elif group == "apps" and kind in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
        spec = obj.setdefault("spec", {})
        if kind != "DaemonSet":
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault(
                "strategy",
                {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
            )
        elif kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault(
                "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
            )
        elif kind == "DaemonSet":
            spec.setdefault(
                "updateStrategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            )
        _template_defaults(spec)
    elif group == "batch" and kind == "Job":
        spec = obj.setdefault("spec", {})
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        _template_defaults(spec)
    elif group == "batch" and kind == "CronJob":
        spec = obj.setdefault("spec", {})
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_spec = (spec.get("jobTemplate") or {}).get("spec")
        if isinstance(job_spec, dict):
            _template_defaults(job_spec)


def _template_defaults(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _pod_spec_defaults(template["spec"])


def _pod_spec_defaults(pod: dict[str, Any]) -> None:
    pod.setdefault("restartPolicy", "Always")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    pod.setdefault("dnsPolicy", "ClusterFirst")
    pod.setdefault("securityContext", {})
    pod.setdefault("schedulerName", "default-scheduler")
    for section in ("initContainers", "containers"):
        for container in pod.get(section) or ():
            if not isinstance(container, dict):
                continue
            # Container-level defaults beyond port protocols (imagePullPolicy,
            # terminationMessagePath/Policy, resources) are not filled yet: see
            # docs/testing-kube-api.md, "What it does not do".
            for port in container.get("ports") or ():
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
