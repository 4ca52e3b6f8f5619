"""Make rendered manifests ready to apply: scope, namespace and tracking.

Called by :meth:`KubernetesTarget.prepare` with an Application's whole
manifest set, before planning, so the plan compares exactly what will be
applied.

Scope. Each kind is looked up in discovery; kinds declared by a
CustomResourceDefinition in the same manifest set are accepted before the
cluster serves them, with the scope of the CRD's ``spec.scope``; so are
objects annotated ``SkipDryRunOnMissingResource=true`` (their CRD comes from
elsewhere; taken as namespaced). Any other kind the cluster does not serve is
an :class:`gitward.errors.ApplyError` naming the manifest.

Namespaces. A namespaced object without a namespace gets the Application's
destination namespace. A namespace on a cluster-scoped object is dropped with
a warning, as Argo CD and kubectl do (Helm charts routinely set
``metadata.namespace`` on ClusterRoles); refusing would make such charts
undeployable while the namespace means nothing to the API server.

Tracking (also described in docs/tracking.md). Every object is stamped with

* the label ``gitward.dev/app: <app>``: a cheap server-side label selector
  finds an Application's candidates, kind by kind;
* the annotation ``gitward.dev/tracking-id: <app>:<group>/<kind>:<namespace>/<name>``:
  the full identity gitward gave the object. An object is in an Application's
  inventory only when both agree with its own identity, so a label copied onto
  another object (``kubectl get -o yaml | kubectl apply``, or a controller
  propagating labels to its children) never makes gitward prune it;
* the annotation ``gitward.dev/fields-digest``: a digest of the paths of the
  fields applied (keys and list positions, never values: a Secret's values
  do not leak through it). A plan compares it with the live object's to know,
  without a server-side dry run, that no field left Git since the last apply.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from gitward import errors
from gitward.model import directives, resources
from gitward.targets.kubernetes import discovery as discovering

_log = structlog.get_logger(__name__)

CRD_GROUP = "apiextensions.k8s.io"
CRD_KIND = "CustomResourceDefinition"
# Label values: at most 63 characters, alphanumerics with -_. inside.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def tracking_id(app: str, key: resources.ResourceKey) -> str:
    """The tracking annotation value gitward stamps on ``key`` for ``app``."""
    return f"{app}:{key.group}/{key.kind}:{key.namespace}/{key.name}"


def is_tracked(obj: Mapping[str, Any], app: str) -> bool:
    """True when a live object carries ``app``'s label *and* a tracking id that
    matches its own identity (not one copied from another object)."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    if labels.get(resources.APP_LABEL) != app:
        return False
    return annotations.get(resources.TRACKING_ANNOTATION) == tracking_id(
        app, resources.ResourceKey.of(obj)
    )


def fields_digest(body: Mapping[str, Any]) -> str:
    """A digest of the paths of every field set in ``body`` (values left out)."""
    paths = sorted(_field_paths(body, ""))
    return "sha256:" + hashlib.sha256("\n".join(paths).encode()).hexdigest()[:32]


def _field_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, str):  # most fields: skip the container checks
        return [path]
    if isinstance(value, dict | Mapping):
        items: list[tuple[str, Any]] = [(_escape(str(k)), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return [path]
    found = [path] if not items else []
    for name, child in items:
        if child is not None:  # a null is no field: server-side apply leaves it unset
            found.extend(_field_paths(child, f"{path}/{name}"))
    return found


def _escape(name: str) -> str:
    if "~" in name or "/" in name:
        return name.replace("~", "~0").replace("/", "~1")
    return name


def _copy_tree(value: Any) -> Any:
    """A copy of a decoded document's maps and lists (its scalars are immutable);
    ``copy.deepcopy`` does the same several times slower, keeping a memo of
    every object it copies."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | Mapping):
        return {key: _copy_tree(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_copy_tree(child) for child in value]
    return value


def check_app_name(app: str) -> None:
    if not _LABEL_VALUE.match(app):
        raise errors.ConfigError(
            f"Application name {app!r} cannot be tracked: it must be a valid label value "
            "(at most 63 characters: letters, digits, '-', '_', '.')"
        )


def declared_scopes(manifests: Sequence[resources.Manifest]) -> dict[tuple[str, str], bool]:
    """(group, kind) → namespaced, for every CRD in the manifest set."""
    scopes: dict[tuple[str, str], bool] = {}
    for manifest in manifests:
        if (manifest.key.group, manifest.key.kind) != (CRD_GROUP, CRD_KIND):
            continue
        spec = manifest.body.get("spec") or {}
        group = str(spec.get("group") or "")
        kind = str((spec.get("names") or {}).get("kind") or "")
        if group and kind:
            scopes[(group, kind)] = spec.get("scope") == "Namespaced"
    return scopes


def _where(manifest: resources.Manifest) -> str:
    return f"{manifest.key} ({manifest.source})" if manifest.source else str(manifest.key)


async def prepare(
    manifests: Sequence[resources.Manifest],
    *,
    app: str,
    namespace: str,
    discovery: discovering.Discovery,
) -> list[resources.Manifest]:
    """Scope-check, namespace and stamp ``manifests`` for ``app`` (new Manifests;
    the inputs are not modified)."""
    check_app_name(app)
    declared = declared_scopes(manifests)
    prepared: list[resources.Manifest] = []
    for manifest in manifests:
        key = manifest.key
        if not key.kind or not manifest.api_version:
            raise errors.ApplyError(f"{_where(manifest)}: apiVersion and kind are required")
        if not key.name:
            raise errors.ApplyError(f"{_where(manifest)}: metadata.name is required")
        namespaced = declared.get((key.group, key.kind))
        if namespaced is None:
            rtype = await discovery.lookup(key.group, key.kind)
            if rtype is None and directives.options(manifest.annotations).skip_dry_run_on_missing:
                # SkipDryRunOnMissingResource: the CRD comes from elsewhere
                # (another Application, an operator). Custom resources are
                # namespaced far more often than not; apply says so if not.
                namespaced = True
            elif rtype is None:
                raise errors.ApplyError(
                    f"{_where(manifest)}: the cluster does not serve kind {key.group_kind} "
                    f"({manifest.api_version}) and no CustomResourceDefinition in this "
                    "Application declares it"
                )
            else:
                namespaced = rtype.namespaced
        body: dict[str, Any] = _copy_tree(manifest.body)
        meta: dict[str, Any] = dict(body.get("metadata") or {})
        body["metadata"] = meta
        if namespaced and not meta.get("namespace"):
            if not namespace:
                raise errors.ApplyError(
                    f"{_where(manifest)}: namespaced object without a namespace, and the "
                    "Application has no destination namespace"
                )
            meta["namespace"] = namespace
        elif not namespaced and meta.get("namespace"):
            _log.warning(
                "namespace dropped from cluster-scoped object",
                resource=str(key),
                source=manifest.source,
            )
            del meta["namespace"]
        final = resources.ResourceKey.of(body)
        meta["labels"] = {**(meta.get("labels") or {}), resources.APP_LABEL: app}
        meta["annotations"] = {
            **(meta.get("annotations") or {}),
            resources.TRACKING_ANNOTATION: tracking_id(app, final),
        }
        meta["annotations"].pop(resources.FIELDS_DIGEST_ANNOTATION, None)
        meta["annotations"][resources.FIELDS_DIGEST_ANNOTATION] = fields_digest(body)
        prepared.append(resources.Manifest(key=final, body=body, source=manifest.source))
    return prepared
