"""What the source stage offers the engine: repository specs, results, and :class:`Sources`.

The engine builds a :class:`RepoSpec` per repository (from settings), then for
each Application: ``await sources.fetch(repo)`` (one fetch per URL however many
Applications call at once), ``await sources.resolve(repo, ref)`` (a
:class:`gitward.model.operations.Revision`), ``sources.tree(repo, sha)`` (a
``gitward.render.base.Tree`` for the render stage), and where asked
``await sources.verify(repo, sha, policy)``. Webhook handling calls
``sources.changed_paths(repo, old, new)`` to refresh only affected apps.

Availability policy (details in :mod:`gitward.source.mirrors`): a failed fetch
of a repository fetched before returns ``FetchResult(stale=True, error=...)``
and ``resolve`` answers from the last fetched refs, so the last fetched commit
stays usable while the server is down; only a repository never fetched
successfully raises :class:`gitward.errors.SourceUnavailable`.

:class:`Source` is the Protocol the engine depends on (a fake implements it in
``gitward.testing``); :class:`Sources` is the implementation over mirrors.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from gitward import errors
from gitward.model import operations
from gitward.source import changes, mirrors, repositories, resolving, signatures, trees

FetchResult = mirrors.FetchResult
RepoSpec = repositories.RepoSpec
SignaturePolicy = signatures.SignaturePolicy
Signer = signatures.Signer

_VERIFIED_CACHE_SIZE = 4096


class Source(Protocol):
    """What the engine needs from the source stage."""

    async def fetch(
        self, repo: RepoSpec, *, max_age: float = 0.0, strict: bool = False
    ) -> FetchResult: ...

    async def resolve(self, repo: RepoSpec, ref: str) -> operations.Revision: ...

    def tree(self, repo: RepoSpec, sha: str) -> trees.GitTree: ...

    def changed_paths(self, repo: RepoSpec, old_sha: str, new_sha: str) -> frozenset[str]: ...

    async def verify(
        self, repo: RepoSpec, sha: str, policy: signatures.SignaturePolicy
    ) -> signatures.Signer: ...


class Sources:
    """Git repositories through shared bare mirrors under ``cache_dir``."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        clock: mirrors.Clock = mirrors.utc_now,
        fetch_timeout: float = 30.0,
    ) -> None:
        self.cache_dir = cache_dir
        self.fetch_timeout = fetch_timeout
        self._mirrors = mirrors.Mirrors(cache_dir, clock=clock)
        self._verified: OrderedDict[tuple[str, str, signatures.SignaturePolicy], Signer] = (
            OrderedDict()
        )

    def _spec(self, repo: RepoSpec) -> RepoSpec:
        return repo if repo.timeout is not None else replace(repo, timeout=self.fetch_timeout)

    async def fetch(
        self, repo: RepoSpec, *, max_age: float = 0.0, strict: bool = False
    ) -> FetchResult:
        """Fetch branches and tags of ``repo`` into its mirror (shared by concurrent callers).

        ``max_age``: skip when the last successful fetch is at most that many
        seconds old. ``strict``: raise SourceUnavailable on failure even if an
        older fetch is usable.
        """
        return await self._mirrors.fetch(self._spec(repo), max_age=max_age, strict=strict)

    async def resolve(self, repo: RepoSpec, ref: str) -> operations.Revision:
        """The commit ``ref`` names (see :mod:`gitward.source.resolving` for the rules).

        Fetches first if the repository was never fetched. A full commit id or
        a ``refs/...`` name missing from the mirror is fetched on demand (a
        ref so fetched is kept up to date by later fetches). Raises
        :class:`gitward.errors.RevisionNotFound` naming the ref and URL.
        """
        mirror = self._mirrors.get(repo.url)
        if not mirror.fetched:
            await self.fetch(repo, strict=True)
        try:
            return await asyncio.to_thread(self._resolve_local, mirror, ref)
        except errors.RevisionNotFound:
            name = ref.strip()
            on_demand = resolving.on_demand_refspec(name)
            if on_demand is None:
                raise
            refspec, remember = on_demand
            try:
                await self._mirrors.fetch(
                    self._spec(repo), strict=True, extra_refspecs=(refspec,), remember=remember
                )
            except errors.RevisionNotFound:
                raise errors.RevisionNotFound(
                    f"ref {ref!r} not found in {mirror.display_url}"
                ) from None
            except errors.SourceUnavailable as exc:
                raise errors.RevisionNotFound(
                    f"{ref!r} is not on a branch or tag of {mirror.display_url}, and fetching it "
                    f"directly failed ({exc.message})"
                ) from None
            return await asyncio.to_thread(self._resolve_local, mirror, ref)

    @staticmethod
    def _resolve_local(mirror: mirrors.Mirror, ref: str) -> operations.Revision:
        repo = resolving.open_mirror(mirror.path)
        return resolving.resolve(repo, ref, url=mirror.display_url)

    def tree(self, repo: RepoSpec, sha: str) -> trees.GitTree:
        """The files of commit ``sha``, read from the mirror without a checkout."""
        mirror = self._mirrors.get(repo.url)
        if not mirror.exists:
            raise errors.RevisionNotFound(
                f"commit {sha} not found: {mirror.display_url} has not been fetched"
            )
        return trees.GitTree(mirror.path, sha, url=mirror.display_url)

    def changed_paths(self, repo: RepoSpec, old_sha: str, new_sha: str) -> frozenset[str]:
        """Paths that differ between two fetched commits (for webhook-driven refresh)."""
        mirror = self._mirrors.get(repo.url)
        if not mirror.exists:
            raise errors.RevisionNotFound(f"{mirror.display_url} has not been fetched")
        return changes.changed_paths(mirror.path, old_sha, new_sha, url=mirror.display_url)

    def commits_between(
        self, repo: RepoSpec, old_sha: str, new_sha: str, roots: tuple[str, ...] = ()
    ) -> list[str]:
        """Commits after ``old_sha`` up to ``new_sha`` touching ``roots``, newest first."""
        mirror = self._mirrors.get(repo.url)
        if not mirror.exists:
            raise errors.RevisionNotFound(f"{mirror.display_url} has not been fetched")
        return changes.commits_between(mirror.path, old_sha, new_sha, roots, url=mirror.display_url)

    def commit_log(
        self, repo: RepoSpec, old_sha: str, new_sha: str, roots: tuple[str, ...] = ()
    ) -> list[operations.Revision]:
        """The commits after ``old_sha`` up to ``new_sha`` touching ``roots``, with
        their times and messages, newest first (``changes.commit_log``)."""
        mirror = self._mirrors.get(repo.url)
        if not mirror.exists:
            raise errors.RevisionNotFound(f"{mirror.display_url} has not been fetched")
        return changes.commit_log(mirror.path, old_sha, new_sha, roots, url=mirror.display_url)

    async def verify(
        self, repo: RepoSpec, sha: str, policy: signatures.SignaturePolicy
    ) -> signatures.Signer:
        """The signer of ``sha`` if ``policy`` allows it, else SignatureError.

        Results are remembered per (repository, commit, policy): a commit's
        signature never changes.
        """
        mirror = self._mirrors.get(repo.url)
        if not mirror.exists:
            raise errors.RevisionNotFound(
                f"commit {sha} not found: {mirror.display_url} has not been fetched"
            )
        key = (mirror.path.name, sha, policy)
        found = self._verified.get(key)
        if found is not None:
            return found
        signer = await signatures.verify(
            mirror.path,
            sha,
            policy,
            url=mirror.display_url,
            time_limit=self._spec(repo).timeout or self.fetch_timeout,
        )
        self._verified[key] = signer
        while len(self._verified) > _VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return signer
