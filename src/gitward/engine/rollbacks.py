"""GitOps rollback: revert the commits that broke an Application, or pin it.

Two ways, as ``gitward rollback`` offers them:

* **revert** (the GitOps way): the commits between the Application's last
  good revision and the current one that touched its path are reverted in
  one commit pushed to its branch (write credentials needed). Git stays the
  truth; the agent applies the revert like any other commit.
* **pin** (``--to REVISION``): the Application is held at an earlier revision
  with automated sync paused, and says so ("pinned") until released. For
  emergencies, when a push is not possible.

The "last good revision" is the newest successful operation's revision
before the current one; ``commit=`` names the commit to revert instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gitward import errors
from gitward.engine import runtimes, sourcing, states
from gitward.model import operations
from gitward.source import committing
from gitward.store import base as store_base

DEFAULT_AUTHOR = committing.Author(name="gitward rollback", email="rollback@gitward.invalid")


class Host(Protocol):
    """What a rollback needs of the running agent (``engine.loop.Agent``)."""

    @property
    def apps(self) -> dict[str, states.AppState]: ...

    @property
    def runtime(self) -> runtimes.Runtime: ...

    @property
    def store(self) -> store_base.Store: ...

    async def pin(self, name: str, revision: str) -> None: ...

    def refresh(self, name: str, reason: str = ...) -> None: ...

    async def record_event(
        self, app: str, type_: str, reason: str, message: str, revision: str = ...
    ) -> None: ...


async def _pin_sources(agent: Host, state: states.AppState, to: str | None) -> RollbackResult:
    # A chart's or several sources' revision is no single commit: there is no
    # Git history to revert, but a former revision resolves exactly again.
    if not to:
        raise errors.ConfigError(
            f"Application {state.name} reads a chart or several sources: a revert in Git "
            "cannot name its revision; pin a former one (rollback --to REVISION, from its history)"
        )
    resolved = await sourcing.resolve(agent.runtime, state.app, revision=to)
    await agent.pin(state.name, resolved.revision.sha)
    await agent.record_event(
        state.name,
        "Warning",
        "Pinned",
        f"pinned to {operations.short_revision(resolved.revision.sha)} by rollback; "
        "automated sync paused until released",
    )
    return RollbackResult("pin", resolved.revision.sha)


@dataclass(frozen=True, slots=True)
class RollbackResult:
    mode: str  # "revert" or "pin"
    revision: str  # the pinned revision, or the commit pushed
    reverted: tuple[str, ...] = ()
    pushed_sha: str = ""


async def rollback(
    agent: Host,
    name: str,
    *,
    to: str | None = None,
    commit: str | None = None,
    author: committing.Author = DEFAULT_AUTHOR,
) -> RollbackResult:
    state = agent.apps.get(name)
    if state is None:
        raise errors.ConfigError(f"Application {name!r} is not declared")
    if not sourcing.follows_one_commit(state.app):
        return await _pin_sources(agent, state, to)
    source = state.app.spec.source
    repo = agent.runtime.repo(source.repo_url)
    sources = agent.runtime.sources
    await sources.fetch(repo)
    if to:
        revision = await sources.resolve(repo, to)
        await agent.pin(name, revision.sha)
        await agent.record_event(
            name,
            "Warning",
            "Pinned",
            f"pinned to {revision.sha[:12]} by rollback; automated sync paused until released",
        )
        return RollbackResult("pin", revision.sha)
    current = await sources.resolve(repo, source.ref)
    branch = current.ref.removeprefix("refs/heads/")
    if branch == current.ref:
        raise errors.ConfigError(
            f"Application {name} follows {current.ref}, not a branch: a revert cannot be "
            "pushed there; pin a revision instead (rollback --to)"
        )
    if commit:
        commits = [(await sources.resolve(repo, commit)).sha]
    else:
        commits = await _breaking_commits(agent, state, current.sha)
    pushed = await committing.revert_and_push(
        repo,
        branch,
        commits,
        author=author,
        cache_dir=sources.cache_dir,
        message=f"Roll back {name}: revert {', '.join(c[:12] for c in commits)}",
    )
    await agent.record_event(
        name,
        "Normal",
        "RolledBack",
        f"reverted {', '.join(c[:12] for c in commits)} in {pushed.sha[:12]} on {branch}",
        pushed.sha,
    )
    await sources.fetch(repo)
    agent.refresh(name, "rollback pushed")
    return RollbackResult("revert", pushed.sha, tuple(commits), pushed.sha)


async def _breaking_commits(agent: Host, state: states.AppState, current: str) -> list[str]:
    good = ""
    for record in await agent.store.list_operations(state.name, limit=100):
        op = record.operation
        if (
            op.phase is operations.OperationPhase.SUCCEEDED
            and not op.dry_run
            and op.revision.sha
            and op.revision.sha != current
        ):
            good = op.revision.sha
            break
    if not good:
        raise errors.ConfigError(
            f"Application {state.name} has no earlier successful sync to roll back to; "
            "name the commit to revert (rollback --commit SHA) or pin a revision (--to)"
        )
    repo = agent.runtime.repo(state.app.spec.source.repo_url)
    roots = (state.app.spec.source.path,) if state.app.spec.source.path else ()
    commits = agent.runtime.sources.commits_between(repo, good, current, roots)
    if not commits:
        commits = agent.runtime.sources.commits_between(repo, good, current)
    if not commits:
        raise errors.ConfigError(
            f"Application {state.name}: no commit between {good[:12]} and {current[:12]} to revert"
        )
    return commits
