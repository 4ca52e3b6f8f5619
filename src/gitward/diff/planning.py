"""Build the Plan of one Application: the entry point of ``gitward.diff``.

Called by ``engine.reconciling.plan`` (and so by sync, drift detection,
``gitward diff`` and dry-run) with manifests the target has prepared
(namespaces defaulted, tracking stamped), the live object of each, the
target's inventory for the Application and, when the target was reachable,
the server-side dry-run result of each existing object.

Per declared object:

* absent on the target → CREATE;
* with a dry-run result → normalised(predicted) against normalised(live):
  exactly what applying would change → UPDATE with field changes or
  UNCHANGED (Plan.server_side is True);
* without one → structural: every field Git declares must equal the live
  value, and fields gitward applied before (its managedFields entry,
  operation Apply) that Git no longer declares count as removals;
* hooks (``gitward.dev/hook``, ``argocd.argoproj.io/hook``, Helm hooks) →
  CREATE in their phase, every sync; ``Skip`` hooks and Helm hooks without a
  sync phase (``test``, ``pre-delete``...) → SKIP. ``metadata.generateName``
  is accepted on hooks only (the server names each run);
* Flux's ``ssa: Ignore`` or ``reconcile: disabled`` → SKIP; ``ssa:
  IfNotPresent`` → CREATE when absent, else SKIP (left as it is).

An UPDATE whose only field changes add gitward's tracking label and
annotation is marked ``adopt``: the object is exactly as Git declares it,
applied by another tool (an Application imported from Argo CD or Flux).

Per inventory object that Git no longer declares (and whose tracking id
really names it for this Application, so a copied label never prunes a
foreign object): PRUNE when prune is enabled; otherwise SKIP "prune
disabled", listed so people see what Git no longer declares; SKIP
"Prune=false" when the object opts out; SKIP "being deleted" when a deletion
is already under way; SKIP "IgnoreExtraneous" (not counted as out of sync)
when the object's compare options say so and prune is off. Live hooks are
never pruned (their delete policy removes them), as in Argo CD. Every tool's
annotations count (``model.directives``): Argo CD's ``Prune=false`` and
Flux's ``prune: disabled`` alike.

An empty render with managed objects on the target raises
:class:`gitward.errors.EmptyRenderError` unless ``allow_empty``: pruning
everything because a render came back empty is how outages happen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any

from gitward import errors
from gitward.diff import _fieldsv1, base, comparing, ignoring, masking, normalising, ordering
from gitward.model import directives, hostobjects, plans, resources

REASON_CREATE = "not on the target"
REASON_UPDATE = "live differs from Git"
REASON_HOOK = "hook: created on every sync"
REASON_SKIP_HOOK = "hook Skip: never applied"
REASON_PRUNE = "no longer in Git"
REASON_PRUNE_DISABLED = "prune disabled: no longer in Git, requires pruning"
REASON_PRUNE_FALSE = "Prune=false"
REASON_DELETING = "being deleted"
REASON_ADOPT = "adopt: only gitward's tracking label and annotation are added"
REASON_IGNORE_EXTRANEOUS = "IgnoreExtraneous: no longer in Git, not part of the sync status"
REASON_RECONCILE_DISABLED = "reconcile disabled: never applied"
REASON_SSA_IGNORE = "ssa Ignore: never applied"
REASON_IF_NOT_PRESENT = "ssa IfNotPresent: exists, left as it is"
_APPLY_OPERATION = "Apply"


def build(
    app: str,
    revision: str,
    desired: Sequence[resources.Manifest],
    live: Mapping[resources.ResourceKey, Mapping[str, Any] | None],
    inventory: Sequence[Mapping[str, Any]],
    options: base.PlanOptions,
    predicted: Mapping[resources.ResourceKey, Mapping[str, Any]] | None = None,
    unchanged: Set[resources.ResourceKey] = frozenset(),
) -> plans.Plan:
    """The Plan that brings the target to ``desired`` for ``app`` at ``revision``.

    ``predicted`` holds server-side dry-run results; ``unchanged`` the keys the
    caller already found :func:`known_unchanged` (not dry-run for that reason),
    so that check is not made twice for them.

    ``live`` maps each desired key to its live object (a missing entry or
    None means absent). Raises :class:`gitward.errors.PlanError` for duplicate
    objects, an invalid wave or hook annotation, or a malformed ignore rule,
    and :class:`gitward.errors.EmptyRenderError` for an unexpected empty render.
    """
    ignoring.validate(options.ignore_differences)
    check_duplicates(desired)
    warnings: list[str] = []
    declared = {m.key for m in desired}
    ours = _inventory(app, inventory, warnings)
    leftovers = [(key, obj) for key, obj in ours if key not in declared]
    if not desired and not options.allow_empty:
        doomed = [obj for _, obj in leftovers if _prunable(obj)]
        if doomed:
            raise errors.EmptyRenderError(
                f"Application {app}: the render at revision {revision[:12] or '(unknown)'} "
                f"produced no manifests while {len(doomed)} managed object(s) are on the "
                "target and would be pruned; allow an empty render (allowEmpty) if that "
                "is intended"
            )
    changes: list[plans.Change] = []
    for manifest in desired:
        changes.extend(
            _plan_declared(
                manifest, live.get(manifest.key), predicted, unchanged, options, warnings
            )
        )
    skipped_prunes = 0
    for key, obj in leftovers:
        change = _plan_leftover(key, obj, options)
        if change is None:
            continue
        if change.reason == REASON_PRUNE_DISABLED:
            skipped_prunes += 1
        changes.append(change)
    if skipped_prunes:
        warnings.append(
            f"{skipped_prunes} object(s) no longer in Git would be pruned, but prune is disabled"
        )
    return plans.Plan(
        app=app,
        revision=revision,
        changes=ordering.order(changes),
        server_side=predicted is not None,
        warnings=tuple(warnings),
    )


def check_duplicates(desired: Sequence[resources.Manifest]) -> None:
    """Raise :class:`gitward.errors.PlanError` naming both sources of the first
    object declared twice (also called on the render, before the target fills
    in namespaces, so ``gitward render`` reports it too)."""
    seen: dict[resources.ResourceKey, resources.Manifest] = {}
    for manifest in desired:
        first = seen.setdefault(manifest.key, manifest)
        if first is not manifest:
            raise errors.PlanError(
                f"{manifest.key} is declared twice: in {first.source or '(unknown source)'} "
                f"and in {manifest.source or '(unknown source)'}"
            )


def tracking_id(app: str, key: resources.ResourceKey) -> str:
    """The tracking annotation an object of ``app`` carries (see docs/tracking.md)."""
    return f"{app}:{key.group}/{key.kind}:{key.namespace}/{key.name}"


def _inventory(
    app: str, inventory: Sequence[Mapping[str, Any]], warnings: list[str]
) -> list[tuple[resources.ResourceKey, Mapping[str, Any]]]:
    ours: dict[resources.ResourceKey, Mapping[str, Any]] = {}
    foreign: list[str] = []
    for obj in inventory:
        key = resources.ResourceKey.of(obj)
        if key in ours:
            # The same object listed twice (two API versions of one kind).
            continue
        if ordering.is_live_hook(obj):
            # Hooks are never pruned, and a generateName hook's tracking id
            # names its prefix, not the name the server gave it.
            continue
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        notes = meta.get("annotations") or {}
        if labels.get(resources.APP_LABEL) == app and notes.get(
            resources.TRACKING_ANNOTATION
        ) == tracking_id(app, key):
            ours[key] = obj
        else:
            foreign.append(str(key))
    if foreign:
        listed = ", ".join(sorted(foreign)[:5]) + (" ..." if len(foreign) > 5 else "")
        warnings.append(
            f"{len(foreign)} object(s) carry the {resources.APP_LABEL}={app} label without a "
            f"matching {resources.TRACKING_ANNOTATION}; not managed, never pruned: {listed}"
        )
    return list(ours.items())


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _prunable(obj: Mapping[str, Any]) -> bool:
    return not (
        _deleting(obj) or not ordering.live_options(obj).prune or ordering.is_live_hook(obj)
    )


def _plan_leftover(
    key: resources.ResourceKey, obj: Mapping[str, Any], options: base.PlanOptions
) -> plans.Change | None:
    if ordering.is_live_hook(obj):
        return None
    meta = obj.get("metadata") or {}
    opts = ordering.live_options(obj)
    if _deleting(obj):
        action, reason = plans.Action.SKIP, REASON_DELETING
    elif not opts.reconcile:
        action, reason = plans.Action.SKIP, REASON_RECONCILE_DISABLED
    elif not opts.prune:
        action, reason = plans.Action.SKIP, REASON_PRUNE_FALSE
    elif not options.prune and opts.ignore_extraneous:
        action, reason = plans.Action.SKIP, REASON_IGNORE_EXTRANEOUS
    elif not options.prune:
        action, reason = plans.Action.SKIP, REASON_PRUNE_DISABLED
    else:
        action, reason = plans.Action.PRUNE, REASON_PRUNE
    return plans.Change(
        key=key,
        action=action,
        wave=ordering.live_wave(obj),
        reason=reason,
        live_uid=str(meta.get("uid") or ""),
        live_resource_version=str(meta.get("resourceVersion") or ""),
    )


def _plan_declared(
    manifest: resources.Manifest,
    live: Mapping[str, Any] | None,
    predicted: Mapping[resources.ResourceKey, Mapping[str, Any]] | None,
    unchanged: Set[resources.ResourceKey],
    options: base.PlanOptions,
    warnings: list[str],
) -> list[plans.Change]:
    wave = ordering.wave(manifest)
    hook = ordering.hook(manifest)
    meta = (live or {}).get("metadata") or {}
    uid = str(meta.get("uid") or "")
    version = str(meta.get("resourceVersion") or "")
    if hook is not None:
        return _plan_hook(manifest, hook, wave, uid, version)
    if manifest.key.generated:
        where = f" ({manifest.source})" if manifest.source else ""
        raise errors.PlanError(
            f"{manifest.key}{where}: metadata.generateName without metadata.name is accepted "
            "on hooks only (each run creates a new object); give the object a name"
        )
    opts = directives.options(manifest.annotations)
    skip = ""
    if opts.mode is directives.ApplyMode.IGNORE:
        skip = REASON_RECONCILE_DISABLED if not opts.reconcile else REASON_SSA_IGNORE
    elif live is not None and not ordering.live_options(live).reconcile:
        skip = REASON_RECONCILE_DISABLED  # disabled on the live object, by a person
    elif opts.mode is directives.ApplyMode.IF_NOT_PRESENT and live is not None:
        skip = REASON_IF_NOT_PRESENT
    if skip:
        return [
            plans.Change(
                key=manifest.key,
                action=plans.Action.SKIP,
                desired=manifest,
                wave=wave,
                reason=skip,
                live_uid=uid,
                live_resource_version=version,
            )
        ]
    if live is None:
        return [
            plans.Change(
                key=manifest.key,
                action=plans.Action.CREATE,
                desired=manifest,
                wave=wave,
                reason=REASON_CREATE,
            )
        ]
    if _deleting(live):
        warnings.append(
            f"{manifest.key} is being deleted on the target; it is re-created once gone"
        )
    result = predicted.get(manifest.key) if predicted is not None else None
    if (
        predicted is not None
        and result is None
        and (manifest.key in unchanged or known_unchanged(manifest, live, options))
    ):
        return [
            plans.Change(
                key=manifest.key,
                action=plans.Action.UNCHANGED,
                desired=manifest,
                wave=wave,
                live_uid=uid,
                live_resource_version=version,
            )
        ]
    if predicted is not None and result is None:
        warnings.append(f"{manifest.key}: no server-side dry-run result, compared structurally")
    field_changes = (
        _compare_predicted(manifest.key, result, live, options)
        if result is not None
        else _compare_structural(manifest, live, options)
    )
    secret = hostobjects.is_secret(manifest.body) or hostobjects.is_secret(live)
    masked = masking.mask_changes(manifest.key, field_changes, secret=secret)
    adopt = bool(masked) and all(_stamps_only(change) for change in masked)
    return [
        plans.Change(
            key=manifest.key,
            action=plans.Action.UPDATE if masked else plans.Action.UNCHANGED,
            desired=manifest,
            field_changes=masked,
            wave=wave,
            adopt=adopt,
            reason=REASON_ADOPT if adopt else REASON_UPDATE if masked else "",
            live_uid=uid,
            live_resource_version=version,
        )
    ]


def _plan_hook(
    manifest: resources.Manifest, hook: directives.Hook, wave: int, uid: str, version: str
) -> list[plans.Change]:
    if hook.skip:
        reason = (
            f"Helm hook {hook.unsupported}: not run by gitward (as in Argo CD)"
            if hook.unsupported
            else REASON_SKIP_HOOK
        )
        return [
            plans.Change(
                key=manifest.key,
                action=plans.Action.SKIP,
                desired=manifest,
                wave=wave,
                hook=True,
                reason=reason,
            )
        ]
    return [
        plans.Change(
            key=manifest.key,
            action=plans.Action.CREATE,
            desired=manifest,
            phase=ordering.phase(name),
            wave=wave,
            hook=True,
            reason=REASON_HOOK,
            live_uid=uid,
            live_resource_version=version,
        )
        for name in hook.phases
    ]


_LABEL_PATH = "/metadata/labels"
_ANNOTATION_PATH = "/metadata/annotations"
_STAMPS = {
    f"{_LABEL_PATH}/{resources.APP_LABEL.replace('/', '~1')}",
    f"{_ANNOTATION_PATH}/{resources.TRACKING_ANNOTATION.replace('/', '~1')}",
}


def _stamps_only(change: plans.FieldChange) -> bool:
    """Whether a field change only adds gitward's tracking (an adoption)."""
    if change.path in _STAMPS:
        return True
    if change.before is None and isinstance(change.after, Mapping):
        if change.path == _LABEL_PATH:
            return set(change.after) == {resources.APP_LABEL}
        if change.path == _ANNOTATION_PATH:
            return set(change.after) == {resources.TRACKING_ANNOTATION}
    return False


def known_unchanged(
    manifest: resources.Manifest, live: Mapping[str, Any], options: base.PlanOptions
) -> bool:
    """Whether applying ``manifest`` is known to leave ``live`` as it is, without
    asking the server for a dry run.

    True only when all of these hold, so drift made by anyone is still found:

    * the live object carries the fields digest gitward stamped when it last
      applied, equal to the digest of ``manifest``: Git dropped no field
      since (a dropped field is one that applying would remove);
    * gitward's apply is on record in its managedFields, and no other manager
      (``kubectl edit``, ``kubectl scale``, a controller) owns a field
      ``manifest`` declares: nobody took a field over, nor changed an atomic
      list or map gitward set;
    * every value ``manifest`` declares equals the live one
      (``ignoreDifferences`` applied, as on every path).

    Otherwise the caller dry-runs the object, as for any object of unknown
    history.
    """
    digest = manifest.annotations.get(resources.FIELDS_DIGEST_ANNOTATION)
    live_notes = (live.get("metadata") or {}).get("annotations") or {}
    if not digest or live_notes.get(resources.FIELDS_DIGEST_ANNOTATION) != digest:
        return False
    if _deleting(live):
        return False
    managed = _managed_fields(live)
    if not _fieldsv1.owns_any(managed, options.field_manager, _APPLY_OPERATION):
        return False
    others = _fieldsv1.owned_by_others(managed, options.field_manager, _APPLY_OPERATION)
    if _fieldsv1.overlaps(others, manifest.body):
        return False
    desired = normalising.normalise(manifest.body)
    rules = ignoring.matching(options.ignore_differences, manifest.key)
    if not rules:
        # Only the fields ``desired`` declares are compared, and normalising
        # changes none of those on the live side (a live null reads as an
        # absent field either way): the live object is read as it is rather
        # than copied.
        return not comparing.diff_declared(live, desired)
    current = normalising.normalise(live)
    ignoring.strip(rules, managed, desired, current)
    return not comparing.diff_declared(current, desired)


def _managed_fields(live: Mapping[str, Any]) -> Any:
    return (live.get("metadata") or {}).get("managedFields")


def _compare_predicted(
    key: resources.ResourceKey,
    predicted: Mapping[str, Any],
    live: Mapping[str, Any],
    options: base.PlanOptions,
) -> list[plans.FieldChange]:
    after = normalising.normalise(predicted)
    before = normalising.normalise(live)
    rules = ignoring.matching(options.ignore_differences, key)
    ignoring.strip(rules, _managed_fields(live), after, before)
    return comparing.diff(before, after)


def _compare_structural(
    manifest: resources.Manifest, live: Mapping[str, Any], options: base.PlanOptions
) -> list[plans.FieldChange]:
    desired = normalising.normalise(manifest.body)
    current = normalising.normalise(live)
    managed = _managed_fields(live)
    rules = ignoring.matching(options.ignore_differences, manifest.key)
    ignoring.strip(rules, managed, desired, current)
    changes = comparing.diff_declared(current, desired)
    owned = _fieldsv1.owned_by(managed, [options.field_manager], operation=_APPLY_OPERATION)
    if owned.children:
        others = _fieldsv1.owned_by_others(managed, options.field_manager, _APPLY_OPERATION)
        reported = {change.path for change in changes}
        for removal in _fieldsv1.removals(owned, others, desired, current):
            if removal.path not in reported:
                changes.append(removal)
    return sorted(changes, key=lambda change: _sort_path(change.path))


def _sort_path(path: str) -> tuple[tuple[int, int | str], ...]:
    parts: list[tuple[int, int | str]] = []
    for token in path.split("/")[1:]:
        parts.append((0, int(token)) if token.isdigit() else (1, token))
    return tuple(parts)
