"""Collecting the history the delivery figures are computed from.

Reads each Application's Operations and events from the store (newest first,
page by page, back to a little before the window) and the commits each
deployment brought from the Git mirrors, then hands them to
:func:`computing.compute`. Called by the API (``GET /api/v1/delivery``), the
UI's delivery page, the metrics collector and ``gitward report delivery``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from gitward import errors
from gitward.config import applications, durations
from gitward.engine import catalog
from gitward.engine.delivery import computing
from gitward.model import operations, plans
from gitward.store import base as store_base

_log = structlog.get_logger(__name__)

_PAGE = 500
_CHANGED = frozenset(
    {operations.ResultCode.CREATED, operations.ResultCode.CONFIGURED, operations.ResultCode.PRUNED}
)
_SIGNALS = frozenset(
    {computing.DEPLOYED, computing.RECOVERED, computing.DEGRADED, *computing.ROLLBACK_REASONS}
)
# Operations that failed because another took over are not failures of a change.
_NOT_FAILURES = frozenset({"Superseded"})


@dataclass(frozen=True, slots=True)
class AppInfo:
    """What the figures need to know of an Application besides its history."""

    name: str
    project: str = "default"
    target: str = ""
    repo_url: str = ""
    path: str = ""


@dataclass(frozen=True, slots=True)
class Scope:
    app: str | None = None
    project: str | None = None
    target: str | None = None

    def includes(self, info: AppInfo) -> bool:
        return (
            self.app in (None, info.name)
            and self.project in (None, info.project)
            and self.target in (None, info.target)
        )

    def as_dict(self) -> dict[str, str | None]:
        return {"app": self.app, "project": self.project, "target": self.target}


_MAX_WINDOW = 366 * 86400.0


def parse_window(value: str, default: float) -> float:
    """A window as people write it (``30d``, ``2w``, ``12h``, ``90m``) in seconds;
    ``default`` when empty. ValueError naming the value when malformed."""
    value = value.strip()
    if not value:
        return default
    seconds: float | None = None
    for suffix, unit in (("d", 86400.0), ("w", 7 * 86400.0)):
        number = value.removesuffix(suffix)
        if number != value and number.replace(".", "", 1).isdigit():
            seconds = float(number) * unit
    if seconds is None:
        seconds = durations.parse(value)
    if not 0 < seconds <= _MAX_WINDOW:
        raise ValueError(f"since {value!r} must be a positive duration of at most 366d")
    return seconds


CommitLog = Callable[[AppInfo, str, str], Awaitable[list[operations.Revision]]]
"""The commits after the first revision up to the second, touching the app's path."""


def runtime_commit_log(runtime: Any) -> CommitLog:
    """A :data:`CommitLog` reading the runtime's local mirrors (no fetch)."""

    async def log(info: AppInfo, old: str, new: str) -> list[operations.Revision]:
        repo = runtime.repo(info.repo_url)
        roots = (info.path,) if info.path and info.path not in (".", "/") else ()
        found: list[operations.Revision] = await asyncio.to_thread(
            runtime.sources.commit_log, repo, old, new, roots
        )
        return found

    return log


async def _operations(
    store: store_base.Store, app: str, back_to: datetime
) -> list[store_base.OperationRecord]:
    found: list[store_base.OperationRecord] = []
    before: int | None = None
    while True:
        page = await store.list_operations(app, limit=_PAGE, before_id=before)
        found.extend(page)
        if len(page) < _PAGE or page[-1].operation.started_at < back_to:
            return found
        before = page[-1].id


async def _events(
    store: store_base.Store, app: str, back_to: datetime
) -> list[store_base.EventRecord]:
    found: list[store_base.EventRecord] = []
    before: int | None = None
    while True:
        page = await store.list_events(app=app, before_id=before, limit=_PAGE)
        found.extend(page)
        if len(page) < _PAGE or page[0].time < back_to:
            return found
        before = page[0].id


async def history(
    store: store_base.Store,
    info: AppInfo,
    *,
    since: datetime,
    failure_window: timedelta,
    commit_log: CommitLog | None,
) -> computing.AppHistory:
    """The history of one Application from a little before ``since`` on."""
    back_to = since - failure_window - timedelta(days=1)
    records = await _operations(store, info.name, back_to)
    syncs: list[computing.Sync] = []
    previous_deployed = ""
    for record in sorted(records, key=lambda r: r.id):
        op = record.operation
        if op.dry_run or op.phase is operations.OperationPhase.RUNNING or op.finished_at is None:
            continue
        succeeded = op.phase is operations.OperationPhase.SUCCEEDED
        if not succeeded and op.reason in _NOT_FAILURES:
            continue
        # Hooks (Jobs run around a sync) are not changes to what is deployed.
        changed = any(r.code in _CHANGED and r.phase is plans.Phase.SYNC for r in op.results)
        commits: tuple[computing.Commit, ...] = ()
        if succeeded and changed:
            commits = await _commits(info, previous_deployed, op.revision, commit_log)
            previous_deployed = op.revision.sha
        syncs.append(
            computing.Sync(
                revision=op.revision.sha,
                started=op.started_at,
                finished=op.finished_at,
                succeeded=succeeded,
                changed=changed,
                reason=op.reason,
                commits=commits,
            )
        )
    signals = tuple(
        computing.Signal(e.reason, e.time, e.revision)
        for e in await _events(store, info.name, back_to)
        if e.reason in _SIGNALS
    )
    return computing.AppHistory(
        name=info.name,
        project=info.project,
        target=info.target,
        syncs=tuple(syncs),
        signals=signals,
    )


async def _commits(
    info: AppInfo,
    previous: str,
    revision: operations.Revision,
    commit_log: CommitLog | None,
) -> tuple[computing.Commit, ...]:
    if previous == revision.sha:
        return ()
    if commit_log is not None and info.repo_url:
        try:
            found = await commit_log(info, previous, revision.sha)
        except errors.GitwardError as exc:
            _log.info("delivery figures: commits not readable", app=info.name, error=str(exc))
        else:
            return tuple(
                computing.Commit(c.sha, c.committed_at, c.message)
                for c in found
                if c.committed_at is not None
            )
    # Without the repository: the deployed commit alone, as the operation recorded it.
    if revision.committed_at is None:
        return ()
    return (computing.Commit(revision.sha, revision.committed_at, revision.message),)


async def report(
    store: store_base.Store,
    apps: Sequence[AppInfo],
    *,
    scope: Scope,
    since: datetime,
    until: datetime,
    failure_window: timedelta,
    commit_log: CommitLog | None = None,
) -> computing.Report:
    """The figures of the Applications in ``scope`` over ``[since, until)``."""
    chosen = [info for info in apps if scope.includes(info)]
    if scope.app is not None and not chosen:
        raise errors.ConfigError(f"Application {scope.app!r} is not known")
    histories = [
        await history(
            store, info, since=since, failure_window=failure_window, commit_log=commit_log
        )
        for info in chosen
    ]
    return computing.compute(histories, since=since, until=until, failure_window=failure_window)


def info(app: applications.Application) -> AppInfo:
    """The :class:`AppInfo` of a declared Application."""
    return AppInfo(
        name=app.name,
        project=app.metadata.project,
        target=app.spec.destination.target,
        repo_url=app.spec.source.repo_url,
        path=app.spec.source.path,
    )


async def infos(
    store: store_base.Store, declared: Sequence[applications.Application] = ()
) -> list[AppInfo]:
    """Every Application with a stored status or a declaration, by name; the
    declaration (repository, path, target) wins where both exist."""
    found = {
        record.name: AppInfo(record.name, record.project) for record in await store.list_status()
    }
    found.update({app.name: info(app) for app in declared})
    return [found[name] for name in sorted(found)]


async def declared_apps(runtime: Any) -> list[applications.Application]:
    """The Applications declared under the configured root, read from Git; the
    repositories they use are fetched so their commits can be read. [] (and a
    log line) when the root cannot be read: the figures then come from the
    store alone."""
    root = runtime.settings.root
    if root is None:
        return []
    sources = runtime.sources
    try:
        repo = runtime.repo(root.repo_url)
        await sources.fetch(repo)
        revision = await sources.resolve(repo, root.ref)
        tree = sources.tree(repo, revision.sha)
        loaded = await asyncio.to_thread(catalog.load, tree, root.path)
    except errors.GitwardError as exc:
        _log.warning("delivery figures: applications root unreadable", error=str(exc))
        return []
    apps = [declared.app for declared in loaded.apps.values()]
    for url in sorted({app.spec.source.repo_url for app in apps} - {root.repo_url}):
        try:
            await sources.fetch(runtime.repo(url))
        except errors.GitwardError as exc:
            _log.warning("delivery figures: repository unreadable", url=url, error=str(exc))
    return apps


async def for_agent(
    agent: Any,
    scope: Scope,
    *,
    since: datetime,
    until: datetime,
    visible: Callable[[str], bool] = lambda _name: True,
) -> computing.Report:
    """The figures of a running agent's Applications (``visible`` ones only)."""
    declared = [state.app for state in agent.apps.values()]
    apps = [a for a in await infos(agent.store, declared) if visible(a.name)]
    return await report(
        agent.store,
        apps,
        scope=scope,
        since=since,
        until=until,
        failure_window=timedelta(seconds=agent.settings.delivery_metrics.failure_window),
        commit_log=runtime_commit_log(agent.runtime),
    )
