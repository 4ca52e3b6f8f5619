"""Simulated controllers: what kube-controller-manager would do, minus containers.

No container ever runs. Instead, after ``workload_delay`` seconds a
Deployment, ReplicaSet, StatefulSet, DaemonSet, Pod or Job reports the status
a healthy one would (observedGeneration, replicas, ready/available counts,
Available/Progressing or Complete conditions); if any container image
contains ``fail`` it never becomes ready: a Deployment's Progressing condition
turns False with ProgressDeadlineExceeded after ``progress_deadline``
seconds, a Job fails with BackoffLimitExceeded, a Pod stays Pending in
ImagePullBackOff.

Beside the workloads, the controllers the API contract depends on: a
Deployment owns a ReplicaSet per pod template; namespaces get a ``default``
ServiceAccount and, when deleted, are emptied and then removed; the garbage
collector honours ownerReferences and the orphan/foreground finalizers;
CustomResourceDefinitions become NamesAccepted and Established (their types
served) and, when deleted, take their objects with them.

Controllers react to store events on the server's loop and write through
:class:`handling.Api` as ``kube-controller-manager`` (status subresource), so
managedFields and watch events look like a real cluster's.
"""

from __future__ import annotations

from collections.abc import Callable

from gitward.testing.kubeapi import (
    collecting,
    crds,
    definitions,
    handling,
    pods,
    rollouts,
    storing,
)


class Controllers(rollouts.Rollouts, pods.Pods, collecting.Collecting, definitions.Definitions):
    """All simulated controllers of one server, driven by store events."""

    def __init__(
        self,
        api: handling.Api,
        *,
        workload_delay: float,
        progress_deadline: float,
    ) -> None:
        super().__init__(api, workload_delay=workload_delay, progress_deadline=progress_deadline)
        api.store.listeners.append(self._on_event)

    def _on_event(self, event: storing.Event) -> None:
        obj = event.obj
        meta = obj["metadata"]
        ref = (event.group, event.plural, meta.get("namespace") or "", meta["name"])
        uid = meta.get("uid", "")
        if event.type == "DELETED":
            if uid in self.api.dependents:
                self._schedule(("gc", uid), 0, lambda: self._collect(uid))
            for owner in meta.get("ownerReferences") or ():
                owner_uid = owner.get("uid", "")
                if owner_uid in self.api.by_uid:
                    self._schedule(("owner", owner_uid), 0, self._owner_action(owner_uid))
            if ref[2]:
                ns = self.api.store.get("", "namespaces", ("", ref[2]))
                if ns is not None and ns["metadata"].get("deletionTimestamp"):
                    self._schedule(("ns", ref[2]), 0, lambda: self._namespace(ref[2]))
            if event.group == crds.CRD_GROUP and event.plural == "customresourcedefinitions":
                self._forget_crd(meta["name"])
            else:
                for crd_name in self._crds_of(event.group, event.plural):
                    self._schedule(("crd", crd_name), 0, self._crd_action(crd_name))
            return
        finalizers = meta.get("finalizers") or ()
        if meta.get("deletionTimestamp") and (
            handling.ORPHAN_FINALIZER in finalizers or handling.FOREGROUND_FINALIZER in finalizers
        ):
            self._schedule(("owner", uid), 0, lambda: self._finish_owner(uid))
        key = (event.group, event.plural)
        if key == ("", "namespaces"):
            if meta.get("deletionTimestamp"):
                self._schedule(("ns", meta["name"]), 0, lambda: self._namespace(meta["name"]))
            elif event.type == "ADDED":
                self._schedule(
                    ("ns-sa", meta["name"]), 0, lambda: self._default_service_account(meta["name"])
                )
            return
        if key == (crds.CRD_GROUP, "customresourcedefinitions"):
            self._schedule(("crd", meta["name"]), 0, lambda: self._crd(meta["name"]))
            return
        action = self._workload_action(key, ref)
        if action is not None and not meta.get("deletionTimestamp"):
            self._schedule(("w", *ref), 0, action)

    def _owner_action(self, uid: str) -> Callable[[], None]:
        return lambda: self._finish_owner(uid)

    def _crd_action(self, name: str) -> Callable[[], None]:
        return lambda: self._crd(name)

    def _workload_action(
        self, key: tuple[str, str], ref: handling.Ref
    ) -> Callable[[], None] | None:
        return {
            ("apps", "deployments"): lambda: self._deployment(ref),
            ("apps", "replicasets"): lambda: self._replica_set(ref),
            ("apps", "statefulsets"): lambda: self._stateful_set(ref),
            ("apps", "daemonsets"): lambda: self._daemon_set(ref),
            ("batch", "jobs"): lambda: self._job(ref),
            ("", "pods"): lambda: self._pod(ref),
            ("", "persistentvolumeclaims"): lambda: self._pvc(ref),
        }.get(key)
