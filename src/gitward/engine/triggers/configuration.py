"""The configuration trigger: targets and their labels, re-read while the agent runs.

Labelling a cluster ``env: staging`` in ``gitward.yaml`` is how it joins the
ApplicationSets that select staging, so a label change must not wait for a
restart. This trigger checks the configuration file (the one ``gitward serve
--config`` named) every ``interval`` seconds and at once on SIGHUP
(:meth:`Configuration.reload`). When ``targets`` changed it takes the new
labels and the new targets, updates the connection monitor, and wakes the
root trigger, which regenerates the sets. It never enqueues an Application
itself.

Only ``targets`` is taken live. A target whose connection settings changed
(kubeconfig, context, timeout...) keeps its connection until a restart, and
the agent says so with an event; a file that does not parse is reported and
the running configuration kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable
from pathlib import Path

import structlog

from gitward import errors
from gitward.config import settings as config_settings
from gitward.engine import context, documents

_log = structlog.get_logger(__name__)
DEFAULT_INTERVAL = 1.0


class Configuration:
    def __init__(
        self,
        ctx: context.Context,
        path: Path,
        *,
        on_targets: Callable[[config_settings.Settings], None],
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        """``on_targets(settings)`` is called after the targets changed."""
        self._ctx = ctx
        self._path = path
        self._on_targets = on_targets
        self._interval = interval
        self._digest = _digest(path)
        self._wakeup = asyncio.Event()
        # Targets the file declares (others may be registered as Secrets).
        self._from_file = set(ctx.settings.targets)

    def reload(self) -> None:
        """Read the file now (SIGHUP)."""
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval)
            self._wakeup.clear()
            digest = _digest(self._path)
            if digest == self._digest:
                continue
            self._digest = digest
            await self._read()

    async def _read(self) -> None:
        ctx = self._ctx
        try:
            fresh = await asyncio.to_thread(documents.load_settings, self._path)
        except errors.GitwardError as exc:
            _log.warning("configuration not reloaded", error=str(exc))
            await ctx.event("", "Warning", "ConfigurationInvalid", f"not reloaded: {exc}")
            return
        current = {n: t for n, t in ctx.settings.targets.items() if n in self._from_file}
        if fresh.targets == current:
            return
        for name, target in fresh.targets.items():
            before = current.get(name)
            if before is not None and _connection(before) != _connection(target):
                await ctx.event(
                    "",
                    "Warning",
                    "RestartRequired",
                    f"target {name!r}: connection settings changed; restart the agent to use them",
                )
        # Labels and new targets take effect now; an existing target keeps its
        # connection (and its connection settings) until a restart.
        merged = {
            name: (
                current[name].model_copy(update={"labels": target.labels})
                if name in current
                else target
            )
            for name, target in fresh.targets.items()
        }
        registered = {
            n: t
            for n, t in ctx.settings.targets.items()
            if n not in self._from_file and n not in merged
        }
        updated = ctx.settings.model_copy(update={"targets": {**registered, **merged}})
        ctx.settings = updated
        ctx.runtime.settings = updated
        self._from_file = set(merged)
        added = sorted(set(merged) - set(current))
        removed = sorted(set(current) - set(merged))
        for name in removed:
            await ctx.runtime.forget(name)
        await ctx.event(
            "",
            "Normal",
            "TargetsChanged",
            "targets reloaded from the configuration"
            + (f"; added {', '.join(added)}" if added else "")
            + (f"; removed {', '.join(removed)}" if removed else ""),
        )
        self._on_targets(updated)
        ctx.root_wakeup.set()


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _connection(target: config_settings.TargetSettings) -> object:
    return target.model_copy(update={"labels": {}})
