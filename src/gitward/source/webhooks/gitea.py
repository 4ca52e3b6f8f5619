"""Gitea, Forgejo and Gogs deliveries: ``push``, ``delete``, and test deliveries.

Called by :func:`gitward.source.webhooks.parsing.parse`. The push payload is
GitHub-shaped (``ref``, ``before``, ``after``, ``commits[]``,
``total_commits``, ``repository`` with ``clone_url``/``ssh_url``/
``html_url``, ``pusher``) without ``created``/``deleted``/``forced`` flags.

* "Test delivery" from the hook settings sends a ``push`` whose ``before`` and
  ``after`` are the same commit; a real push never does (git sends no update
  for an unchanged ref), so that shape is a :class:`events.PingEvent`.
* A branch or tag deletion arrives as a ``delete`` event carrying the short
  ref name and ``ref_type``; it becomes a deleted :class:`events.PushEvent`
  whose ``before`` is ``""`` (not in the payload).
* ``changed_paths`` is None: force pushes are not marked, so the commit list
  cannot prove it covers every change; the caller diffs trees.
"""

from __future__ import annotations

from collections.abc import Callable

from gitward.source.webhooks import _payloads, events

URL_FIELDS = ("clone_url", "ssh_url", "html_url")
_REF_PREFIXES = {"branch": "refs/heads/", "tag": "refs/tags/"}


def parse(
    provider: events.Provider, name: str, decode: Callable[[], _payloads.Obj]
) -> tuple[events.Event, ...]:
    """The events of one delivery whose ``X-Gitea-Event`` (or Forgejo/Gogs) is ``name``."""
    if name == "push":
        return (_push(provider, decode()),)
    if name == "delete":
        return (_delete(provider, decode()),)
    return (events.IgnoredEvent(provider, name),)


def _repo_urls(provider: events.Provider, payload: _payloads.Obj) -> frozenset[str]:
    found = payload.obj("repository").repo_urls(URL_FIELDS)
    return _payloads.require_urls(provider, found, "repository.clone_url/ssh_url/html_url")


def _pusher(payload: _payloads.Obj, key: str) -> str:
    who = payload.opt_obj(key)
    if who is None:
        return ""
    return who.opt_text("login") or who.opt_text("username") or ""


def _push(provider: events.Provider, payload: _payloads.Obj) -> events.Event:
    ref = payload.ref("ref")
    before = payload.sha("before")
    after = payload.sha("after")
    repo_urls = _repo_urls(provider, payload)
    if before == after:
        return events.PingEvent(provider, repo_urls)
    return events.PushEvent(
        provider=provider,
        repo_urls=repo_urls,
        ref=ref,
        before=before,
        after=after,
        deleted=events.is_zero(after),
        changed_paths=None,
        pusher=_pusher(payload, "pusher") or _pusher(payload, "sender"),
    )


def _delete(provider: events.Provider, payload: _payloads.Obj) -> events.PushEvent:
    ref_type = payload.text("ref_type")
    prefix = _REF_PREFIXES.get(ref_type)
    if prefix is None:
        raise payload.reject("ref_type", "must be branch or tag")
    short = payload.text("ref")
    # Gitea sends the short name; tolerate a full one.
    full = short if short.startswith("refs/") else prefix + short
    ref = _payloads.check_ref(payload, "ref", full)
    return events.PushEvent(
        provider=provider,
        repo_urls=_repo_urls(provider, payload),
        ref=ref,
        before="",
        after=events.ZERO_SHA,
        deleted=True,
        changed_paths=None,
        pusher=_pusher(payload, "sender"),
    )
