"""The root trigger: Applications declared in Git (app-of-apps).

Reads the root on every new commit (every poll interval, or at once after a
push to the root repository, or a poll of it that fetched something, sets
``Context.root_wakeup``) and adds, updates
or removes Applications (``engine.catalog``), queueing each one that changed.
With Applications also declared as cluster objects, the loop passes
``on_loaded``: the Git catalog is merged with them first
(``triggers.cluster_objects``), and :meth:`Root.apply` gets the result. Without
a ``root`` (cluster objects only) the trigger only says the agent is ready.

ApplicationSets of the root are expanded here too (``engine.fleet``), before
the catalog goes on: after a new root commit, and whenever what their
generators read changed — a repository a git generator reads moved, or the
targets' labels changed (the configuration and registration triggers wake
this one). When nothing they read changed, nothing is regenerated; when it
did but an Application came out equal, nothing of it is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from gitward import errors
from gitward.config import applications
from gitward.engine import catalog, context, fleet, persisting, states
from gitward.model import directives, resources
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)


class Root:
    def __init__(
        self,
        ctx: context.Context,
        *,
        on_declared: Callable[[applications.Application], None],
        on_loaded: Callable[[catalog.Catalog], Awaitable[None]] | None = None,
        polled: Callable[[str], bool] = lambda url: False,
    ) -> None:
        """``on_declared(app)`` is called for every Application the catalog declares;
        ``on_loaded(catalog)``, when given, receives each catalog read from Git
        instead of :meth:`apply`; ``polled(url)`` says whether a poller fetches
        that repository every interval."""
        self._ctx = ctx
        self._polled = polled
        self._on_declared = on_declared
        self._on_loaded = on_loaded or self.apply
        self._loaded: catalog.Catalog | None = None  # the root as read, sets not expanded
        self._generated: tuple[object, ...] = ()  # what the last expansion read

    async def run(self) -> None:
        ctx = self._ctx
        root = ctx.settings.root
        if root is None:
            ctx.ready.set()
            return
        repo = ctx.runtime.repo(root.repo_url)
        while True:
            try:
                await ctx.runtime.sources.fetch(repo, max_age=self._max_age(root.repo_url))
                revision = await ctx.runtime.sources.resolve(repo, root.ref)
                changed = revision.sha != ctx.root_revision
                if changed:
                    tree = ctx.runtime.sources.tree(repo, revision.sha)
                    self._loaded = await asyncio.to_thread(
                        catalog.load, tree, root.path, ctx.catalog
                    )
                loaded = self._loaded
                if loaded is not None and (changed or loaded.appsets):
                    await self._expand(loaded, changed)
                ctx.root_revision = revision.sha
            except store_base.StoreUnavailable as exc:
                # The store's fault, not the root's: read it again soon.
                await asyncio.sleep(ctx.store_health.failed(exc, "loading the root"))
                continue
            except errors.GitwardError as exc:
                _log.warning("applications root unavailable", error=str(exc))
                ctx.load_error = f"applications root: {exc}"
                await ctx.event("", "Warning", exc.reason, ctx.load_error)
            else:
                ctx.load_error = ""
                ctx.ready.set()
            ctx.root_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.root_wakeup.wait(), context.jittered(ctx.options))

    def _max_age(self, url: str) -> float:
        """How old a fetch of the root's repository may be for this read.

        In a monorepo the Applications' poller fetches the repository every
        interval and wakes this trigger when a fetch brought anything (a push
        webhook wakes it after fetching): its fetch serves the root too, so the
        repository is fetched once per interval, not twice. A fetch older than
        two intervals (the poller's failed) is made again here. Otherwise this
        trigger fetches on its own, reusing only one made since half an
        interval (a push webhook's)."""
        interval = self._ctx.options.poll_interval
        return 2 * interval if self._polled(url) else interval / 2

    async def _expand(self, loaded: catalog.Catalog, root_changed: bool) -> None:
        """Pass ``loaded`` on with its ApplicationSets expanded, unless neither
        the root nor anything the sets read changed since the last time."""
        ctx = self._ctx
        targets = fleet.targets_of(ctx.settings.targets)
        inputs, fingerprint = await fleet.gather(
            ctx.runtime, loaded, targets, max_age=ctx.options.poll_interval
        )
        if not root_changed and fingerprint == self._generated:
            return
        previous = persisting.expansion_base(ctx.catalog, ctx.restored)
        expanded = await asyncio.to_thread(catalog.expand, loaded, inputs, previous)
        await self._on_loaded(expanded)
        self._generated = fingerprint

    async def apply(self, loaded: catalog.Catalog) -> None:
        """Make ``loaded`` the catalog: add, update and remove Applications."""
        ctx = self._ctx
        before = ctx.catalog.projects if ctx.catalog is not None else None
        # Before anything is queued: workers read Projects from it.
        ctx.catalog = loaded
        # A Project that changed is reconciled against by each of its
        # Applications (a commit elsewhere does not re-plan them: engine.untouched).
        changed = (
            set()
            if before is None
            else {
                name
                for name in before.keys() | loaded.projects.keys()
                if before.get(name) != loaded.projects.get(name)
            }
        )
        for problem in loaded.problems:
            await ctx.event("", "Warning", "InvalidSpec", problem)
        added: list[tuple[str, str, str, str]] = []
        for name, declared in loaded.apps.items():
            state = ctx.apps.get(name)
            if state is None:
                state = states.AppState(app=declared.app, file=declared.file, owner=declared.owner)
                restored = ctx.restored.pop(name, None)
                if restored is not None:
                    persisting.restore(state, restored)
                ctx.apps[name] = state
                origin = (
                    f"generated by ApplicationSet {declared.owner!r} ({declared.file})"
                    if declared.owner
                    else f"declared in {declared.file}"
                )
                added.append((name, "Normal", "Added", origin))
            elif state.app is not declared.app and state.app != declared.app:
                state.app, state.file, state.owner = declared.app, declared.file, declared.owner
                ctx.queue.add(name, "definition changed")
            elif declared.app.metadata.project in changed:
                ctx.queue.add(name, "project changed")
            self._on_declared(declared.app)
        # Every new Application's Added event handed to the store at once, then
        # each is queued, so its log starts with Added. (Writing each event and
        # queueing its Application in turn, a cold start of 1,000 took seconds
        # to list them all: the store's thread wrote the rest while the first
        # ones were already being reconciled.)
        if added:
            await ctx.events(added)
        for name, *_ in added:
            ctx.queue.add(name, "declared")
        for name in [n for n in ctx.apps if n not in loaded.apps]:
            state = ctx.apps.pop(name)
            ctx.queue.forget(name)
            await self._removed(state)

    async def _removed(self, state: states.AppState) -> None:
        """An Application left Git (or its cluster object was deleted): stop
        reconciling it; delete what it managed only when its policy says so
        (``syncPolicy.cascadeDelete``)."""
        ctx = self._ctx
        running = ctx.running.get(state.name)
        if running is not None:
            running[0].cancel()
        # Only the owner deletes: another replica may be reconciling it still.
        if state.app.spec.sync_policy.cascade_delete and ctx.ownership.owns(state.name):
            target = ctx.runtime.target(state.app.spec.destination.target)
            try:
                inventory = await target.inventory(state.name)
                for obj in reversed(inventory):
                    key = resources.ResourceKey.of(obj)
                    meta = obj.get("metadata") or {}
                    # Delete=false (gitward's or Argo CD's annotation), Flux's
                    # reconcile: disabled: kept when the Application goes.
                    if not directives.options(meta.get("annotations") or {}).delete:
                        continue
                    await target.delete(key, uid=str(meta.get("uid") or ""))
            except errors.GitwardError as exc:
                await ctx.event(state.name, "Warning", exc.reason, f"cascade delete: {exc}")
        ctx.metrics.forget(state.name)
        ctx.owned.discard(state.name)
        await ctx.store.delete_app(state.name)
        await ctx.event(
            state.name,
            "Normal",
            "Removed",
            f"no longer generated by ApplicationSet {state.owner!r}"
            if state.owner
            else f"no longer declared (was in {state.file})",
        )
