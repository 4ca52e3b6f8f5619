"""Chart versions written to Git: the agent's chart policies (``chartPolicies``).

Per policy, :func:`check_policy` resolves the newest chart version its range
allows (through the same chart source as Applications: the index with
conditional requests, or the registry's tags; the archive verified and
cached), and when that version moved, commits it wherever ``update.path``
pins the chart: the ``version`` of an Application's ``source`` or of an entry
of its ``sources`` naming that repository and chart, and the ``version`` of a
``Chart.yaml`` dependency on it. Edits keep every other byte
(``images.rewriting``); the push goes through ``source.committing`` (re-applied
on a newer head if another push lands first). Nothing is applied directly:
the Applications sync the commit like any other. :func:`watch_charts` runs
every policy until cancelled; the agent starts it beside the image policies.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from gitward import errors
from gitward.config import charts as charts_config
from gitward.engine import imaging, policy_rounds, runtimes
from gitward.images import locating, rewriting
from gitward.source import charts, committing

_log = structlog.get_logger(__name__)


class ChartNotInGit(errors.InputError):
    """A chart policy's ``update.path`` names the chart nowhere."""

    reason = "ChartNotInGit"


@dataclass(slots=True)
class PolicyStatus:
    """What the agent last saw for one chart policy."""

    latest: str = ""  # newest version the range allows
    committed: str = ""  # last version known to be in Git
    commit: str = ""  # sha of gitward's last commit for this policy
    error: str = ""
    reason: str = ""
    checked_at: datetime | None = None


def _same(url: object, wanted: str) -> bool:
    return isinstance(url, str) and url.strip().rstrip("/") == wanted.rstrip("/")


def _names_chart(source: Any, policy: charts_config.ChartPolicy) -> bool:
    if not isinstance(source, Mapping):
        return False
    url = source.get("repoURL")
    if policy.repo_url.startswith("oci://"):
        # A source pinned by digest is left alone: someone pinned it on purpose.
        return _same(url, policy.repo_url)
    return _same(url, policy.repo_url) and source.get("chart") == policy.chart


def _dependency(dependency: Any, policy: charts_config.ChartPolicy) -> bool:
    if not isinstance(dependency, Mapping):
        return False
    name, repository = dependency.get("name"), dependency.get("repository")
    if policy.repo_url.startswith("oci://"):
        parent, _, chart = policy.repo_url.rstrip("/").rpartition("/")
        return name == chart and _same(repository, parent)
    return name == policy.chart and _same(repository, policy.repo_url)


def changes_in(
    text: str, file: str, policy: charts_config.ChartPolicy, version: str
) -> tuple[list[rewriting.Change], list[str]]:
    """The edits setting ``version`` in ``text`` and the versions they replace."""
    changes: list[rewriting.Change] = []
    olds: list[str] = []

    def pin(document: int, path: tuple[str | int, ...], holder: Mapping[str, Any]) -> None:
        current = holder.get("version")
        if str(current or "") != version:
            after = "chart" if "chart" in holder else "repoURL"
            changes.append(rewriting.Change(document, path, "version", version, after=after))
            olds.append(str(current or "(newest)"))

    for index, document in enumerate(rewriting.load(text, file)):
        if not isinstance(document, Mapping):
            continue
        if file.rpartition("/")[2] == "Chart.yaml":
            for position, dependency in enumerate(document.get("dependencies") or []):
                if _dependency(dependency, policy):
                    pin(index, ("dependencies", position), dependency)
            continue
        if document.get("kind") != "Application" or not isinstance(document.get("spec"), Mapping):
            continue
        spec = document["spec"]
        if _names_chart(spec.get("source"), policy):
            pin(index, ("spec", "source"), spec["source"])
        for position, source in enumerate(spec.get("sources") or []):
            if _names_chart(source, policy):
                pin(index, ("spec", "sources", position), source)
    return changes, olds


def edit_tree(
    root: Path, policy: charts_config.ChartPolicy, chart: str, version: str
) -> str | None:
    """Set ``version`` under ``root/update.path``; the commit message, or None if nothing moved.

    Raises :class:`ChartNotInGit` when no file names the chart, so a
    misdirected policy is visible.
    """
    path = policy.update.path
    edited: dict[str, str] = {}
    olds: list[str] = []
    found = False
    for file in locating.yaml_files(root, path):
        text = (root / file).read_bytes().decode("utf-8", "replace")
        if chart not in text:
            continue
        changes, replaced = changes_in(text, file, policy, version)
        found = found or bool(changes) or f"version: {version}" in text
        if changes:
            edited[file] = rewriting.apply(text, changes, where=file)
            olds.extend(replaced)
    if not edited:
        if not found:
            raise ChartNotInGit(
                f"chart policy {policy.name}: no Application source or Chart.yaml dependency "
                f"under {path or '/'!r} names chart {chart} from {policy.repo_url}"
            )
        return None
    for file, text in edited.items():
        (root / file).write_bytes(text.encode("utf-8"))
    old = ", ".join(dict.fromkeys(olds))
    return (
        "\n".join(
            [
                f"Set chart {chart} to {version} (was {old}) in {path or '/'}",
                "",
                f"Chart: {chart} from {policy.repo_url}",
                f"Old: {old}",
                f"New: {version}",
                "Files:",
                *(f"  {file}" for file in edited),
                f"Policy: chart policy {policy.name}",
            ]
        )
        + "\n"
    )


async def check_policy(
    runtime: runtimes.Runtime,
    policy: charts_config.ChartPolicy,
    status: PolicyStatus,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> committing.Pushed | None:
    """One round: resolve the newest allowed version, commit it when it moved."""
    spec = charts.ChartSpec(repo_url=policy.repo_url, chart=policy.chart, version=policy.range)
    revision = await runtime.charts.resolve(spec)
    status.checked_at = clock()
    status.latest = revision.version
    if revision.version == status.committed:
        return None
    update = policy.update

    def change(workdir: Path) -> str | None:
        return edit_tree(workdir, policy, revision.chart, revision.version)

    pushed = await committing.change_and_push(
        runtime.repo(update.repo_url),
        update.branch,
        change,
        author=committing.Author(update.author.name, update.author.email),
        cache_dir=runtime.sources.cache_dir,
        paths=imaging.sparse_paths(update.path) or None,
    )
    status.committed = revision.version
    if pushed is not None:
        status.commit = pushed.sha
        _log.info(
            "chart policy committed a new version",
            policy=policy.name,
            chart=revision.chart,
            version=revision.version,
            commit=pushed.sha,
            branch=pushed.branch,
        )
    return pushed


async def watch_charts(
    runtime: runtimes.Runtime,
    policies: Sequence[charts_config.ChartPolicy],
    *,
    statuses: dict[str, PolicyStatus] | None = None,
    on_commit: Callable[[str, committing.Pushed], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_backoff: float = 3600.0,
) -> None:
    """Run every chart policy until cancelled, one task each; a failed round is logged,
    recorded in ``statuses`` and retried with exponential backoff from the interval
    (``policy_rounds``)."""
    await policy_rounds.run(
        "chart",
        [
            policy_rounds.Policy(p.name, p.interval, functools.partial(check_policy, runtime, p))
            for p in policies
        ],
        PolicyStatus,
        statuses=statuses,
        on_commit=on_commit,
        sleep=sleep,
        max_backoff=max_backoff,
    )
