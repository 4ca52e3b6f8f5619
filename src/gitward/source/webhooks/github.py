"""GitHub (and GitHub Enterprise Server) deliveries: ``push`` and ``ping``.

Called by :func:`gitward.source.webhooks.parsing.parse`. Payload shape: the
documented ``push`` event (``ref``, ``before``, ``after``, ``created``,
``deleted``, ``forced``, ``commits[]`` with ``added``/``modified``/``removed``,
``repository`` with ``clone_url``/``ssh_url``/``git_url``/``html_url``,
``pusher``). GitHub sends one delivery per pushed ref, including deleted
refs (``deleted: true``), so its separate ``create`` and ``delete`` events
are ignored. Gitea and Forgejo also send ``X-GitHub-Event``; detection
prefers their own headers.
"""

from __future__ import annotations

from collections.abc import Callable

from gitward.source.webhooks import _payloads, events

# Beyond these the commit list or a commit's file lists may have been cut
# short (GitHub documents 20 commits for the timeline and caps file lists of
# large commits), so the union of files would miss paths.
MAX_COMMITS = 20
MAX_FILES_PER_COMMIT = 3000

URL_FIELDS = ("clone_url", "ssh_url", "git_url", "html_url", "svn_url")


def parse(
    provider: events.Provider, name: str, decode: Callable[[], _payloads.Obj]
) -> tuple[events.Event, ...]:
    """The events of one GitHub delivery whose ``X-GitHub-Event`` is ``name``."""
    if name == "ping":
        payload = decode()
        repository = payload.opt_obj("repository")
        found = repository.repo_urls(URL_FIELDS) if repository else set()
        return (events.PingEvent(provider, frozenset(found)),)
    if name != "push":
        return (events.IgnoredEvent(provider, name),)
    return (push(provider, decode()),)


def push(provider: events.Provider, payload: _payloads.Obj) -> events.PushEvent:
    """A GitHub-shaped push payload as a :class:`events.PushEvent`."""
    ref = payload.ref("ref")
    before = payload.sha("before")
    after = payload.sha("after")
    deleted = bool(payload.opt_flag("deleted")) or events.is_zero(after)
    repository = payload.obj("repository")
    repo_urls = _payloads.require_urls(
        provider, repository.repo_urls(URL_FIELDS), "repository.clone_url/ssh_url/html_url"
    )
    pusher = payload.opt_obj("pusher")
    sender = payload.opt_obj("sender")
    who = (pusher.opt_text("name") if pusher else None) or (
        sender.opt_text("login") if sender else None
    )
    complete = not deleted and not events.is_zero(before) and payload.opt_flag("forced") is False
    return events.PushEvent(
        provider=provider,
        repo_urls=repo_urls,
        ref=ref,
        before=before,
        after=after,
        deleted=deleted,
        changed_paths=changed_paths(payload) if complete else None,
        pusher=who or "",
    )


def changed_paths(payload: _payloads.Obj) -> frozenset[str] | None:
    """Union of the commits' file lists, or None when it may be incomplete."""
    if not payload.has("commits"):
        return None
    commits = payload.objs("commits")
    if not commits or len(commits) >= MAX_COMMITS:
        return None
    paths: set[str] = set()
    for commit in commits:
        if not all(commit.has(key) for key in ("added", "modified", "removed")):
            return None
        files = commit.texts("added") + commit.texts("modified") + commit.texts("removed")
        if len(files) >= MAX_FILES_PER_COMMIT:
            return None
        paths.update(files)
    return frozenset(paths)
