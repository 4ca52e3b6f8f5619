"""Simulated controllers of what runs or binds: Job, Pod, PersistentVolumeClaim.

No container runs: after the workload delay a Job completes (or fails with
BackoffLimitExceeded when an image contains ``fail``), a Pod is Running and
Ready (or stays Pending in ImagePullBackOff), a PersistentVolumeClaim is
Bound. Part of :class:`.workloads.Controllers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.testing.kubeapi import (
    controlling,
    handling,
)


class Pods(controlling.ControllerBase):
    """Controllers of Jobs, Pods and PersistentVolumeClaims."""

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
                    controlling.condition(
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
        elif controlling.failing(spec.get("template") or {}):
            status.update(
                {
                    "failed": int(spec.get("backoffLimit", 6)) + 1,
                    "ready": 0,
                    "conditions": [
                        controlling.condition(
                            None,
                            "FailureTarget",
                            "True",
                            "BackoffLimitExceeded",
                            "Job has reached the specified backoff limit",
                            now,
                        ),
                        controlling.condition(
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
                        controlling.condition(
                            None,
                            "SuccessCriteriaMet",
                            "True",
                            "CompletionsReached",
                            "Reached expected number of succeeded pods",
                            now,
                        ),
                        controlling.condition(
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
        failing = any("fail" in image for image in controlling.images(spec))
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
                controlling.condition(conditions, "PodScheduled", "True", "", "", now),
                controlling.condition(conditions, "Initialized", "True", "", "", now),
                controlling.condition(
                    conditions,
                    "ContainersReady",
                    "True" if ready else "False",
                    "" if ready else "ContainersNotReady",
                    "",
                    now,
                ),
                controlling.condition(
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
