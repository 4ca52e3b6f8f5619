"""Options of the diff/plan stage, built by the engine from an Application.

``engine.reconciling`` turns an Application's sync policy and
``ignoreDifferences`` into a :class:`PlanOptions` and passes it to
:func:`gitward.diff.planning.build`.
"""

from __future__ import annotations

from dataclasses import dataclass

# The field manager gitward applies with; its managedFields entries tell the
# structural comparison which fields gitward set before.
DEFAULT_FIELD_MANAGER = "gitward"


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """Differences to ignore on the objects a rule matches.

    ``group``, ``kind``, ``name`` and ``namespace`` select objects; an empty
    value or ``*`` matches anything and shell-style globs (``web-*``) are
    allowed. ``group`` empty therefore matches every group, so
    ``{kind: Deployment}`` matches ``apps`` Deployments as users expect.

    ``json_pointers`` (RFC 6901, ``~1`` for ``/`` and ``~0`` for ``~``) are
    removed from both the desired and the live side before comparing.
    ``managed_fields_managers`` removes, from both sides, every field the
    named managers own according to the live object's ``metadata.managedFields``
    (``kube-controller-manager`` owning ``/spec/replicas`` through an HPA, for
    example), so another controller's legitimate writes are not drift.
    """

    group: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """How to plan one Application.

    ``prune``: objects gitward manages that left Git are planned as PRUNE;
    otherwise they are listed as SKIP ("prune disabled") so people see them.
    ``allow_empty``: accept an empty render even though it would prune every
    managed object (off by default: an empty render is usually a mistake).
    ``ignore_differences``: see :class:`IgnoreRule`.
    ``field_manager``: gitward's server-side apply field manager.
    """

    prune: bool = False
    allow_empty: bool = False
    ignore_differences: tuple[IgnoreRule, ...] = ()
    field_manager: str = DEFAULT_FIELD_MANAGER
