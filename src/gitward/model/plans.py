"""The Plan: what a sync would do, as data.

``diff`` builds a Plan once; ``apply`` carries it out; drift detection,
``gitward diff``, PR previews, the UI and dry-run all read the same Plan.
A Plan never holds a live object; desired Secret bodies are present only so
``apply`` can send them, and every field change of a Secret is masked when the
Plan is built, so printing a Plan can never leak secret data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gitward.model import resources

MASK = "*** (masked)"


class Action(StrEnum):
    """What a sync does to one object."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    PRUNE = "prune"
    SKIP = "skip"


class Phase(StrEnum):
    """Sync phase of an object; ordinary manifests are in ``Sync``.

    Hooks (annotation ``gitward.dev/hook``) run in PreSync (before anything is
    applied), Sync, PostSync (after all is applied and healthy) or SyncFail
    (only when the sync failed).
    """

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"


PHASE_ORDER: dict[Phase, int] = {
    Phase.PRE_SYNC: 0,
    Phase.SYNC: 1,
    Phase.POST_SYNC: 2,
    Phase.SYNC_FAIL: 3,
}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed field, addressed by a JSON pointer (``/spec/replicas``).

    ``before``/``after`` are ``None`` when the field is absent on that side;
    both are :data:`MASK` when the object is a Secret's data.
    """

    path: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Change:
    """The planned action for one object and why."""

    key: resources.ResourceKey
    action: Action
    # What to apply (create/update/unchanged/skip of a declared object);
    # None for a prune.
    desired: resources.Manifest | None = None
    field_changes: tuple[FieldChange, ...] = ()
    phase: Phase = Phase.SYNC
    wave: int = 0
    hook: bool = False
    # Why: for skip ("Prune=false", "excluded by project"), prune ("no longer
    # in Git"), update ("drift" / "changed in Git"), in words for people.
    reason: str = ""
    # Preconditions for prune: the uid and resourceVersion gitward saw, so a
    # re-created object of the same name is never deleted by mistake.
    live_uid: str = ""
    live_resource_version: str = ""
    # An update whose only changes are gitward's tracking label and annotation:
    # an object another tool (Argo CD, Flux, kubectl) applied exactly as Git
    # declares it, which the next sync adopts.
    adopt: bool = False

    @property
    def is_change(self) -> bool:
        return self.action in (Action.CREATE, Action.UPDATE, Action.PRUNE)


@dataclass(frozen=True, slots=True)
class Plan:
    """Every change for one Application at one revision, in apply order.

    Order: phase, then wave, then kind (Namespaces and CRDs before what needs
    them). Prunes come last, in reverse kind order.
    """

    app: str
    revision: str
    changes: tuple[Change, ...]
    # True when the plan was computed against the target's server-side dry-run;
    # False for a structural comparison (target unreachable or offline diff).
    server_side: bool = True
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def in_sync(self) -> bool:
        """True when nothing outside hooks would be created, updated or pruned."""
        return not any(c.is_change for c in self.changes if not c.hook)

    @property
    def matches_git(self) -> bool:
        """True when every live object already equals Git, though some may still
        have to be adopted (tracking stamped): ``gitward diff`` after an import
        from another tool. Stricter checks (the agent) use :attr:`in_sync`."""
        return not any(c.is_change for c in self.changes if not c.hook and not c.adopt)

    @property
    def adoptions(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.adopt)

    def summary(self) -> dict[str, int]:
        """Count of changes per action, hooks excluded."""
        counts = Counter(c.action.value for c in self.changes if not c.hook)
        return {action.value: counts.get(action.value, 0) for action in Action}

    def by_action(self, action: Action) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is action)
