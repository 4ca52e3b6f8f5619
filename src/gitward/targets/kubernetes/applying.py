"""Server-side apply of one manifest, and what came of it.

Called by :meth:`KubernetesTarget.apply` and :meth:`KubernetesTarget.dry_run`.
The request is a server-side apply ``PATCH`` (``application/apply-patch+yaml``)
with field manager ``gitward``, ``force`` only when the Application asks for
it, and ``dryRun=All`` for a dry run, sent through ``requesting`` to the
path discovery gives for the manifest's apiVersion.

Outcomes: ``created`` when the server answers 201 (the object did not
exist), ``unchanged`` when its ``resourceVersion`` did not move (the API
server stores nothing for a no-op apply), ``configured`` otherwise. The
version before comes from the caller's plan when it has one, so an apply is
one request, as with ``kubectl apply --server-side``. Errors: a 409 listing field-manager conflicts
becomes :class:`FieldConflictError` naming each field and its manager; other
4xx (invalid, forbidden, unknown kind or namespace) become
:class:`gitward.errors.ApplyError` naming the resource and quoting the server;
5xx, timeouts and connection failures become
:class:`gitward.errors.TargetUnavailable` naming the server URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitward import errors
from gitward.model import resources
from gitward.targets import base
from gitward.targets.kubernetes import connecting, requesting
from gitward.targets.kubernetes import discovery as discovering

FIELD_MANAGER = "gitward"
# Server-side apply's patch type; JSON is YAML, so the body is sent as JSON.
APPLY_PATCH = "application/apply-patch+yaml"
_MANAGER = re.compile(r'conflict with "([^"]*)"')


@dataclass(frozen=True, slots=True)
class Conflict:
    field: str  # ".spec.replicas"
    manager: str  # "kubectl"


class FieldConflictError(errors.ApplyConflict):
    """A server-side apply conflict, with the contested fields as data."""

    def __init__(
        self, message: str, key: resources.ResourceKey, conflicts: tuple[Conflict, ...]
    ) -> None:
        super().__init__(message, tuple(c.manager for c in conflicts if c.manager))
        self.key = key
        self.conflicts = conflicts


def conflicts_of(status: requesting.Status) -> tuple[Conflict, ...]:
    found: list[Conflict] = []
    for cause in status.causes:
        # StatusCause's Go field is Type but its JSON name is "reason".
        if (cause.get("reason") or cause.get("type")) != "FieldManagerConflict":
            continue
        match = _MANAGER.search(str(cause.get("message") or ""))
        found.append(Conflict(str(cause.get("field") or ""), match.group(1) if match else ""))
    return tuple(found)


def status_error(
    key: resources.ResourceKey, status: requesting.Status, verb: str
) -> errors.ApplyError:
    """The ApplyError for an error status answered while ``verb``-ing ``key``."""
    if status.code == 409:
        conflicts = conflicts_of(status)
        if conflicts:
            listed = ", ".join(f"{c.field} (owned by {c.manager})" for c in conflicts)
            return FieldConflictError(
                f"{key}: server-side apply conflicts on {listed}; "
                "the Application must allow force to take these fields over",
                key,
                conflicts,
            )
    if status.code == 403:
        return errors.ApplyError(f"{key}: forbidden to {verb}: {status.message}")
    if status.code == 404:
        return errors.ApplyError(f"{key}: not found while {verb}ing: {status.message}")
    label = f"{status.code} {status.reason}".strip()
    return errors.ApplyError(f"{key}: {verb} refused ({label}): {status.message}")


def _version_of(api_version: str) -> str:
    return api_version.rpartition("/")[2]


async def resolve(
    discovery: discovering.Discovery,
    manifest: resources.Manifest,
    *,
    wait: float = 0.0,
) -> discovering.ResourceType:
    """The served type of ``manifest``'s kind; ``wait`` > 0 keeps refreshing
    discovery that long (a CRD applied just before)."""
    key = manifest.key
    if wait > 0:
        rtype = await discovery.wait_for(key.group, key.kind, within=wait)
    else:
        rtype = await discovery.lookup(key.group, key.kind)
    if rtype is None:
        where = f" ({manifest.source})" if manifest.source else ""
        raise errors.ApplyError(
            f"{key}{where}: the cluster does not serve kind {key.group_kind} "
            f"({manifest.api_version})"
        )
    version = _version_of(manifest.api_version)
    if version not in rtype.versions:
        served = ", ".join(rtype.api_version(v) for v in rtype.versions)
        raise errors.ApplyError(
            f"{key}: apiVersion {manifest.api_version} is not served (served: {served})"
        )
    return rtype


async def apply(
    connection: connecting.Connection,
    discovery: discovering.Discovery,
    manifest: resources.Manifest,
    *,
    force: bool,
    dry_run: bool,
    wait_for_kind: float = 0.0,
    seen_version: str | None = None,
) -> tuple[base.ApplyOutcome, dict[str, Any]]:
    """Apply ``manifest``; return the outcome and the object the server returned.

    ``seen_version``: the object's resourceVersion as the caller last saw it
    ("" for absent); without it, the object is read first to tell
    ``unchanged`` from ``configured``.
    """
    key = manifest.key
    rtype = await resolve(discovery, manifest, wait=wait_for_kind)
    version = _version_of(manifest.api_version)
    if rtype.namespaced and not key.namespace:
        raise errors.ApplyError(f"{key}: namespaced object without a namespace (not prepared?)")
    if not key.name:
        raise errors.ApplyError(f"{key}: metadata.name is required")
    verb = "dry-run apply" if dry_run else "apply"
    if rtype.verbs and "patch" not in rtype.verbs:
        raise errors.ApplyError(f"{key}: cannot {verb}: the cluster does not allow patching it")
    path = rtype.object_path(key.namespace, key.name, version)
    before_version = seen_version
    if before_version is None and not dry_run:  # a dry run's outcome is not reported
        try:
            code, before, _ = await connection.api.request(
                "GET", path, what=f"reading {key}", allow=frozenset({404})
            )
        except requesting.StatusError as exc:
            raise status_error(key, exc.status, "read") from exc
        found = before if code != 404 and isinstance(before, Mapping) else {}
        before_version = str((found.get("metadata") or {}).get("resourceVersion") or "")
    params = {"fieldManager": FIELD_MANAGER}
    if force:
        params["force"] = "true"
    if dry_run:
        params["dryRun"] = "All"
    try:
        code, live, _ = await connection.api.request(
            "PATCH",
            path,
            what=f"{verb}ing {key}",
            params=params,
            body=manifest.body,
            content_type=APPLY_PATCH,
        )
    except requesting.StatusError as exc:
        raise status_error(key, exc.status, verb) from exc
    live_body = dict(live) if isinstance(live, Mapping) else {}
    after_version = (live_body.get("metadata") or {}).get("resourceVersion")
    if code == 201 or not before_version:
        outcome = base.ApplyOutcome.CREATED
    elif after_version == before_version:
        outcome = base.ApplyOutcome.UNCHANGED
    else:
        outcome = base.ApplyOutcome.CONFIGURED
    return outcome, live_body
