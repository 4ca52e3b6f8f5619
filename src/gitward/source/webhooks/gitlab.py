"""GitLab deliveries: ``Push Hook``, ``Tag Push Hook`` and the push kinds of ``System Hook``.

Called by :func:`gitward.source.webhooks.parsing.parse`. Payload shape: the
documented push event (``object_kind``, ``ref``, ``before``, ``after``,
``user_username``, ``project`` with ``git_http_url``/``git_ssh_url``/
``web_url``, ``repository``, ``commits[]``, ``total_commits_count``). A ref
deletion has ``after`` all zeros; a creation ``before`` all zeros.

``changed_paths`` is always None: GitLab lists the commits of
``before..after`` without marking force pushes, so the files of commits a
force push dropped would be missing from the union; the caller diffs trees.
GitLab has no ping event ("Test" sends a real push payload).
"""

from __future__ import annotations

from collections.abc import Callable

from gitward.source.webhooks import _payloads, events

PUSH_HOOKS = frozenset({"Push Hook", "Tag Push Hook"})
SYSTEM_HOOK = "System Hook"
PUSH_KINDS = frozenset({"push", "tag_push"})

PROJECT_URL_FIELDS = ("git_http_url", "git_ssh_url", "web_url", "http_url", "ssh_url")
REPOSITORY_URL_FIELDS = ("git_http_url", "git_ssh_url", "homepage", "url")


def parse(
    provider: events.Provider, name: str, decode: Callable[[], _payloads.Obj]
) -> tuple[events.Event, ...]:
    """The events of one GitLab delivery whose ``X-Gitlab-Event`` is ``name``."""
    if name not in PUSH_HOOKS and name != SYSTEM_HOOK:
        return (events.IgnoredEvent(provider, name),)
    payload = decode()
    if name == SYSTEM_HOOK:
        kind = payload.opt_text("event_name") or payload.opt_text("object_kind") or ""
        if kind not in PUSH_KINDS:
            return (events.IgnoredEvent(provider, f"{name} {kind}".strip()),)
    return (_push(provider, payload),)


def _push(provider: events.Provider, payload: _payloads.Obj) -> events.PushEvent:
    ref = payload.ref("ref")
    before = payload.sha("before")
    after = payload.sha("after")
    found: set[str] = set()
    project = payload.opt_obj("project")
    repository = payload.opt_obj("repository")
    if project is None and repository is None:
        raise payload.reject("project", "is missing")
    if project is not None:
        found |= project.repo_urls(PROJECT_URL_FIELDS)
    if repository is not None:
        found |= repository.repo_urls(REPOSITORY_URL_FIELDS)
    repo_urls = _payloads.require_urls(provider, found, "project.git_http_url/git_ssh_url/web_url")
    return events.PushEvent(
        provider=provider,
        repo_urls=repo_urls,
        ref=ref,
        before=before,
        after=after,
        deleted=events.is_zero(after),
        changed_paths=None,
        pusher=payload.opt_text("user_username") or payload.opt_text("user_name") or "",
    )
