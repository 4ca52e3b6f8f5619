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

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gitward.testing.kubeapi import crds, deleting, handling, storing, types, validating

_log = logging.getLogger(__name__)

CONTROLLER = "kube-controller-manager"
_RETRY_SECONDS = 0.05


def _images(pod_spec: Mapping[str, Any]) -> list[str]:
    out = []
    for section in ("initContainers", "containers"):
        for container in pod_spec.get(section) or ():
            if isinstance(container, Mapping):
                out.append(str(container.get("image") or ""))
    return out


def _failing(template: Mapping[str, Any]) -> bool:
    spec = template.get("spec") or {}
    return any("fail" in image for image in _images(spec))


def _template_hash(template: Any) -> str:
    digest = hashlib.sha256(orjson.dumps(template, option=orjson.OPT_SORT_KEYS)).hexdigest()
    # Pod-template hashes are short and avoid vowels, so they never spell words.
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int(digest[:16], 16)
    out = []
    for _ in range(10):
        number, rem = divmod(number, len(alphabet))
        out.append(alphabet[rem])
    return "".join(out)


def _condition(
    old: list[Mapping[str, Any]] | None,
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    *,
    with_update_time: bool = False,
) -> dict[str, Any]:
    previous = next((c for c in old or () if c.get("type") == type_), None)
    transition = (
        previous.get("lastTransitionTime") if previous and previous.get("status") == status else now
    )
    cond: dict[str, Any] = {"type": type_, "status": status}
    if with_update_time:
        same = (
            previous is not None
            and previous.get("reason") == reason
            and previous.get("status") == status
        )
        cond["lastUpdateTime"] = previous.get("lastUpdateTime", now) if same and previous else now
    cond["lastTransitionTime"] = transition or now
    cond["reason"] = reason
    cond["message"] = message
    return cond


class Controllers:
    """All simulated controllers of one server, driven by store events."""

    def __init__(
        self,
        api: handling.Api,
        *,
        workload_delay: float,
        progress_deadline: float,
    ) -> None:
        self.api = api
        self.workload_delay = workload_delay
        self.progress_deadline = progress_deadline
        self._loop = asyncio.get_running_loop()
        self._scheduled: dict[tuple[str, ...], asyncio.Handle] = {}
        # (uid, template hash) -> loop time the rollout of that template started.
        self._started: dict[tuple[str, str], float] = {}
        self._served_crds: dict[str, bytes] = {}
        self._opts = handling.WriteOptions(CONTROLLER)
        api.store.listeners.append(self._on_event)

    # --- scheduling ------------------------------------------------------------

    def _schedule(self, key: tuple[str, ...], delay: float, action: Callable[[], None]) -> None:
        existing = self._scheduled.get(key)
        if existing is not None:
            if delay > 0 and isinstance(existing, asyncio.TimerHandle):
                existing.cancel()
            elif delay <= 0:
                return

        def run() -> None:
            self._scheduled.pop(key, None)
            try:
                action()
            except validating.StatusError as exc:
                if exc.code in (404, 409):
                    self._schedule(key, _RETRY_SECONDS, action)
                else:
                    _log.warning("controller %s: %s", "/".join(key), exc)
            except Exception:
                _log.exception("controller %s failed", "/".join(key))

        if delay <= 0:
            self._scheduled[key] = self._loop.call_soon(run)
        else:
            self._scheduled[key] = self._loop.call_later(delay, run)

    def close(self) -> None:
        for handle in self._scheduled.values():
            handle.cancel()
        self._scheduled.clear()

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

    # --- helpers --------------------------------------------------------------------

    def _rtype(self, group: str, plural: str) -> types.ResourceType:
        rtype = self.api.type_of(group, plural)
        if rtype is None:
            raise validating.resource_missing()
        return rtype

    def _write_status(
        self, ref: handling.Ref, obj: Mapping[str, Any], status: dict[str, Any]
    ) -> None:
        if obj.get("status") == status:
            return
        rtype = self._rtype(ref[0], ref[1])
        new = storing.copy(dict(obj))
        new["status"] = status
        self.api.update(
            rtype,
            ref[2],
            ref[3],
            new,
            self._opts,
            "status" if "status" in rtype.subresources else "",
        )

    def _elapsed(self, obj: Mapping[str, Any]) -> float:
        """Seconds since this object's current pod template (or spec) was first seen.

        Keyed by the template, not the generation: scaling a ready Deployment
        does not make it unready, a new image does.
        """
        meta = obj["metadata"]
        spec = obj.get("spec") or {}
        key = (meta["uid"], _template_hash(spec.get("template", spec)))
        started = self._started.setdefault(key, self._loop.time())
        return self._loop.time() - started

    def _later(self, ref: handling.Ref, after: float, action: Callable[[], None]) -> None:
        self._schedule(("w", *ref), max(after, 0.001), action)

    def _when_ready(
        self, ref: handling.Ref, obj: Mapping[str, Any], controller: Callable[[handling.Ref], None]
    ) -> None:
        """Run ``controller`` again once ``obj`` has existed for the workload delay."""
        self._later(ref, self.workload_delay - self._elapsed(obj), lambda: controller(ref))

    def _live(self, ref: handling.Ref) -> dict[str, Any] | None:
        obj = self.api.resolve(ref)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return None
        return obj

    # --- workloads ------------------------------------------------------------------

    def _deployment(self, ref: handling.Ref) -> None:
        obj = self._live(ref)
        if obj is None:
            return
        spec = obj.get("spec") or {}
        template = spec.get("template") or {}
        replicas = int(spec.get("replicas", 1) or 0)
        generation = int(obj["metadata"].get("generation") or 1)
        rs_name = self._own_replica_set(ref, obj, template, replicas)
        failing = _failing(template)
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
            available = _condition(
                conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
                with_update_time=True,
            )
            progressing = _condition(
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
                available = _condition(
                    conditions,
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    now,
                    with_update_time=True,
                )
            else:
                available = _condition(
                    conditions,
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    now,
                    with_update_time=True,
                )
            if failing and elapsed >= self.progress_deadline:
                progressing = _condition(
                    conditions,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                    now,
                    with_update_time=True,
                )
            else:
                progressing = _condition(
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
            progressing = _condition(
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
        pod_hash = _template_hash(template)
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
            not _failing(spec.get("template") or {}) and self._elapsed(obj) >= self.workload_delay
        )
        status: dict[str, Any] = {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "observedGeneration": int(obj["metadata"].get("generation") or 1),
        }
        if ready and replicas:
            status["readyReplicas"] = replicas
            status["availableReplicas"] = replicas
        elif not ready and not _failing(spec.get("template") or {}):
            self._when_ready(ref, obj, self._replica_set)
        self._write_status(ref, obj, status)

    def _stateful_set(self, ref: handling.Ref) -> None:
        obj = self._live(ref)
        if obj is None:
            return
        spec = obj.get("spec") or {}
        replicas = int(spec.get("replicas", 1) or 0)
        template = spec.get("template") or {}
        revision = f"{ref[3]}-{_template_hash(template)}"
        failing = _failing(template)
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
        failing = _failing((obj.get("spec") or {}).get("template") or {})
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

    def _job(self, ref: handling.Ref) -> None:
        obj = self._live(ref)
        if obj is None:
            return
        spec = obj.get("spec") or {}
        old = obj.get("status") or {}
        if any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in old.get("conditions") or ()
        ):
            return
        now = self.api.clock()
        if spec.get("suspend"):
            status: dict[str, Any] = {
                "conditions": [
                    _condition(
                        old.get("conditions"),
                        "Suspended",
                        "True",
                        "JobSuspended",
                        "Job suspended",
                        now,
                    )
                ],
            }
            self._write_status(ref, obj, status)
            return
        completions = int(spec.get("completions", 1) or 1)
        parallelism = int(spec.get("parallelism", 1) or 1)
        elapsed = self._elapsed(obj)
        status = {
            "startTime": old.get("startTime", now),
            "uncountedTerminatedPods": {},
            "terminating": 0,
        }
        if elapsed < self.workload_delay:
            status.update({"active": min(parallelism, completions), "ready": 0})
            self._later(ref, self.workload_delay - elapsed, lambda: self._job(ref))
        elif _failing(spec.get("template") or {}):
            status.update(
                {
                    "failed": int(spec.get("backoffLimit", 6)) + 1,
                    "ready": 0,
                    "conditions": [
                        _condition(
                            None,
                            "FailureTarget",
                            "True",
                            "BackoffLimitExceeded",
                            "Job has reached the specified backoff limit",
                            now,
                        ),
                        _condition(
                            None,
                            "Failed",
                            "True",
                            "BackoffLimitExceeded",
                            "Job has reached the specified backoff limit",
                            now,
                        ),
                    ],
                }
            )
        else:
            status.update(
                {
                    "succeeded": completions,
                    "ready": 0,
                    "completionTime": now,
                    "conditions": [
                        _condition(
                            None,
                            "SuccessCriteriaMet",
                            "True",
                            "CompletionsReached",
                            "Reached expected number of succeeded pods",
                            now,
                        ),
                        _condition(
                            None,
                            "Complete",
                            "True",
                            "CompletionsReached",
                            "Reached expected number of succeeded pods",
                            now,
                        ),
                    ],
                }
            )
        self._write_status(ref, obj, status)

    def _pod(self, ref: handling.Ref) -> None:
        obj = self._live(ref)
        if obj is None:
            return
        spec = obj.get("spec") or {}
        elapsed = self._elapsed(obj)
        now = self.api.clock()
        old = obj.get("status") or {}
        containers = [c for c in spec.get("containers") or () if isinstance(c, Mapping)]
        failing = any("fail" in image for image in _images(spec))
        ready = not failing and elapsed >= self.workload_delay
        statuses = []
        for c in containers:
            entry: dict[str, Any] = {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "imageID": "",
                "ready": ready,
                "restartCount": 0,
                "started": ready,
            }
            if ready:
                entry["state"] = {"running": {"startedAt": now}}
            elif failing:
                entry["state"] = {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{c.get("image", "")}"',
                    }
                }
            else:
                entry["state"] = {"waiting": {"reason": "ContainerCreating"}}
            statuses.append(entry)
        conditions = old.get("conditions")
        status = {
            "phase": "Running" if ready else "Pending",
            "conditions": [
                _condition(conditions, "PodScheduled", "True", "", "", now),
                _condition(conditions, "Initialized", "True", "", "", now),
                _condition(
                    conditions,
                    "ContainersReady",
                    "True" if ready else "False",
                    "" if ready else "ContainersNotReady",
                    "",
                    now,
                ),
                _condition(
                    conditions,
                    "Ready",
                    "True" if ready else "False",
                    "" if ready else "ContainersNotReady",
                    "",
                    now,
                ),
            ],
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
            "startTime": old.get("startTime", now),
        }
        for cond in status["conditions"]:
            if not cond["reason"]:
                del cond["reason"]
                del cond["message"]
        if ready and old.get("phase") == "Running":
            return
        if not ready and not failing:
            self._later(ref, self.workload_delay - elapsed, lambda: self._pod(ref))
        self._write_status(ref, obj, status)

    def _pvc(self, ref: handling.Ref) -> None:
        obj = self._live(ref)
        if obj is None or (obj.get("status") or {}).get("phase") == "Bound":
            return
        elapsed = self._elapsed(obj)
        if elapsed < self.workload_delay:
            self._write_status(ref, obj, {"phase": "Pending"})
            self._later(ref, self.workload_delay - elapsed, lambda: self._pvc(ref))
            return
        requests = ((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}
        status: dict[str, Any] = {
            "phase": "Bound",
            "accessModes": list((obj.get("spec") or {}).get("accessModes") or ["ReadWriteOnce"]),
        }
        if "storage" in requests:
            status["capacity"] = {"storage": requests["storage"]}
        self._write_status(ref, obj, status)

    # --- namespaces -------------------------------------------------------------------

    def _default_service_account(self, namespace: str) -> None:
        ns = self.api.store.get("", "namespaces", ("", namespace))
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        if self.api.store.get("", "serviceaccounts", (namespace, "default")) is not None:
            return
        sa_type = self._rtype("", "serviceaccounts")
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
        self.api.create(sa_type, namespace, body, self._opts)

    def _namespace(self, name: str) -> None:
        ns = self.api.store.get("", "namespaces", ("", name))
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for rtype, obj in list(deleting.objects_in_namespace(self.api, name)):
            remaining += 1
            if obj["metadata"].get("deletionTimestamp"):
                continue
            try:
                deleting.delete(
                    self.api,
                    rtype,
                    name,
                    obj["metadata"]["name"],
                    {"propagationPolicy": "Background"},
                )
            except validating.StatusError as exc:
                if exc.code != 404:
                    raise
        if remaining == 0 and handling.NAMESPACE_FINALIZER in (
            (ns.get("spec") or {}).get("finalizers") or ()
        ):
            finalized = storing.copy(ns)
            finalized["spec"]["finalizers"] = [
                f for f in finalized["spec"]["finalizers"] if f != handling.NAMESPACE_FINALIZER
            ]
            deleting.finalize_namespace(self.api, finalized, self._opts)

    # --- garbage collection -----------------------------------------------------------

    def _collect(self, owner_uid: str) -> None:
        """Delete dependents none of whose owners exist any more (background propagation)."""
        for ref in list(self.api.dependents.get(owner_uid, ())):
            dependent = self.api.resolve(ref)
            if dependent is None or dependent["metadata"].get("deletionTimestamp"):
                continue
            owners = [o.get("uid") for o in dependent["metadata"].get("ownerReferences") or ()]
            if any(uid in self.api.by_uid for uid in owners):
                continue
            rtype = self.api.type_of(ref[0], ref[1])
            if rtype is not None:
                deleting.delete(
                    self.api, rtype, ref[2], ref[3], {"propagationPolicy": "Background"}
                )

    def _finish_owner(self, uid: str) -> None:
        """Carry out the orphan / foreground finalizers of an owner being deleted."""
        ref = self.api.by_uid.get(uid)
        if ref is None:
            return
        owner = self.api.resolve(ref)
        if owner is None or not owner["metadata"].get("deletionTimestamp"):
            return
        finalizers = list(owner["metadata"].get("finalizers") or ())
        dependents = [
            d for d in self.api.dependents.get(uid, ()) if self.api.resolve(d) is not None
        ]
        if handling.ORPHAN_FINALIZER in finalizers:
            for dep_ref in dependents:
                dep_type = self.api.type_of(dep_ref[0], dep_ref[1])
                dep = self.api.resolve(dep_ref)
                if dep_type is None or dep is None:
                    continue
                freed = storing.copy(dep)
                freed["metadata"]["ownerReferences"] = [
                    o for o in freed["metadata"].get("ownerReferences") or () if o.get("uid") != uid
                ]
                if not freed["metadata"]["ownerReferences"]:
                    del freed["metadata"]["ownerReferences"]
                self.api.update(dep_type, dep_ref[2], dep_ref[3], freed, self._opts)
            finalizers.remove(handling.ORPHAN_FINALIZER)
        elif handling.FOREGROUND_FINALIZER in finalizers:
            if dependents:
                for dep_ref in dependents:
                    dep = self.api.resolve(dep_ref)
                    dep_type = self.api.type_of(dep_ref[0], dep_ref[1])
                    if dep is None or dep_type is None or dep["metadata"].get("deletionTimestamp"):
                        continue
                    deleting.delete(
                        self.api,
                        dep_type,
                        dep_ref[2],
                        dep_ref[3],
                        {"propagationPolicy": "Foreground"},
                    )
                return
            finalizers.remove(handling.FOREGROUND_FINALIZER)
        else:
            return
        rtype = self.api.type_of(ref[0], ref[1])
        if rtype is None:
            return
        updated = storing.copy(owner)
        updated["metadata"]["finalizers"] = finalizers
        if not finalizers:
            del updated["metadata"]["finalizers"]
        self.api.update(rtype, ref[2], ref[3], updated, self._opts)

    # --- custom resource definitions ----------------------------------------------------

    def _crds_of(self, group: str, plural: str) -> list[str]:
        name = f"{plural}.{group}"
        return [name] if name in self._served_crds else []

    def _forget_crd(self, name: str) -> None:
        self._served_crds.pop(name, None)
        self.api.registry.unserve_crd(name)

    def _crd(self, name: str) -> None:
        crd = self.api.store.get(crds.CRD_GROUP, "customresourcedefinitions", ("", name))
        if crd is None:
            self._forget_crd(name)
            return
        crd_type = self._rtype(crds.CRD_GROUP, "customresourcedefinitions")
        spec = crd["spec"]
        now = self.api.clock()
        conditions = (crd.get("status") or {}).get("conditions")
        if crd["metadata"].get("deletionTimestamp"):
            self._crd_cleanup(crd, crd_type, conditions, now)
            return
        spec_bytes = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
        if self._served_crds.get(name) != spec_bytes:
            self.api.registry.serve_crd(crd)
            self.api.registry.set_printer_columns(crd)
            self._served_crds[name] = spec_bytes
        storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
        stored = list((crd.get("status") or {}).get("storedVersions") or [])
        if storage not in stored:
            stored.append(storage)
        names = dict(spec["names"])
        status = {
            "conditions": [
                _condition(
                    conditions, "NamesAccepted", "True", "NoConflicts", "no conflicts found", now
                ),
                _condition(
                    conditions,
                    "Established",
                    "True",
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                    now,
                ),
            ],
            "acceptedNames": names,
            "storedVersions": stored,
        }
        self._write_status((crds.CRD_GROUP, "customresourcedefinitions", "", name), crd, status)

    def _crd_cleanup(
        self, crd: Mapping[str, Any], crd_type: types.ResourceType, conditions: Any, now: str
    ) -> None:
        name = crd["metadata"]["name"]
        spec = crd["spec"]
        group, plural = spec["group"], spec["names"]["plural"]
        bucket = self.api.store.buckets.get((group, plural))
        served = self.api.registry.custom_types(name)
        remaining = list(bucket.objects.values()) if bucket is not None else []
        if remaining and served:
            rtype = served[0]
            for obj in remaining:
                meta = obj["metadata"]
                if not meta.get("deletionTimestamp"):
                    deleting.delete(
                        self.api,
                        rtype,
                        meta.get("namespace") or "",
                        meta["name"],
                        {"propagationPolicy": "Background"},
                    )
            if all(c.get("type") != "Terminating" for c in conditions or ()):
                status = dict(crd.get("status") or {})
                status["conditions"] = [
                    c for c in conditions or () if c.get("type") != "Terminating"
                ] + [
                    _condition(
                        conditions,
                        "Terminating",
                        "True",
                        "InstanceDeletionInProgress",
                        "CustomResource deletion is in progress",
                        now,
                    )
                ]
                self._write_status(
                    (crds.CRD_GROUP, "customresourcedefinitions", "", name), crd, status
                )
            return
        self.api.store.drop_bucket(group, plural)
        finalizers = [
            f for f in crd["metadata"].get("finalizers") or () if f != crds.CRD_CLEANUP_FINALIZER
        ]
        updated = storing.copy(dict(crd))
        updated["metadata"]["finalizers"] = finalizers
        if not finalizers:
            del updated["metadata"]["finalizers"]
        self.api.update(crd_type, "", name, updated, self._opts)
