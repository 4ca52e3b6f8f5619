"""Every Application's status, written back to its object in the cluster.

With ``clusterObjects`` configured, every Application the agent manages has an
``applications.gitward.dev`` object in that cluster, so ``kubectl get
applications -A`` (and any Kubernetes tool) shows what the UI shows:

* declared in the cluster: its own object;
* declared in Git: a *mirror* gitward applies in ``clusterObjects.namespace``
  (label ``gitward.dev/declared-in=git``, annotation ``gitward.dev/declared-at``
  naming the file, spec as in Git), deleted when the Application leaves Git.
  A person's object of the same name there is never overwritten (it is
  told ``ShadowedByGit`` instead, see ``cluster_catalog``).

Status goes through the status subresource as a merge patch: ``sync``,
``health``, ``revision``, ``conditions`` (the agent's, plus ``Accepted``),
``lastOperation`` and ``observedGeneration``. Objects that are not used get
only ``Accepted=False`` with the reason. Writes are coalesced per object and
skipped when nothing changed; a failed write is retried after a pause, and
never holds up a reconcile: the agent only calls :meth:`Publisher.notify`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from gitward import errors
from gitward.config import crds
from gitward.engine import cluster_catalog, fencing, states
from gitward.model import resources
from gitward.store import base as store_base
from gitward.targets import base as targets

_log = structlog.get_logger(__name__)

DECLARED_AT = "gitward.dev/declared-at"
RETRY_PAUSE = 5.0

StateOf = Callable[[str], states.AppState | None]
OperationOf = Callable[[int], Awaitable[store_base.OperationRecord | None]]


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _condition(
    type_: str, ok: bool, reason: str, message: str, since: datetime | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": type_,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message[:1024],
    }
    if since is not None:
        out["lastTransitionTime"] = _time(since)
    return out


def status_body(
    state: states.AppState,
    operation: store_base.OperationRecord | None,
    generation: int,
) -> dict[str, Any]:
    """The status an Application's object shows (pure)."""
    conditions = [
        _condition(c.type, c.status, c.reason, c.message, c.last_transition)
        for c in sorted(state.conditions.values(), key=lambda c: c.type)
    ]
    conditions.insert(
        0, _condition(cluster_catalog.ACCEPTED, True, "Accepted", "used by the agent", None)
    )
    body: dict[str, Any] = {
        "sync": state.sync.value,
        "health": state.health.status.value,
        "revision": state.revision,
        "message": state.message[:1024],
        "conditions": conditions,
    }
    if generation:
        body["observedGeneration"] = generation
    if operation is not None:
        op = operation.operation
        last: dict[str, Any] = {
            "id": str(operation.id),
            "phase": str(op.phase.value),
            "revision": op.revision.sha,
            "trigger": op.trigger,
            "message": op.message[:1024],
            "startedAt": _time(op.started_at),
        }
        if op.finished_at is not None:
            last["finishedAt"] = _time(op.finished_at)
        body["lastOperation"] = last
    return body


def verdict_body(verdict: cluster_catalog.Verdict) -> dict[str, Any]:
    """The status of a Project, or of an Application the agent does not use (pure)."""
    accepted = _condition(
        cluster_catalog.ACCEPTED, verdict.accepted, verdict.reason, verdict.message, None
    )
    if verdict.accepted:
        return {"observedGeneration": verdict.generation, "conditions": [accepted]}
    return {
        "sync": "Unknown",
        "health": "Unknown",
        "revision": "",
        "message": verdict.message[:1024],
        "observedGeneration": verdict.generation,
        "conditions": [accepted],
        "lastOperation": None,
    }


def _key(kind: str, namespace: str, name: str) -> resources.ResourceKey:
    return resources.ResourceKey(crds.GROUP, kind, namespace, name)


class Publisher:
    """Writes status (and Git mirrors) to one cluster; fed by :meth:`notify`."""

    def __init__(
        self,
        target: targets.Target,
        namespace: str,
        state_of: StateOf,
        operation_of: OperationOf,
        owns: Callable[[str], bool] = lambda _: True,
    ) -> None:
        """``owns(name)``: whether this replica reports the Application (or an
        object of that name): replicas split the work, never write the same
        status twice."""
        self.target = target
        self._owns = owns
        self.namespace = namespace
        self._state_of = state_of
        self._operation_of = operation_of
        self._merged: cluster_catalog.Merged | None = None
        self._mirrored: set[str] = set()  # Git apps whose mirror this process applied
        self._pending: set[str] = set()
        self._wakeup = asyncio.Event()
        self._written: dict[resources.ResourceKey, Mapping[str, Any]] = {}
        self._mirror_specs: dict[str, Mapping[str, Any]] = {}
        self._generations: dict[str, int] = {}
        self.writes = 0  # status writes sent: for tests and metrics

    # --- inputs -------------------------------------------------------------------------

    def catalog_changed(self, merged: cluster_catalog.Merged) -> None:
        self._merged = merged
        self._pending.add("")  # "": reconcile mirrors and verdicts
        self._pending.update(merged.catalog.apps)
        self._wakeup.set()

    def notify(self, name: str) -> None:
        self._pending.add(name)
        self._wakeup.set()

    # --- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            pending, self._pending = self._pending, set()
            failed: set[str] = set()
            for name in sorted(pending):
                try:
                    if name:
                        await self._publish(name)
                    else:
                        await self._reconcile_objects()
                except errors.GitwardError as exc:
                    _log.warning("status write failed", app=name or "(catalog)", error=str(exc))
                    failed.add(name)
            if failed:
                await asyncio.sleep(RETRY_PAUSE)
                self._pending |= failed
                self._wakeup.set()

    async def _reconcile_objects(self) -> None:
        merged = self._merged
        if merged is None:
            return
        for verdict in merged.verdicts:
            # Used Applications get their full status from _publish.
            used_app = verdict.accepted and verdict.ref.kind == "Application"
            if not used_app and self._owns(verdict.ref.name):
                key = _key(verdict.ref.kind, verdict.ref.namespace, verdict.ref.name)
                with fencing.writing_for(verdict.ref.name):
                    await self._write(key, verdict_body(verdict))
        wanted = {name for name, d in merged.catalog.apps.items() if name not in merged.objects}
        listed, _ = await self.target.list_objects(
            crds.GROUP, "Application", self.namespace, limit=100_000
        )
        for obj in listed:
            meta = obj.get("metadata") or {}
            labels = meta.get("labels") or {}
            name = str(meta.get("name") or "")
            gone = name not in wanted and self._owns(name)
            if labels.get(cluster_catalog.DECLARED_IN) == "git" and gone:
                with fencing.writing_for(name):
                    await self.target.delete(
                        _key("Application", self.namespace, name), uid=str(meta.get("uid") or "")
                    )
                self._mirrored.discard(name)
                self._mirror_specs.pop(name, None)
                self._generations.pop(name, None)
                self._written.pop(_key("Application", self.namespace, name), None)

    async def _publish(self, name: str) -> None:
        merged, state = self._merged, self._state_of(name)
        if merged is None or state is None or name not in merged.catalog.apps:
            return
        if not self._owns(name):
            return
        ref = merged.objects.get(name)
        generation = 0
        with fencing.writing_for(name):
            if ref is None:
                if self._shadowed_here(merged, name):
                    return  # a person's object holds the name here: never overwritten
                generation = await self._mirror(name, merged.catalog.apps[name])
                key = _key("Application", self.namespace, name)
            else:
                key = _key("Application", ref.namespace, ref.name)
                generation = next(
                    (v.generation for v in merged.verdicts if v.ref == ref and v.accepted), 0
                )
            operation = (
                await self._operation_of(state.last_operation)
                if state.last_operation is not None
                else None
            )
            await self._write(key, status_body(state, operation, generation))

    def _shadowed_here(self, merged: cluster_catalog.Merged, name: str) -> bool:
        return any(
            v.reason == "ShadowedByGit"
            and v.ref.kind == "Application"
            and v.ref.namespace == self.namespace
            and v.ref.name == name
            for v in merged.verdicts
        )

    async def _mirror(self, name: str, declared: Any) -> int:
        body = crds.application_object(
            declared.app,
            self.namespace,
            labels={cluster_catalog.DECLARED_IN: "git"},
            annotations={DECLARED_AT: declared.file},
        )
        if self._mirror_specs.get(name) != body:
            result = await self.target.apply(
                resources.Manifest.from_body(body, "mirror"), force=True
            )
            self._mirror_specs[name] = body
            self._mirrored.add(name)
            meta = result.live.get("metadata") or {}
            self._generations[name] = int(meta.get("generation") or 0)
        return self._generations.get(name, 0)

    async def _write(self, key: resources.ResourceKey, body: Mapping[str, Any]) -> None:
        if self._written.get(key) == body:
            return
        if await self.target.write_status(key, body):
            self.writes += 1
            self._written[key] = body
        else:
            self._written.pop(key, None)
