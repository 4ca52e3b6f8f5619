"""Simulated controllers of the apps workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet.

A Deployment owns a ReplicaSet per pod template (named by the template's hash)
and scales the others to zero; each workload reports, after the workload
delay, the status a healthy one would (observedGeneration, replica counts,
Available/Progressing conditions), or never becomes ready when an image
contains ``fail`` (a Deployment then reports ProgressDeadlineExceeded).
Part of :class:`.workloads.Controllers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.testing.kubeapi import (
    controlling,
    handling,
    storing,
)


class Rollouts(controlling.ControllerBase):
    """Controllers of Deployments, ReplicaSets, StatefulSets and DaemonSets."""

    def _deployment(self, ref: handling.Ref) -> None:
        obj = self._live(ref)
        if obj is None:
            return
        spec = obj.get("spec") or {}
        template = spec.get("template") or {}
        replicas = int(spec.get("replicas", 1) or 0)
        generation = int(obj["metadata"].get("generation") or 1)
        rs_name = self._own_replica_set(ref, obj, template, replicas)
        failing = controlling.failing(template)
        elapsed = self._elapsed(obj)
        now = self.api.clock()
        old = obj.get("status") or {}
        conditions = old.get("conditions")
        was_available = any(
            c.get("type") == "Available" and c.get("status") == "True" for c in conditions or ()
        )
        ready = replicas == 0 or (not failing and elapsed >= self.workload_delay)
        status: dict[str, Any] = {"observedGeneration": generation}
        if replicas:
            status["replicas"] = replicas
            status["updatedReplicas"] = replicas
        if ready:
            if replicas:
                status["readyReplicas"] = replicas
                status["availableReplicas"] = replicas
            available = controlling.condition(
                conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
                with_update_time=True,
            )
            progressing = controlling.condition(
                conditions,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
                with_update_time=True,
            )
        else:
            status["unavailableReplicas"] = replicas
            if was_available and failing:
                available = controlling.condition(
                    conditions,
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    now,
                    with_update_time=True,
                )
            else:
                available = controlling.condition(
                    conditions,
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    now,
                    with_update_time=True,
                )
            if failing and elapsed >= self.progress_deadline:
                progressing = controlling.condition(
                    conditions,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                    now,
                    with_update_time=True,
                )
            else:
                progressing = controlling.condition(
                    conditions,
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{rs_name}" is progressing.',
                    now,
                    with_update_time=True,
                )
                wait = (self.progress_deadline if failing else self.workload_delay) - elapsed
                self._later(ref, wait, lambda: self._deployment(ref))
        if spec.get("paused"):
            progressing = controlling.condition(
                conditions,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                now,
                with_update_time=True,
            )
        status["conditions"] = [available, progressing]
        self._write_status(ref, obj, status)

    def _own_replica_set(
        self,
        ref: handling.Ref,
        deployment: Mapping[str, Any],
        template: Mapping[str, Any],
        replicas: int,
    ) -> str:
        """Create the ReplicaSet of the current template; scale the others to zero."""
        rs_type = self._rtype("apps", "replicasets")
        pod_hash = controlling.template_hash(template)
        name = f"{ref[3]}-{pod_hash}"
        uid = deployment["metadata"]["uid"]
        for dep_ref in list(self.api.dependents.get(uid, ())):
            if dep_ref[:2] != ("apps", "replicasets") or dep_ref[3] == name:
                continue
            other = self.api.resolve(dep_ref)
            if other is not None and (other.get("spec") or {}).get("replicas"):
                scaled = storing.copy(other)
                scaled["spec"]["replicas"] = 0
                self.api.update(rs_type, dep_ref[2], dep_ref[3], scaled, self._opts)
        existing = self.api.store.get("apps", "replicasets", (ref[2], name))
        if existing is not None:
            if (existing.get("spec") or {}).get("replicas") != replicas:
                scaled = storing.copy(existing)
                scaled["spec"]["replicas"] = replicas
                self.api.update(rs_type, ref[2], name, scaled, self._opts)
            return name
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels["pod-template-hash"] = pod_hash
        rs_template = storing.copy(dict(template))
        rs_template.setdefault("metadata", {})["labels"] = labels
        selector = storing.copy(dict((deployment.get("spec") or {}).get("selector") or {}))
        selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": ref[2],
                "labels": labels,
                "annotations": {"deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": ref[3],
                        "uid": uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": rs_template},
        }
        self.api.create(rs_type, ref[2], rs, self._opts)
        return name

    def _replica_set(self, ref: handling.Ref) -> None:
        obj = self._live(ref)
        if obj is None:
            return
        spec = obj.get("spec") or {}
        replicas = int(spec.get("replicas", 1) or 0)
        ready = replicas == 0 or (
            not controlling.failing(spec.get("template") or {})
            and self._elapsed(obj) >= self.workload_delay
        )
        status: dict[str, Any] = {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "observedGeneration": int(obj["metadata"].get("generation") or 1),
        }
        if ready and replicas:
            status["readyReplicas"] = replicas
            status["availableReplicas"] = replicas
        elif not ready and not controlling.failing(spec.get("template") or {}):
            self._when_ready(ref, obj, self._replica_set)
        self._write_status(ref, obj, status)

    def _stateful_set(self, ref: handling.Ref) -> None:
        obj = self._live(ref)
        if obj is None:
            return
        spec = obj.get("spec") or {}
        replicas = int(spec.get("replicas", 1) or 0)
        template = spec.get("template") or {}
        revision = f"{ref[3]}-{controlling.template_hash(template)}"
        failing = controlling.failing(template)
        ready = replicas == 0 or (not failing and self._elapsed(obj) >= self.workload_delay)
        previous = obj.get("status") or {}
        status: dict[str, Any] = {
            "observedGeneration": int(obj["metadata"].get("generation") or 1),
            "replicas": replicas,
            "currentRevision": revision if ready else previous.get("currentRevision", revision),
            "updateRevision": revision,
            "collisionCount": 0,
            "availableReplicas": replicas if ready else 0,
        }
        if ready:
            status["readyReplicas"] = replicas
            status["currentReplicas"] = replicas
            status["updatedReplicas"] = replicas
        else:
            status["currentReplicas"] = 0
            status["updatedReplicas"] = 0 if failing else replicas
            if not failing:
                self._when_ready(ref, obj, self._stateful_set)
        self._write_status(ref, obj, status)

    def _daemon_set(self, ref: handling.Ref) -> None:
        obj = self._live(ref)
        if obj is None:
            return
        failing = controlling.failing((obj.get("spec") or {}).get("template") or {})
        ready = not failing and self._elapsed(obj) >= self.workload_delay
        # One simulated node: a DaemonSet wants exactly one pod.
        status: dict[str, Any] = {
            "observedGeneration": int(obj["metadata"].get("generation") or 1),
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1,
            "updatedNumberScheduled": 1,
            "numberMisscheduled": 0,
            "numberReady": 1 if ready else 0,
        }
        if ready:
            status["numberAvailable"] = 1
        else:
            status["numberUnavailable"] = 1
            if not failing:
                self._when_ready(ref, obj, self._daemon_set)
        self._write_status(ref, obj, status)
