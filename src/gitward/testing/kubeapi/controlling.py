"""What every simulated controller of the Kubernetes API test server shares.

:class:`ControllerBase` schedules a controller's work on the server's loop
(one pending run per object, retried after a 404 or 409 as a real
controller's resync would), and writes status as ``kube-controller-manager``
through the status subresource. The helpers read a pod template: its images
(one containing ``fail`` never becomes ready), its hash (a ReplicaSet's name
suffix) and the shape of a status condition. The controllers themselves are
:mod:`.rollouts`, :mod:`.pods`, :mod:`.collecting` and :mod:`.definitions`,
put together in :mod:`.workloads`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gitward.testing.kubeapi import handling, storing, types, validating

_log = logging.getLogger(__name__)

CONTROLLER = "kube-controller-manager"
_RETRY_SECONDS = 0.05


def images(pod_spec: Mapping[str, Any]) -> list[str]:
    out = []
    for section in ("initContainers", "containers"):
        for container in pod_spec.get(section) or ():
            if isinstance(container, Mapping):
                out.append(str(container.get("image") or ""))
    return out


def failing(template: Mapping[str, Any]) -> bool:
    spec = template.get("spec") or {}
    return any("fail" in image for image in images(spec))


def template_hash(template: Any) -> str:
    digest = hashlib.sha256(orjson.dumps(template, option=orjson.OPT_SORT_KEYS)).hexdigest()
    # Pod-template hashes are short and avoid vowels, so they never spell words.
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int(digest[:16], 16)
    out = []
    for _ in range(10):
        number, rem = divmod(number, len(alphabet))
        out.append(alphabet[rem])
    return "".join(out)


def condition(
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


class ControllerBase:
    """Scheduling and status writes shared by the simulated controllers of one server."""

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
        key = (meta["uid"], template_hash(spec.get("template", spec)))
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
