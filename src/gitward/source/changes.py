"""Which paths changed between two commits, so a push refreshes only the apps it touches.

Called by :class:`gitward.source.base.Sources` (and through it by the
engine's webhook handling). Only trees are compared (libgit2 skips identical
subtrees by id), never file contents, so a monorepo commit costs in
proportion to what it changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pygit2

from gitward import errors
from gitward.model import operations
from gitward.source import trees


def changed_paths(git_dir: Path, old_sha: str, new_sha: str, *, url: str = "") -> frozenset[str]:
    """Repository paths added, removed, modified or retyped from ``old_sha`` to ``new_sha``.

    A rename shows as both its old and new path; a submodule bump as the
    submodule's path. Raises :class:`gitward.errors.RevisionNotFound` naming a
    commit the mirror does not have.
    """
    repo = pygit2.Repository(str(git_dir))
    old_tree = _tree(repo, old_sha, url or str(git_dir))
    new_tree = _tree(repo, new_sha, url or str(git_dir))
    if old_tree.id == new_tree.id:
        return frozenset()
    diff = old_tree.diff_to_tree(new_tree)
    paths: set[str] = set()
    for delta in diff.deltas:
        paths.add(delta.old_file.path)
        paths.add(delta.new_file.path)
    return frozenset(paths)


def touches(changed: Iterable[str], roots: Iterable[str]) -> bool:
    """Whether any changed path is one of ``roots`` or below one (``""`` is everything).

    Symlinks make this an approximation for paths reached through a link; the
    render cache (keyed on content digests) is the exact check behind it.
    """
    prefixes = ["/".join(trees.split(root)) for root in roots]
    if "" in prefixes:
        return any(True for _ in changed)
    for path in changed:
        for prefix in prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return True
    return False


def _tree(repo: pygit2.Repository, sha: str, url: str) -> pygit2.Tree:
    try:
        tree: pygit2.Tree = repo[sha].peel(pygit2.Tree)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        raise errors.RevisionNotFound(f"commit {sha} not found in {url}") from None
    return tree


def commits_between(
    git_dir: Path, old_sha: str, new_sha: str, roots: Iterable[str] = (), *, url: str = ""
) -> list[str]:
    """Commits reachable from ``new_sha`` but not from ``old_sha``, newest first,
    keeping those that changed something under ``roots`` (all when empty).

    What a GitOps rollback reverts: the commits that brought an Application
    from its last good revision to the one that broke it.
    """
    repo = pygit2.Repository(str(git_dir))
    where = url or str(git_dir)
    _tree(repo, old_sha, where)
    _tree(repo, new_sha, where)
    walker = repo.walk(repo[new_sha].peel(pygit2.Commit).id, pygit2.enums.SortMode.TOPOLOGICAL)
    walker.hide(repo[old_sha].peel(pygit2.Commit).id)
    roots = list(roots)
    found: list[str] = []
    for commit in walker:
        if roots:
            parent = commit.parents[0].tree if commit.parents else None
            diff = (
                parent.diff_to_tree(commit.tree)
                if parent is not None
                else commit.tree.diff_to_tree()
            )
            paths = {p for d in diff.deltas for p in (d.old_file.path, d.new_file.path)}
            if not touches(paths, roots):
                continue
        found.append(str(commit.id))
    return found


def commit_log(
    git_dir: Path, old_sha: str, new_sha: str, roots: Iterable[str] = (), *, url: str = ""
) -> list[operations.Revision]:
    """The commits of :func:`commits_between` with their author, message and
    commit time, newest first; only ``new_sha`` itself when ``old_sha`` is ''.

    What the delivery figures measure lead time from (``engine.delivery``).
    """
    repo = pygit2.Repository(str(git_dir))
    where = url or str(git_dir)
    if old_sha:
        shas = commits_between(git_dir, old_sha, new_sha, roots, url=url)
    else:
        _tree(repo, new_sha, where)
        shas = [new_sha]
    found = []
    for sha in shas:
        commit = repo[sha].peel(pygit2.Commit)
        found.append(
            operations.Revision(
                sha=str(commit.id),
                author=f"{commit.author.name} <{commit.author.email}>",
                message=commit.message.strip(),
                committed_at=datetime.fromtimestamp(commit.commit_time, tz=UTC),
            )
        )
    return found
