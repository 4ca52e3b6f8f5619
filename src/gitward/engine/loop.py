"""The GitOps agent: continuous reconciliation of every Application declared in Git.

One asyncio process. :class:`Agent` wires the triggers (``engine.triggers``)
to the work queue (``engine.queueing``) and the queue to the workers
(``engine.workers``), then runs them all until cancelled:

    recover interrupted operations of owned Applications   (engine.recovery)
    restore the statuses saved by the previous run
    root        -> queue    Applications declared, changed, removed
    pollers     -> queue    a repository's ref moved, a newer chart (one poller per URL)
    pushes      -> queue    the same, at once (webhooks call Agent.push)
    watches     -> queue    a managed object changed on its target
    resync      -> queue    a full reconcile is due (syncPolicy.interval)
    images      -> queue    an image policy committed a new tag
    charts      -> queue    a chart policy committed a new chart version
    config      -> root     targets or their labels changed (ApplicationSets)
    rollouts    -> queue    a step of an ApplicationSet's rollout opened
    targets     -> queue    a target answers again (connection monitor)
    queue -> workers        reconcile one owned Application, record it
    replicas                lease, members, shard; others' statuses (engine.replicas)

Everything the parts share lives in one ``engine.context.Context``; which
Applications this process works on is ``engine.ownership``'s answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime

from gitward import errors
from gitward.config import settings as config_settings
from gitward.config import targets as config_targets
from gitward.engine import (
    catalog,
    cluster_catalog,
    context,
    fleet,
    gating,
    ownership,
    persisting,
    publishing,
    reachability,
    reconciling,
    recovery,
    replicas,
    requests,
    rollbacks,
    runtimes,
    storage,
    workers,
)
from gitward.engine.triggers import (
    charts,
    cluster_objects,
    configuration,
    images,
    polling,
    pushes,
    registrations,
    resyncing,
    roots,
    watches,
)
from gitward.source import webhooks
from gitward.store import base as store_base

AgentOptions = context.AgentOptions
utc_now = context.utc_now
_Catalog = catalog.Catalog  # Agent.catalog (a property) hides the module in the class


class Agent:
    def __init__(
        self,
        settings: config_settings.Settings,
        runtime: runtimes.Runtime,
        store: store_base.Store,
        *,
        options: AgentOptions | None = None,
        clock: Callable[[], datetime] = utc_now,
        owner: ownership.Ownership | None = None,
        open_store: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``open_store`` opens the store at start-up (default ``store.open``;
        ``gitward serve`` also takes the SQLite agent lock); it is retried,
        with the rest of the start-up, while it fails with a store error."""
        if settings.root is None and settings.cluster_objects is None:
            raise errors.ConfigError(
                "the agent needs `root` or `clusterObjects`: where Applications are declared"
            )
        options = options or AgentOptions(
            workers=settings.workers, poll_interval=settings.poll_interval
        )
        # Replicas: ownership from the coordinator, every target write fenced.
        self.replicas: replicas.Replicas | None = None
        if owner is None and settings.replicas.enabled:
            owner = replicas.build(settings, runtime.metrics)
        if isinstance(owner, replicas.Replicas):
            self.replicas = owner
            runtime.wrap = owner.wrap
        owner = owner or ownership.Everything()
        ctx = context.Context(settings, runtime, store, options=options, clock=clock, owner=owner)
        self.context = ctx
        self._open_store = open_store or store.open
        # What the edges (API, UI, CLI) read.
        self.settings, self.runtime, self.store = settings, runtime, store
        self.options, self.clock, self.metrics = options, clock, ctx.metrics
        self.queue, self.apps, self.ready = ctx.queue, ctx.apps, ctx.ready
        self.image_statuses = ctx.image_statuses
        self.metrics.track_queue(lambda: len(ctx.queue))
        # The wiring: what one part's result means for another.
        self._watches = watches.Watches(ctx)
        self._pollers = polling.Pollers(ctx)
        # Applications declared as cluster objects join the Git catalog, and
        # every Application's status is written back to its object.
        self._cluster: cluster_objects.ClusterObjects | None = None
        self._publisher: publishing.Publisher | None = None
        declared = settings.cluster_objects
        if declared is not None:
            cluster = runtime.target(declared.target)
            self._cluster = cluster_objects.ClusterObjects(
                cluster, declared.namespaces, self._apply_merged
            )
            self._publisher = publishing.Publisher(
                cluster, declared.namespace, ctx.apps.get, store.get_operation, ctx.ownership.owns
            )
            ctx.subscribe(self._publisher.notify)
        self._root = roots.Root(
            ctx,
            on_declared=self._pollers.ensure_app,
            polled=self._pollers.polls,
            on_loaded=self._git_loaded if self._cluster is not None else None,
        )
        self._images = images.ImagePolicies(ctx)
        self._charts = charts.ChartPolicies(ctx)
        self.chart_statuses = self._charts.statuses
        # The fleet: whether each target answers, and rollouts of ApplicationSets.
        self.reachability = reachability.Monitor(
            [(name, dict(t.labels)) for name, t in settings.targets.items()],
            runtime.target,
            timeout=lambda name: _timeout(ctx.settings, name),
            on_change=self._target_changed,
        )
        self.gate = gating.Gate(ctx)
        config_file = runtime.options.config_file
        self._configuration = (
            configuration.Configuration(ctx, config_file, on_targets=self._targets_reloaded)
            if config_file is not None
            else None
        )
        secrets = settings.target_secrets
        self._registrations = (
            registrations.Registrations(ctx, secrets, on_targets=self._targets_reloaded)
            if secrets is not None
            else None
        )
        self._workers = workers.Workers(
            ctx,
            on_write=self._watches.remember,
            on_planned=self._watches.ensure,
            watched=self._watches.latest,
            gate=self.gate,
            monitor=self.reachability,
        )
        owner.subscribe(self._ownership_changed)

    @property
    def catalog(self) -> catalog.Catalog | None:
        return self.context.catalog

    @property
    def root_revision(self) -> str:
        return self.context.root_revision

    async def run(self) -> None:
        """Run until cancelled."""
        await storage.until_done(self.context.store_health, "starting", self._start)
        self.reachability.start()
        try:
            async with asyncio.TaskGroup() as group:
                if self.replicas is not None:
                    group.create_task(self.replicas.run(self.context))
                group.create_task(self._root.run())
                if self._configuration is not None:
                    group.create_task(self._configuration.run())
                if self._registrations is not None:
                    group.create_task(self._registrations.run())
                if self._cluster is not None and self._publisher is not None:
                    group.create_task(self._cluster.run())
                    group.create_task(self._publisher.run())
                group.create_task(resyncing.run(self.context))
                if self.settings.image_policies:
                    group.create_task(self._images.run())
                if self.settings.chart_policies:
                    group.create_task(self._charts.run())
                for _ in range(self.options.workers):
                    group.create_task(self._workers.run())
        finally:
            self.queue.close()
            self._pollers.stop()
            self._watches.stop()
            self._images.stop()
            self._charts.stop()
            await self.reachability.stop()
            await self.gate.stop()
            if self.replicas is not None:
                await self.replicas.close()

    async def _start(self) -> None:
        ctx = self.context
        await self._open_store()
        ctx.restored = {record.name: record for record in await self.store.list_status()}
        await recovery.recover(ctx)
        await self.gate.start()

    @property
    def problem(self) -> str:
        """Why the agent cannot make progress now (``/healthz``); empty when it can."""
        store = self.context.store_health.problem
        return f"store unavailable: {store}" if store else ""

    @property
    def load_error(self) -> str:
        """Why the Applications are not loaded yet (``/readyz``); empty if unknown."""
        return self.context.load_error

    def reload_configuration(self) -> None:
        """Re-read the configuration file's targets now (``gitward serve`` on SIGHUP)."""
        if self._configuration is not None:
            self._configuration.reload()

    def _targets_reloaded(self, settings: config_settings.Settings) -> None:
        self.settings = settings
        self.reachability.declare([(n, dict(t.labels)) for n, t in settings.targets.items()])

    def _target_changed(self, row: reachability.Connection) -> None:
        self.metrics.target_reachable(row.name, row.reachable)
        if row.reachable:
            # Applications that waited for it: reconcile them now.
            for name, state in self.apps.items():
                if state.app.spec.destination.target == row.name:
                    self.queue.add(name, f"target {row.name} reachable")

    async def _git_loaded(self, git: _Catalog) -> None:
        assert self._cluster is not None
        await self._apply_merged(self._cluster.merge(git))

    async def _apply_merged(self, merged: cluster_catalog.Merged) -> None:
        if merged.cluster_sets:
            expanded = await fleet.expand_some(
                self.runtime,
                merged.catalog,
                merged.cluster_sets,
                persisting.expansion_base(self.context.catalog, self.context.restored),
                max_age=self.options.poll_interval,
            )
            merged = dataclasses.replace(merged, catalog=expanded)
        await self._root.apply(merged.catalog)
        if self._publisher is not None:
            self._publisher.catalog_changed(merged)

    def _ownership_changed(self) -> None:
        # Queue everything again: the workers reconcile what is owned now
        # (recovering it first) and drop the rest. What is no longer owned
        # stops counting as reconciled here at once, so its new owner's status
        # is followed (engine.replicas) even when nothing queues it again here.
        for name in self.apps:
            if self.context.ownership.owns(name):
                self.queue.add(name, "ownership changed")
            else:
                self.context.owned.discard(name)
                self.queue.forget(name)
                running = self.context.running.get(name)
                if running is not None:
                    running[0].cancel()

    # --- what people and webhooks ask (API, CLI, UI) ---------------------------------

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """``listener(app)`` is called after every status change (API live updates)."""
        self.context.subscribe(listener)

    def refresh(self, name: str, reason: str = "refresh requested") -> None:
        requests.refresh(self.context, name, reason)

    async def push(self, event: webhooks.PushEvent) -> list[str]:
        """A verified push webhook; returns the names of the Applications queued."""
        return await pushes.push(self.context, event)

    async def suspend(self, name: str, suspended: bool) -> None:
        await requests.suspend(self.context, name, suspended)

    async def pin(self, name: str, revision: str) -> None:
        await requests.pin(self.context, name, revision)

    async def unpin(self, name: str) -> None:
        await requests.unpin(self.context, name)

    async def sync_now(
        self,
        name: str,
        *,
        prune: bool | None = None,
        dry_run: bool = False,
        revision: str = "",
        trigger: str = "manual",
    ) -> reconciling.SyncReport:
        """A sync a person asked for; runs now, in the caller's task."""
        return await requests.sync_now(
            self.context, name, prune=prune, dry_run=dry_run, revision=revision, trigger=trigger
        )

    async def rollback(
        self, name: str, *, to: str | None = None, commit: str | None = None
    ) -> rollbacks.RollbackResult:
        """``gitward rollback``: revert the breaking commits, or pin (``to``)."""
        return await rollbacks.rollback(self, name, to=to, commit=commit)

    async def record_event(
        self, app: str, type_: str, reason: str, message: str, revision: str = ""
    ) -> None:
        """Add an event to the log (for actions taken outside a reconcile)."""
        await self.context.event(app, type_, reason, message, revision)


def _timeout(settings: config_settings.Settings, target: str) -> float:
    declared = settings.targets.get(target)
    return declared.timeout if declared is not None else config_targets.DEFAULT_TIMEOUT
