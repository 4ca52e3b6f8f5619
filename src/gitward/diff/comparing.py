"""Field-level comparison of two JSON-like values into ``FieldChange`` rows.

Called by ``planning``: :func:`diff` compares two whole objects (the
server-side dry-run result against the live object); :func:`diff_declared`
checks only the fields a desired object declares (the structural path, when
no dry-run is available), so fields the API server defaults or other managers
add never count as drift.

Conventions, chosen so a change reads the way ``kubectl diff`` would show it:

* ``before`` is the live side, ``after`` the desired (or predicted) side;
  ``None`` means absent on that side.
* Paths are JSON pointers (RFC 6901). Maps are walked in sorted key order and
  lists in index order, so the same inputs always give the same rows.
* Lists whose items are all maps with a distinct string ``name`` (containers,
  env, volumes, ports...) are matched by name, as Kubernetes merges them; a
  matched item's pointer uses its index on the desired (``after``) side,
  and an item present only on the live side uses its live index. When the
  matched items appear in a different order, the whole list is one change,
  since order matters to Kubernetes (env references, init containers).
* Other lists are compared position by position when their lengths agree and
  as one whole-list change otherwise.
* ``true`` never equals ``1``; ``1`` equals ``1.0`` (JSON has one number type).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from gitward.diff import _pointers
from gitward.model import plans

# Maps whose values are resource quantities (``cpu: 1`` is stored as "1",
# ``memory: 1024Mi`` as "1Gi"): compared by value on the structural path.
_QUANTITY_MAPS = frozenset(
    {
        "limits",
        "requests",
        "hard",
        "capacity",
        "allocatable",
        "default",
        "defaultRequest",
        "max",
        "min",
        "maxLimitRequestRatio",
        "overhead",
    }
)
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)
_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def same(a: Any, b: Any) -> bool:
    """JSON equality: ``True`` is not ``1``, ``1`` is ``1.0``, containers deeply."""
    if type(a) is str and type(b) is str:  # most values: no container checks
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict | Mapping) and isinstance(b, dict | Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    return bool(a == b)


def diff(before: Any, after: Any, path: str = "") -> list[plans.FieldChange]:
    """Every difference between ``before`` (live) and ``after`` (desired/predicted)."""
    changes: list[plans.FieldChange] = []
    _diff(before, after, path, changes)
    return changes


def _diff(before: Any, after: Any, path: str, out: list[plans.FieldChange]) -> None:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after)):
            child = _pointers.join(path, key)
            if key not in after:
                out.append(plans.FieldChange(child, before[key], None))
            elif key not in before:
                out.append(plans.FieldChange(child, None, after[key]))
            else:
                _diff(before[key], after[key], child, out)
        return
    if isinstance(before, list) and isinstance(after, list):
        _diff_lists(before, after, path, out)
        return
    if not same(before, after):
        out.append(plans.FieldChange(path, before, after))


def _diff_lists(
    before: list[Any], after: list[Any], path: str, out: list[plans.FieldChange]
) -> None:
    before_names, after_names = _names(before), _names(after)
    if before_names is not None and after_names is not None:
        before_set, after_set = set(before_names), set(after_names)
        common_before = [n for n in before_names if n in after_set]
        common_after = [n for n in after_names if n in before_set]
        if common_before != common_after:
            out.append(plans.FieldChange(path, before, after))
            return
        by_name = dict(zip(before_names, before, strict=True))
        for index, (name, item) in enumerate(zip(after_names, after, strict=True)):
            child = _pointers.join(path, index)
            if name in by_name:
                _diff(by_name[name], item, child, out)
            else:
                out.append(plans.FieldChange(child, None, item))
        for index, (name, item) in enumerate(zip(before_names, before, strict=True)):
            if name not in after_set:
                out.append(plans.FieldChange(_pointers.join(path, index), item, None))
        return
    if len(before) != len(after):
        out.append(plans.FieldChange(path, before, after))
        return
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        _diff(old, new, _pointers.join(path, index), out)


def _names(items: Sequence[Any]) -> list[str] | None:
    """The ``name`` of every item when all are maps with distinct string names."""
    if not items:
        return []
    names: list[str] = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            return None
        names.append(item["name"])
    return names if len(set(names)) == len(names) else None


def diff_declared(live: Any, desired: Any, path: str = "") -> list[plans.FieldChange]:
    """Differences in the fields ``desired`` declares; extra live fields are fine.

    An empty map or list declared in Git matches an absent live field: the API
    server omits empty values, so ``annotations: {}`` is never drift.
    """
    changes: list[plans.FieldChange] = []
    _declared(live, desired, path, "", changes)
    return changes


def _declared(
    live: Any, desired: Any, path: str, parent: str, out: list[plans.FieldChange]
) -> None:
    if type(desired) is str:  # most declared values: skip the container checks
        if not _same_leaf(live, desired, parent):
            out.append(plans.FieldChange(path, live, desired))
        return
    if isinstance(desired, dict | Mapping):  # dict first: the ABC check is slow
        if not isinstance(live, dict | Mapping):
            if not (live is None and not desired):
                out.append(plans.FieldChange(path, live, desired))
            return
        # ``parent`` of a value is the key of the map holding it (``limits``).
        own = path.rpartition("/")[2]
        for key in sorted(desired):
            value = desired[key]
            child = _pointers.join(path, key)
            if key in live:
                _declared(live[key], value, child, own, out)
            elif value not in ({}, []):
                out.append(plans.FieldChange(child, None, value))
        return
    if isinstance(desired, list):
        if not isinstance(live, list):
            if not (live is None and not desired):
                out.append(plans.FieldChange(path, live, desired))
            return
        _declared_lists(live, desired, path, parent, out)
        return
    if not _same_leaf(live, desired, parent):
        out.append(plans.FieldChange(path, live, desired))


def _declared_lists(
    live: list[Any], desired: list[Any], path: str, parent: str, out: list[plans.FieldChange]
) -> None:
    live_names, desired_names = _names(live), _names(desired)
    if live_names is not None and desired_names is not None:
        live_set, desired_set = set(live_names), set(desired_names)
        common_live = [n for n in live_names if n in desired_set]
        common_desired = [n for n in desired_names if n in live_set]
        if common_live != common_desired:
            out.append(plans.FieldChange(path, live, desired))
            return
        by_name = dict(zip(live_names, live, strict=True))
        for index, (name, item) in enumerate(zip(desired_names, desired, strict=True)):
            child = _pointers.join(path, index)
            if name in by_name:
                _declared(by_name[name], item, child, parent, out)
            else:
                out.append(plans.FieldChange(child, None, item))
        return
    if len(live) != len(desired):
        out.append(plans.FieldChange(path, live, desired))
        return
    for index, (old, new) in enumerate(zip(live, desired, strict=True)):
        _declared(old, new, _pointers.join(path, index), parent, out)


def _same_leaf(live: Any, desired: Any, parent: str) -> bool:
    if same(live, desired):
        return True
    if parent in _QUANTITY_MAPS:
        a, b = _quantity(live), _quantity(desired)
        return a is not None and a == b
    return False


def _quantity(value: Any) -> Decimal | None:
    """A Kubernetes resource quantity's value (``500m`` → 0.5), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if match is None:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2) or ""]
    except InvalidOperation:
        return None
