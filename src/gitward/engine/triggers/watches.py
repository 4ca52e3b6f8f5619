"""The watch trigger: one watch per kind per target, shared by every
Application (``targets.kubernetes.watching``), queues the Application owning
a changed object, so drift is seen as it happens, not at the next interval.

Events of gitward's own writes are recognised (``decisions.classify``) and
ignored; an event that only moves an object's status queues a health
refresh, not a re-plan. When a watch fails (the target went away, the
subscriber fell behind), events may have been lost: every Application
managing that kind there is queued once the watch is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any

import structlog

from gitward import errors
from gitward.engine import context, decisions, queueing, states
from gitward.model import resources
from gitward.targets import base as targets

_log = structlog.get_logger(__name__)

# Watch events arrive in bursts (a rollout touches an object many times);
# queue the owner a moment later so one reconcile covers the burst.
_DEBOUNCE = 0.2
_RECONNECT = 2.0


class Watches:
    def __init__(self, ctx: context.Context) -> None:
        self._ctx = ctx
        self._tasks: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        # Per managed object: what gitward last wrote or saw (see decisions.fingerprint).
        self._seen: dict[resources.ResourceKey, decisions.Fingerprint] = {}
        # Objects whose status-only event queued a health refresh not yet made:
        # the refresh assesses them as the event carried them, without a read.
        self._latest: dict[resources.ResourceKey, Mapping[str, Any]] = {}

    def ensure(self, state: states.AppState) -> None:
        """Watch every kind ``state`` manages on its target (once per kind)."""
        target_name = state.app.spec.destination.target
        for key in sorted(state.managed_keys):
            ident = (target_name, key.group, key.kind)
            if ident not in self._tasks:
                self._tasks[ident] = asyncio.create_task(
                    self._watch(*ident), name=f"watch {target_name} {key.group_kind}"
                )

    def remember(self, key: resources.ResourceKey, live: Mapping[str, Any]) -> None:
        """gitward wrote ``live``: its watch event is not a change by others."""
        self._seen[key] = decisions.fingerprint(live)
        self._latest.pop(key, None)  # what gitward wrote is newer

    def latest(
        self, keys: Collection[resources.ResourceKey]
    ) -> dict[resources.ResourceKey, Mapping[str, Any]]:
        """The objects as the last status event of each of ``keys`` carried them
        (those not since written by gitward, changed by others or deleted);
        handed over once."""
        return {key: self._latest.pop(key) for key in keys if key in self._latest}

    def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()

    async def _watch(self, target_name: str, group: str, kind: str) -> None:
        target = self._ctx.runtime.target(target_name)
        received = True  # since the last failure (a failing loop queues once)
        while True:
            try:
                async for event in target.watch(group, kind):
                    received = True
                    self._on_event(event)
            except errors.GitwardError as exc:
                _log.warning("watch failed", kind=kind, group=group, error=str(exc))
            await asyncio.sleep(_RECONNECT)
            if received:
                self._lost(target_name, group, kind)
            received = False

    def _lost(self, target_name: str, group: str, kind: str) -> None:
        """Events of ``kind`` may have been missed: look at its users again."""
        ctx = self._ctx
        what = f"{kind}.{group}" if group else kind
        for name, state in ctx.apps.items():
            if state.app.spec.destination.target == target_name and any(
                k.group == group and k.kind == kind for k in state.managed_keys
            ):
                ctx.queue.add(name, f"watch of {what} restarted")

    def _on_event(self, event: targets.WatchEvent) -> None:
        ctx = self._ctx
        meta = event.object.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(resources.APP_LABEL)
        if not owner or owner not in ctx.apps:
            return
        state = ctx.apps[owner]
        if event.key not in state.managed_keys:
            return
        queue = ctx.queue
        self._latest.pop(event.key, None)
        if event.type is targets.WatchEventType.DELETED:
            self._seen.pop(event.key, None)
            queue.add(owner, f"live change DELETED {event.key}", delay=_DEBOUNCE)
            return
        current = decisions.fingerprint(event.object)
        change = decisions.classify(self._seen.get(event.key), current)
        self._seen[event.key] = current
        if change is decisions.Change.OWN_WRITE:
            return
        if change is decisions.Change.STATUS:
            # Only status moved (a rollout progressing): refresh health, no re-plan.
            self._latest[event.key] = event.object
            queue.add(owner, f"{queueing.HEALTH_REASON} {event.key}", delay=_DEBOUNCE)
            return
        queue.add(owner, f"live change {event.type.value} {event.key}", delay=_DEBOUNCE)
