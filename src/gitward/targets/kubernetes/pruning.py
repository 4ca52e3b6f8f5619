"""Delete objects gitward manages: prune of what left Git, and app deletion.

Called by :meth:`KubernetesTarget.delete`. Deletes use foreground propagation
(the object disappears only after its dependents, so "gone" means gone) and,
when the caller knows it, a ``preconditions.uid``: an object deleted and
re-created by someone else since gitward listed it has a new uid, the API
server answers 409, and gitward leaves it alone and reports it
(:class:`ObjectReplaced`). A 404 means it is already gone.

Per-resource opt-outs (``gitward.dev/sync-options: Prune=false`` keeps an
object when it leaves Git, ``Delete=false`` keeps it when the Application is
deleted) are decided by whoever plans the deletion, from the live object;
:func:`protected` is the shared rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward import errors
from gitward.model import directives, resources
from gitward.targets.kubernetes import discovery as discovering
from gitward.targets.kubernetes import requesting


class ObjectReplaced(errors.PruneError):
    """The object was re-created (new uid) since gitward decided to delete it."""


def protected(live: Mapping[str, Any], *, deleting_app: bool) -> bool:
    """True when ``live`` opts out of this deletion through its sync options.

    As in Argo CD the two are independent: ``Prune=false`` protects from prune
    (the object left Git), ``Delete=false`` from the Application's deletion;
    every tool's annotations count (``model.directives``).
    """
    options = directives.options((live.get("metadata") or {}).get("annotations") or {})
    return not (options.delete if deleting_app else options.prune)


async def delete(
    api: requesting.Api,
    discovery: discovering.Discovery,
    key: resources.ResourceKey,
    *,
    uid: str = "",
) -> bool:
    """Delete ``key``; False when it was already gone."""
    rtype = await discovery.lookup(key.group, key.kind)
    if rtype is None:
        return False  # the kind is no longer served: no object of it exists
    options: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Foreground",
    }
    if uid:
        options["preconditions"] = {"uid": uid}
    try:
        code, _, _ = await api.request(
            "DELETE",
            rtype.object_path(key.namespace, key.name),
            what=f"deleting {key}",
            body=options,
            allow=frozenset({404}),
        )
    except requesting.StatusError as exc:
        if exc.code == 409 and uid:
            raise ObjectReplaced(
                f"{key}: not deleted, it was replaced since gitward listed it "
                f"(uid is no longer {uid}): {exc.status.message}"
            ) from exc
        if exc.code == 403:
            raise errors.PruneError(f"{key}: forbidden to delete: {exc.status.message}") from exc
        raise errors.PruneError(
            f"{key}: delete refused ({exc.code}): {exc.status.message}"
        ) from exc
    return code != 404
