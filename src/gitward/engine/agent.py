"""The GitOps agent: continuous reconciliation of every Application declared in Git.

One asyncio process. :class:`Agent` owns the work queue and these tasks:

* the **root poller** reads the app-of-apps root on every new commit and adds,
  updates or stops Applications (``engine.catalog``);
* one **repository poller** per repository URL fetches every
  ``poll_interval`` (jittered), and queues the Applications whose ref moved;
  webhooks call :meth:`Agent.push` for the same effect at once;
* one **watch** per kind per target (shared by every Application, see
  ``targets.kubernetes.watching``) queues the Application owning a changed
  object: drift is seen as it happens, not at the next interval;
* a **resync** ticker queues Applications whose last full reconcile is older
  than their ``syncPolicy.interval``;
* ``workers`` **workers** take Applications from the queue and run
  :meth:`Agent.reconcile`.

A reconcile plans once and decides: apply (a new revision with automated
sync, or drift with selfHeal), report (OutOfSync, drift), or do nothing. Each
failure sets one named reason in the ``Reconciled`` condition and schedules a
retry with the Application's backoff; a new revision resets the retries and
cancels a sync still running for an older one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from gitward import errors
from gitward.config import applications
from gitward.config import settings as config_settings
from gitward.engine import (
    catalog,
    decisions,
    imaging,
    metrics,
    persisting,
    policies,
    queueing,
    reconciling,
    rollbacks,
    runtimes,
    states,
    waiting,
)
from gitward.health import assessing
from gitward.model import operations, plans, resources, status
from gitward.source import base as source_base
from gitward.source import committing, webhooks
from gitward.store import base as store_base
from gitward.targets import base as targets

_log = structlog.get_logger(__name__)

# Watch events arrive in bursts (a rollout touches an object many times);
# queue the owner a moment later so one reconcile covers the burst.
_WATCH_DEBOUNCE = 0.2
_DEPENDENCY_RECHECK = 5.0
_HEALTH_REASON = "status changed"
# Reasons that only say "the repository has a new commit".
_COMMIT_REASONS = ("new commit", "webhook push")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AgentOptions:
    workers: int = 4
    poll_interval: float = 60.0
    jitter: float = 0.1  # +/- fraction of the poll interval
    tick: float = 1.0  # resync check period


class Agent:
    def __init__(
        self,
        settings: config_settings.Settings,
        runtime: runtimes.Runtime,
        store: store_base.Store,
        *,
        options: AgentOptions | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if settings.root is None:
            raise errors.ConfigError("the agent needs `root`: where Applications are declared")
        self.settings = settings
        self.runtime = runtime
        self.store = store
        self.options = options or AgentOptions(
            workers=settings.workers, poll_interval=settings.poll_interval
        )
        self.clock = clock
        self.queue = queueing.WorkQueue()
        self.metrics = runtime.metrics
        self.metrics.track_queue(lambda: len(self.queue))
        self.apps: dict[str, states.AppState] = {}
        self.catalog: catalog.Catalog | None = None
        self.root_revision = ""
        self.ready = asyncio.Event()
        self._pollers: dict[str, asyncio.Task[None]] = {}
        self._watches: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self._running: dict[str, tuple[asyncio.Task[None], str]] = {}
        self._last_full: dict[str, float] = {}
        # Per managed object: what gitward last wrote or saw (see decisions.fingerprint).
        self._seen: dict[resources.ResourceKey, decisions.Fingerprint] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._root_wakeup = asyncio.Event()
        self._listeners: list[Callable[[str], None]] = []
        self.image_statuses: dict[str, imaging.PolicyStatus] = {}
        # Statuses saved by a previous run, applied to Applications as the
        # catalog declares them again (restart without re-applying).
        self._restored: dict[str, store_base.AppRecord] = {}

    # --- lifecycle --------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled."""
        recovered = await self.store.recover_interrupted(self.clock())
        if recovered:
            _log.warning("operations interrupted by a restart marked failed", ids=recovered)
        self._restored = {record.name: record for record in await self.store.list_status()}
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._root_loop())
                group.create_task(self._resync_loop())
                if self.settings.image_policies:
                    group.create_task(
                        imaging.watch_images(
                            self.runtime,
                            self.settings.image_policies,
                            statuses=self.image_statuses,
                            on_commit=self._image_committed,
                        )
                    )
                for _ in range(self.options.workers):
                    group.create_task(self._worker())
        finally:
            self.queue.close()
            for task in [*self._pollers.values(), *self._watches.values(), *self._tasks]:
                task.cancel()

    def _image_committed(self, policy: str, pushed: committing.Pushed) -> None:
        """An image policy pushed a commit: fetch it now rather than at the next poll."""
        spec = next(p for p in self.settings.image_policies if p.name == policy)
        task = asyncio.create_task(self._refresh_repository(spec.update.repo_url, policy, pushed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh_repository(self, url: str, policy: str, pushed: committing.Pushed) -> None:
        await self._fetch(url)
        resolved: dict[tuple[str, str], str] = {}
        wanted = webhooks.normalise_url(url)
        for state in list(self.apps.values()):
            if webhooks.normalise_url(state.app.spec.source.repo_url) != wanted:
                continue
            if await self._ref_moved(state, resolved):
                self.queue.add(state.name, f"new commit {pushed.sha[:12]} by image policy {policy}")

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """``listener(app)`` is called after every status change (API live updates)."""
        self._listeners.append(listener)

    # --- people and webhooks -----------------------------------------------------------

    def refresh(self, name: str, reason: str = "refresh requested") -> None:
        self._known(name)
        self.queue.add(name, reason)

    async def push(self, event: webhooks.PushEvent) -> list[str]:
        """A push webhook: fetch the repository now and queue its Applications.

        Returns the names of the Applications queued.
        """
        pushed = {webhooks.normalise_url(url) for url in event.repo_urls}
        root = self.settings.root
        if root is not None and webhooks.normalise_url(root.repo_url) in pushed:
            self._root_wakeup.set()
        queued = []
        by_url: dict[str, list[states.AppState]] = {}
        for state in self.apps.values():
            url = webhooks.normalise_url(state.app.spec.source.repo_url)
            if url in pushed:
                by_url.setdefault(state.app.spec.source.repo_url, []).append(state)
        for url, affected in by_url.items():
            await self._fetch(url)
            resolved: dict[tuple[str, str], str] = {}
            for state in affected:
                if await self._ref_moved(state, resolved):
                    self.queue.add(state.name, f"webhook push {event.after[:12]}")
                    queued.append(state.name)
        return queued

    async def suspend(self, name: str, suspended: bool) -> None:
        state = self._known(name)
        state.suspended = suspended
        await self._save(state)
        self.queue.add(name, "resumed" if not suspended else "suspended")

    async def pin(self, name: str, revision: str) -> None:
        """Hold an Application at ``revision`` (rollback --to): it is synced to
        it now, and automated sync pauses until :meth:`unpin`."""
        state = self._known(name)
        state.pinned_revision = revision
        state.set_condition(
            states.PINNED,
            True,
            "Pinned",
            f"pinned to {revision[:12]}: automated sync paused until released",
            self.clock(),
        )
        await self._save(state)
        await self.sync_now(name, revision=revision, trigger=f"rollback to {revision[:12]}")

    async def unpin(self, name: str) -> None:
        state = self._known(name)
        state.pinned_revision = ""
        state.conditions.pop(states.PINNED, None)
        await self._save(state)
        await self._event(name, "Normal", "Unpinned", "pin released: automated sync resumes")
        self.queue.add(name, "pin released")

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
        state = self._known(name)
        report = await self._sync_recorded(
            state,
            trigger=trigger,
            revision=revision or state.pinned_revision,
            prune=prune,
            dry_run=dry_run,
        )
        self.queue.add(name, "after manual sync")
        return report

    async def rollback(
        self, name: str, *, to: str | None = None, commit: str | None = None
    ) -> rollbacks.RollbackResult:
        """``gitward rollback``: revert the breaking commits, or pin (``to``)."""
        return await rollbacks.rollback(self, name, to=to, commit=commit)

    async def record_event(
        self, app: str, type_: str, reason: str, message: str, revision: str = ""
    ) -> None:
        """Add an event to the log (for actions taken outside a reconcile)."""
        await self._event(app, type_, reason, message, revision)

    def _project(self, app: applications.Application) -> applications.Project | None:
        projects = dict(self.catalog.projects) if self.catalog is not None else None
        return policies.project_for(app, projects)

    def _known(self, name: str) -> states.AppState:
        state = self.apps.get(name)
        if state is None:
            raise errors.ConfigError(f"Application {name!r} is not declared")
        return state

    # --- the root: Applications from Git -----------------------------------------------

    async def _root_loop(self) -> None:
        root = self.settings.root
        assert root is not None
        repo = self.runtime.repo(root.repo_url)
        while True:
            try:
                await self.runtime.sources.fetch(repo)
                revision = await self.runtime.sources.resolve(repo, root.ref)
                if revision.sha != self.root_revision:
                    tree = self.runtime.sources.tree(repo, revision.sha)
                    loaded = await asyncio.to_thread(catalog.load, tree, root.path, self.catalog)
                    await self._apply_catalog(loaded)
                    self.root_revision = revision.sha
            except errors.GitwardError as exc:
                _log.warning("applications root unavailable", error=str(exc))
                await self._event("", "Warning", exc.reason, f"applications root: {exc}")
            self.ready.set()
            self._root_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._root_wakeup.wait(), self._jittered())

    async def _apply_catalog(self, loaded: catalog.Catalog) -> None:
        # Before anything is queued: workers read Projects from it.
        self.catalog = loaded
        for problem in loaded.problems:
            await self._event("", "Warning", "InvalidSpec", problem)
        for name, declared in loaded.apps.items():
            state = self.apps.get(name)
            if state is None:
                state = states.AppState(app=declared.app, file=declared.file)
                restored = self._restored.pop(name, None)
                if restored is not None:
                    persisting.restore(state, restored)
                self.apps[name] = state
                await self._event(name, "Normal", "Added", f"declared in {declared.file}")
                self.queue.add(name, "declared")
            elif state.app != declared.app:
                state.app, state.file = declared.app, declared.file
                self.queue.add(name, "definition changed")
            self._ensure_poller(declared.app.spec.source.repo_url)
        for name in [n for n in self.apps if n not in loaded.apps]:
            state = self.apps.pop(name)
            self.queue.forget(name)
            await self._removed(state)

    async def _removed(self, state: states.AppState) -> None:
        """An Application left Git: stop reconciling it; delete what it managed
        only when its policy says so (``syncPolicy.cascadeDelete``)."""
        running = self._running.get(state.name)
        if running is not None:
            running[0].cancel()
        if state.app.spec.sync_policy.cascade_delete:
            target = self.runtime.target(state.app.spec.destination.target)
            try:
                inventory = await target.inventory(state.name)
                for obj in reversed(inventory):
                    key = resources.ResourceKey.of(obj)
                    meta = obj.get("metadata") or {}
                    options = (meta.get("annotations") or {}).get(
                        resources.SYNC_OPTIONS_ANNOTATION, ""
                    )
                    if "Delete=false" in options:
                        continue
                    await target.delete(key, uid=str(meta.get("uid") or ""))
            except errors.GitwardError as exc:
                await self._event(state.name, "Warning", exc.reason, f"cascade delete: {exc}")
        self.metrics.forget(state.name)
        await self.store.delete_app(state.name)
        await self._event(state.name, "Normal", "Removed", "no longer declared in Git")

    # --- triggers ---------------------------------------------------------------------------

    def _jittered(self) -> float:
        spread = self.options.poll_interval * self.options.jitter
        return max(0.05, self.options.poll_interval + random.uniform(-spread, spread))  # noqa: S311

    def _ensure_poller(self, url: str) -> None:
        if url not in self._pollers:
            self._pollers[url] = asyncio.create_task(self._poll(url), name=f"poll {url}")

    async def _fetch(self, url: str) -> source_base.FetchResult | None:
        try:
            with self.metrics.git_fetch(url):
                return await self.runtime.sources.fetch(self.runtime.repo(url))
        except errors.GitwardError as exc:
            _log.warning("fetch failed", error=str(exc))
            return None

    async def _poll(self, url: str) -> None:
        while True:
            await asyncio.sleep(self._jittered())
            users = [s for s in self.apps.values() if s.app.spec.source.repo_url == url]
            if not users:
                self._pollers.pop(url, None)
                return
            fetched = await self._fetch(url)
            resolved: dict[tuple[str, str], str] = {}
            for state in users:
                await self._note_source(state, fetched)
                if await self._ref_moved(state, resolved):
                    self.queue.add(state.name, "new commit (poll)")

    async def _note_source(
        self, state: states.AppState, fetched: source_base.FetchResult | None
    ) -> None:
        """Say at once when a repository becomes unreachable or comes back; the
        Application keeps running on its last fetched commit meanwhile."""
        now = self.clock()
        current = state.conditions.get(states.SOURCE_AVAILABLE)
        was_ok = current is None or current.status
        if fetched is None or fetched.stale:
            message = fetched.error if fetched is not None else "fetch failed"
            if was_ok:
                state.set_condition(
                    states.SOURCE_AVAILABLE,
                    False,
                    "SourceFailed",
                    f"serving the last fetched commit: {message}",
                    now,
                )
                await self._event(state.name, "Warning", "SourceFailed", message)
                await self._save(state)
        elif not was_ok:
            state.set_condition(states.SOURCE_AVAILABLE, True, "Fetched", "", now)
            await self._event(state.name, "Normal", "SourceRecovered", "repository reachable again")
            await self._save(state)
            self.queue.add(state.name, "source recovered")

    async def _ref_moved(
        self, state: states.AppState, resolved: dict[tuple[str, str], str] | None = None
    ) -> bool:
        """Whether the Application's ref now names another commit.

        ``resolved`` memoises (url, ref) → sha for one pass over many
        Applications: in a monorepo, 200 Applications on ``main`` cost one
        resolve, not 200.
        """
        if state.pinned_revision:
            return False
        source = state.app.spec.source
        memo = (source.repo_url, source.ref)
        sha = resolved.get(memo) if resolved is not None else None
        if sha is None:
            try:
                revision = await self.runtime.sources.resolve(
                    self.runtime.repo(source.repo_url), source.ref
                )
            except errors.GitwardError:
                return True  # let the reconcile report it
            sha = revision.sha
            if resolved is not None:
                resolved[memo] = sha
        if sha != state.revision:
            running = self._running.get(state.name)
            if running is not None and running[1] and running[1] != sha:
                # A newer revision supersedes a sync still running or waiting.
                running[0].cancel()
            return True
        return False

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.tick)
            now = time.monotonic()
            for name, state in self.apps.items():
                last = self._last_full.get(name)
                if last is not None and now - last >= state.app.spec.sync_policy.interval:
                    self.queue.add(name, "resync interval")

    def _ensure_watches(self, state: states.AppState) -> None:
        target_name = state.app.spec.destination.target
        for key in sorted(state.managed_keys):
            ident = (target_name, key.group, key.kind)
            if ident not in self._watches:
                self._watches[ident] = asyncio.create_task(
                    self._watch(*ident), name=f"watch {target_name} {key.group_kind}"
                )

    async def _watch(self, target_name: str, group: str, kind: str) -> None:
        target = self.runtime.target(target_name)
        while True:
            try:
                async for event in target.watch(group, kind):
                    self._on_watch_event(event)
            except errors.GitwardError as exc:
                _log.warning("watch failed", kind=kind, group=group, error=str(exc))
            await asyncio.sleep(2.0)

    def _on_watch_event(self, event: targets.WatchEvent) -> None:
        meta = event.object.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(resources.APP_LABEL)
        if not owner or owner not in self.apps:
            return
        state = self.apps[owner]
        if event.key not in state.managed_keys:
            return
        if event.type is targets.WatchEventType.DELETED:
            self._seen.pop(event.key, None)
            self.queue.add(owner, f"live change DELETED {event.key}", delay=_WATCH_DEBOUNCE)
            return
        current = decisions.fingerprint(event.object)
        change = decisions.classify(self._seen.get(event.key), current)
        self._seen[event.key] = current
        if change is decisions.Change.OWN_WRITE:
            return
        if change is decisions.Change.STATUS:
            # Only status moved (a rollout progressing): refresh health, no re-plan.
            self.queue.add(owner, f"{_HEALTH_REASON} {event.key}", delay=_WATCH_DEBOUNCE)
            return
        self.queue.add(owner, f"live change {event.type.value} {event.key}", delay=_WATCH_DEBOUNCE)

    def _remember_write(self, key: resources.ResourceKey, live: Mapping[str, Any]) -> None:
        self._seen[key] = decisions.fingerprint(live)

    # --- workers -------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            try:
                state = self.apps.get(item.app)
                if state is not None:
                    task = asyncio.create_task(self.reconcile(state, item.reasons))
                    self._running[item.app] = (task, "")
                    try:
                        await task
                        reconciled = state.conditions.get(states.RECONCILED)
                        self.metrics.reconciled(item.app, reconciled is None or reconciled.status)
                    except asyncio.CancelledError:
                        current = asyncio.current_task()
                        if current is not None and current.cancelling():
                            task.cancel()
                            raise
                        self.queue.add(item.app, "superseded by a newer revision")
            except Exception:  # a bug in one reconcile must not stop the worker
                _log.exception("reconcile crashed", app=item.app)
                self.queue.add(item.app, "retry after an internal error", delay=10.0)
            finally:
                self._running.pop(item.app, None)
                self.queue.done(item.app)

    async def reconcile(self, state: states.AppState, reasons: list[str]) -> None:
        """Plan once; apply, report or do nothing; record status and events."""
        now = self.clock()
        app = state.app
        state.reconciled_at = now
        if state.is_suspended:
            state.message = "suspended: not reconciled until resumed"
            await self._save(state)
            return
        if reasons and all(r.startswith(_HEALTH_REASON) for r in reasons):
            await self._refresh_health(state)
            await self._save(state)
            return
        # Only a full reconcile resets the resync clock (health refreshes do not).
        self._last_full[state.name] = time.monotonic()
        if not await self._dependencies_ready(state, now):
            await self._save(state)
            self.queue.add(state.name, "waiting for dependencies", delay=_DEPENDENCY_RECHECK)
            return
        try:
            project = self._project(app)
            policies.check_application(app, project)
            desired = await reconciling.desired_state(
                self.runtime,
                app,
                revision=state.pinned_revision,
                max_age=self.options.poll_interval,
                project=project,
            )
        except errors.SignatureError as exc:
            # Never apply an unverified commit; keep the last verified one
            # applied (and self-healed) meanwhile.
            state.set_condition(states.SOURCE_VERIFIED, False, exc.reason, str(exc), now)
            if not state.synced_revision:
                await self._stage_failed(state, exc, now)
                return
            await self._event(state.name, "Warning", exc.reason, str(exc))
            try:
                desired = await reconciling.desired_state(
                    self.runtime,
                    app,
                    revision=state.synced_revision,
                    project=project,
                    max_age=self.options.poll_interval,
                )
            except errors.GitwardError as again:
                await self._stage_failed(state, again, now)
                return
        except errors.GitwardError as exc:
            await self._stage_failed(state, exc, now)
            return
        else:
            if reconciling.signature_key_ref(app, project):
                state.set_condition(
                    states.SOURCE_VERIFIED,
                    True,
                    "Verified",
                    f"commit {desired.revision.sha[:12]} signature verified",
                    now,
                )
        state.previous_revision, state.revision = state.revision, desired.revision.sha
        self._set_source_condition(state, desired, now)
        if desired.revision.sha != state.failed_revision:
            state.failures = 0
        running = self._running.get(state.name)
        if running is not None:
            self._running[state.name] = (running[0], desired.revision.sha)
        if self._unchanged_inputs(state, desired, reasons):
            # A commit elsewhere in the repository: the render's inputs are
            # byte-for-byte those already applied, so the desired state is
            # too. Live drift is seen by the watches and the resync interval.
            state.synced_revision = desired.revision.sha
            await self._save(state)
            return
        try:
            plan = await reconciling.plan(self.runtime, app, desired, project=project)
        except errors.GitwardError as exc:
            await self._stage_failed(state, exc, now)
            return
        state.input_digest = desired.rendered.input_digest
        state.managed_keys = frozenset(
            c.key for c in plan.changes if c.desired is not None and not c.hook
        )
        state.out_of_sync = frozenset(c.key for c in plan.changes if c.is_change and not c.hook)
        self._ensure_watches(state)
        new_revision = desired.revision.sha != state.synced_revision
        if plan.in_sync:
            if state.drift_since is not None:
                await self._event(
                    state.name, "Normal", "DriftResolved", "live state equals Git again"
                )
            state.drift_since, state.drifted = None, ()
            state.sync = status.SyncStatus.SYNCED
            if new_revision and not plan.by_action(plans.Action.PRUNE):
                state.synced_revision = desired.revision.sha
            state.set_condition(states.RECONCILED, True, "Succeeded", "", now)
        else:
            state.sync = status.SyncStatus.OUT_OF_SYNC
            drift = not new_revision
            if drift:
                await self._drift_detected(state, plan, now)
            policy = app.spec.sync_policy
            self_heal = bool(policy.automated and policy.automated.self_heal)
            if state.automated and (new_revision or self_heal) and self._may_retry(state):
                report = await self._sync_recorded(
                    state, trigger=_trigger(reasons, drift), plan=plan, desired=desired
                )
                if report.operation.phase is operations.OperationPhase.SUCCEEDED:
                    if drift:
                        self.metrics.drift(state.name, metrics.DriftKind.CORRECTED)
                        await self._event(
                            state.name,
                            "Normal",
                            "DriftCorrected",
                            "live state set back to Git: " + ", ".join(state.drifted),
                        )
                    state.drift_since, state.drifted = None, ()
                    state.out_of_sync = frozenset()
            else:
                state.set_condition(
                    states.RECONCILED,
                    True,
                    "OutOfSync",
                    "automated sync is off" if not state.automated else "waiting for retry",
                    now,
                )
        await self._refresh_health(state)
        await self._save(state)

    async def _sync_recorded(
        self,
        state: states.AppState,
        *,
        trigger: str,
        plan: plans.Plan | None = None,
        desired: reconciling.Desired | None = None,
        revision: str = "",
        prune: bool | None = None,
        dry_run: bool = False,
    ) -> reconciling.SyncReport:
        """Sync with an Operation record that exists (Running) before anything is
        applied, so a crash leaves a trace the next start marks failed."""
        now = self.clock()
        app = state.app
        running = operations.Operation(
            app=state.name,
            revision=desired.revision
            if desired
            else operations.Revision(sha=revision or state.revision),
            trigger=trigger,
            started_at=now,
            dry_run=dry_run,
        )
        op_id = await self.store.start_operation(running)
        state.last_operation = op_id
        try:
            if plan is None or desired is None or prune is not None:
                report = await reconciling.sync(
                    self.runtime,
                    app,
                    trigger=trigger,
                    revision=revision,
                    prune=prune,
                    dry_run=dry_run,
                    project=self._project(app),
                )
            else:
                report = await reconciling.apply_plan(
                    self.runtime,
                    app,
                    desired.revision,
                    plan,
                    trigger=trigger,
                    started=now,
                    on_write=self._remember_write,
                )
        except asyncio.CancelledError:
            cancelled = operations.Operation(
                app=state.name,
                revision=running.revision,
                trigger=trigger,
                started_at=now,
                finished_at=self.clock(),
                phase=operations.OperationPhase.FAILED,
                message="superseded by a newer revision",
                reason="Superseded",
            )
            await asyncio.shield(self.store.finish_operation(op_id, cancelled))
            raise
        await self.store.finish_operation(op_id, report.operation)
        if dry_run:
            return report
        self.metrics.synced(
            state.name, report.operation.phase is operations.OperationPhase.SUCCEEDED
        )
        op = report.operation
        now = self.clock()
        if op.phase is operations.OperationPhase.SUCCEEDED:
            state.failures, state.failed_revision = 0, ""
            state.synced_revision = op.revision.sha
            state.sync = status.SyncStatus.SYNCED
            state.set_condition(states.RECONCILED, True, "Succeeded", op.message, now)
            await self._event(state.name, "Normal", "SyncSucceeded", op.message, op.revision.sha)
        else:
            state.failures += 1
            state.failed_revision = op.revision.sha
            state.set_condition(
                states.RECONCILED, False, op.reason or "SyncFailed", op.message, now
            )
            await self._event(
                state.name, "Warning", op.reason or "SyncFailed", op.message, op.revision.sha
            )
            self._schedule_retry(state)
        return report

    # --- decisions and bookkeeping ----------------------------------------------------------

    @staticmethod
    def _unchanged_inputs(
        state: states.AppState, desired: reconciling.Desired, reasons: list[str]
    ) -> bool:
        return (
            bool(reasons)
            and all(r.startswith(_COMMIT_REASONS) for r in reasons)
            and state.sync is status.SyncStatus.SYNCED
            and state.synced_revision == state.previous_revision
            and bool(state.input_digest)
            and desired.rendered.input_digest == state.input_digest
        )

    def _may_retry(self, state: states.AppState) -> bool:
        if state.failures == 0 or state.failed_revision != state.revision:
            return True
        return state.failures <= state.app.spec.sync_policy.retry.limit

    def _schedule_retry(self, state: states.AppState) -> None:
        retry = state.app.spec.sync_policy.retry
        delay = decisions.retry_delay(retry, state.failures)
        if delay is not None:
            self.queue.add(state.name, f"retry {state.failures}/{retry.limit}", delay=delay)

    async def _stage_failed(
        self, state: states.AppState, exc: errors.GitwardError, now: datetime
    ) -> None:
        state.set_condition(states.RECONCILED, False, exc.reason, str(exc), now)
        if isinstance(exc, errors.SourceUnavailable):
            state.set_condition(states.SOURCE_AVAILABLE, False, exc.reason, str(exc), now)
        if state.sync is not status.SyncStatus.SYNCED:
            state.sync = status.SyncStatus.UNKNOWN
        state.message = str(exc)
        await self._event(state.name, "Warning", exc.reason, str(exc))
        state.failures += 1
        state.failed_revision = state.revision
        self._schedule_retry(state)
        await self._save(state)

    def _set_source_condition(
        self, state: states.AppState, desired: reconciling.Desired, now: datetime
    ) -> None:
        if desired.stale_source:
            state.set_condition(
                states.SOURCE_AVAILABLE,
                False,
                "SourceFailed",
                f"serving the last fetched commit: {desired.stale_source}",
                now,
            )
        else:
            state.set_condition(states.SOURCE_AVAILABLE, True, "Fetched", "", now)

    async def _dependencies_ready(self, state: states.AppState, now: datetime) -> bool:
        waiting_for = []
        for dep in state.app.spec.depends_on:
            other = self.apps.get(dep)
            if other is None:
                waiting_for.append(f"{dep} (not declared)")
            elif not other.ready():
                waiting_for.append(f"{dep} ({other.sync.value}/{other.health.status.value})")
        if waiting_for:
            state.set_condition(
                states.DEPENDENCIES_READY,
                False,
                "WaitingForDependencies",
                "waiting for " + ", ".join(waiting_for),
                now,
            )
            state.message = "waiting for " + ", ".join(waiting_for)
            return False
        if state.app.spec.depends_on:
            state.set_condition(states.DEPENDENCIES_READY, True, "DependenciesReady", "", now)
        return True

    async def _drift_detected(
        self, state: states.AppState, plan: plans.Plan, now: datetime
    ) -> None:
        drifted = tuple(
            f"{c.key} {fc.path}" if fc.path else str(c.key)
            for c in plan.changes
            if c.is_change and not c.hook
            for fc in (c.field_changes or (plans.FieldChange("", None, None),))
        )
        if state.drift_since is None or drifted != state.drifted:
            await self._event(
                state.name,
                "Warning",
                "DriftDetected",
                "live differs from Git: " + ", ".join(drifted[:20]),
            )
        state.drift_since = state.drift_since or now
        state.drifted = drifted

    async def _refresh_health(self, state: states.AppState) -> None:
        if not state.managed_keys:
            state.health = status.HealthResult(status.HealthStatus.HEALTHY)
            state.resource_statuses = []
            return
        target = self.runtime.target(state.app.spec.destination.target)
        try:
            with self.metrics.stage(metrics.Stage.HEALTH):
                health = await waiting.assess(target, sorted(state.managed_keys))
        except errors.GitwardError as exc:
            state.health = status.HealthResult(status.HealthStatus.UNKNOWN, str(exc))
            return
        state.health = assessing.app_health(health)
        state.resource_statuses = [
            status.ResourceStatus(
                key=key,
                sync=status.SyncStatus.OUT_OF_SYNC
                if key in state.out_of_sync
                else status.SyncStatus.SYNCED,
                health=result,
            )
            for key, result in sorted(health.items())
        ]
        now = self.clock()
        ok = state.ready()
        state.set_condition(
            states.READY,
            ok,
            "Ready"
            if ok
            else (
                state.sync.value
                if state.sync is not status.SyncStatus.SYNCED
                else state.health.status.value
            ),
            state.health.message,
            now,
        )

    async def _save(self, state: states.AppState) -> None:
        await self.store.save_status(persisting.record(state, self.clock()))
        for listener in self._listeners:
            listener(state.name)

    async def _event(
        self, app: str, type_: str, reason: str, message: str, revision: str = ""
    ) -> None:
        await self.store.add_event(
            persisting.event(app, type_, reason, message, revision, self.clock())
        )
        for listener in self._listeners:
            listener(app)


def _trigger(reasons: list[str], drift: bool) -> str:
    if drift:
        return "self-heal: " + (reasons[0] if reasons else "drift")
    return "auto-sync: " + (reasons[0] if reasons else "new revision")


__all__ = ["Agent", "AgentOptions", "applications"]
