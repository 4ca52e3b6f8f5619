"""Bitbucket Cloud (``repo:push``) and Bitbucket Data Center/Server
(``repo:refs_changed``, ``diagnostics:ping``) deliveries.

Called by :func:`gitward.source.webhooks.parsing.parse`. Unlike the other
forges, one Bitbucket delivery may carry several ref changes (a ``git push``
of two branches and a tag), so a delivery yields one
:class:`events.PushEvent` per change.

* Cloud: ``push.changes[]`` with ``old``/``new`` (``type`` branch or tag,
  ``name``, ``target.hash``; ``new`` is null for a deletion, ``old`` for a
  creation), ``repository.links.html.href``. Commits carry no file lists.
* Data Center: ``changes[]`` with ``ref.id`` (or ``refId``), ``fromHash``,
  ``toHash``, ``type`` ADD/UPDATE/DELETE, and
  ``repository.links.clone[].href`` (the HTTP and SSH clone URLs). No commits.

``changed_paths`` is therefore always None.
"""

from __future__ import annotations

from collections.abc import Callable

from gitward.source.webhooks import _payloads, events

CLOUD_PUSH = "repo:push"
SERVER_PUSH = "repo:refs_changed"
SERVER_PING = "diagnostics:ping"

_CLOUD_REF_PREFIXES = {"branch": "refs/heads/", "named_branch": "refs/heads/", "tag": "refs/tags/"}
_SERVER_CHANGE_TYPES = frozenset({"ADD", "UPDATE", "DELETE"})


def parse_cloud(
    provider: events.Provider, name: str, decode: Callable[[], _payloads.Obj]
) -> tuple[events.Event, ...]:
    """The events of one Bitbucket Cloud delivery whose ``X-Event-Key`` is ``name``."""
    if name != CLOUD_PUSH:
        return (events.IgnoredEvent(provider, name),)
    payload = decode()
    repository = payload.obj("repository")
    found = repository.obj("links").obj("html").repo_urls(("href",))
    repo_urls = _payloads.require_urls(provider, found, "repository.links.html.href")
    actor = payload.opt_obj("actor")
    pusher = ""
    if actor is not None:
        pusher = actor.opt_text("nickname") or actor.opt_text("display_name") or ""
    pushes: list[events.Event] = []
    for change in payload.obj("push").objs("changes"):
        old = change.opt_obj("old")
        new = change.opt_obj("new")
        side = new or old
        if side is None:
            raise change.reject("new", "and old are both missing")
        prefix = _CLOUD_REF_PREFIXES.get(side.text("type"))
        if prefix is None:
            raise side.reject("type", "must be branch or tag")
        pushes.append(
            events.PushEvent(
                provider=provider,
                repo_urls=repo_urls,
                ref=side.ref("name", prefix),
                before=old.obj("target").sha("hash") if old else events.ZERO_SHA,
                after=new.obj("target").sha("hash") if new else events.ZERO_SHA,
                deleted=new is None,
                changed_paths=None,
                pusher=pusher,
            )
        )
    if not pushes:
        return (events.IgnoredEvent(provider, f"{name} without ref changes"),)
    return tuple(pushes)


def parse_server(
    provider: events.Provider, name: str, decode: Callable[[], _payloads.Obj]
) -> tuple[events.Event, ...]:
    """The events of one Bitbucket Data Center delivery whose ``X-Event-Key`` is ``name``."""
    if name == SERVER_PING:
        return (events.PingEvent(provider, frozenset()),)
    if name != SERVER_PUSH:
        return (events.IgnoredEvent(provider, name),)
    payload = decode()
    found: set[str] = set()
    for link in payload.obj("repository").obj("links").objs("clone"):
        found |= link.repo_urls(("href",))
    repo_urls = _payloads.require_urls(provider, found, "repository.links.clone[].href")
    actor = payload.opt_obj("actor")
    pusher = (actor.opt_text("name") or actor.opt_text("slug") or "") if actor else ""
    pushes: list[events.Event] = []
    for change in payload.objs("changes"):
        ref_obj = change.opt_obj("ref")
        ref = ref_obj.ref("id") if ref_obj is not None else change.ref("refId")
        kind = change.text("type")
        if kind not in _SERVER_CHANGE_TYPES:
            raise change.reject("type", "must be ADD, UPDATE or DELETE")
        after = change.sha("toHash")
        pushes.append(
            events.PushEvent(
                provider=provider,
                repo_urls=repo_urls,
                ref=ref,
                before=change.sha("fromHash"),
                after=after,
                deleted=kind == "DELETE" or events.is_zero(after),
                changed_paths=None,
                pusher=pusher,
            )
        )
    if not pushes:
        return (events.IgnoredEvent(provider, f"{name} without ref changes"),)
    return tuple(pushes)
