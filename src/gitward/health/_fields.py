"""Safe reads of the parts of a live object that health checks look at.

Private to ``gitward.health``. Live objects come from any cluster and any
controller version: a field may be missing, null or of an odd type. These
readers return a neutral default instead, so a check decides on what is
there; anything stranger still ends as Unknown in ``assessing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def section(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """``obj[name]`` when it is a map, else an empty map."""
    value = obj.get(name)
    return value if isinstance(value, Mapping) else {}


def status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return section(obj, "status")


def spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return section(obj, "spec")


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return section(obj, "metadata")


def integer(value: Any, default: int = 0) -> int:
    """An integer field; ``None`` or a non-integer gives ``default``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def items(value: Any) -> list[Mapping[str, Any]]:
    """The map items of a list field (conditions, containerStatuses...)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def conditions(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return items(status(obj).get("conditions"))


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The status condition of type ``kind``, if the object has one."""
    for item in conditions(obj):
        if item.get("type") == kind:
            return item
    return None


def is_true(item: Mapping[str, Any] | None) -> bool:
    return item is not None and item.get("status") == "True"


def is_false(item: Mapping[str, Any] | None) -> bool:
    return item is not None and item.get("status") == "False"


def generation_pending(obj: Mapping[str, Any]) -> bool:
    """True when the controller has not yet seen the latest spec.

    Only when ``status.observedGeneration`` is present: objects whose
    controller does not report it must not look stuck forever.
    """
    observed = status(obj).get("observedGeneration")
    generation = metadata(obj).get("generation")
    if not isinstance(observed, int) or not isinstance(generation, int):
        return False
    return observed < generation


def describe(obj: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` for messages."""
    meta = metadata(obj)
    namespace = text(meta.get("namespace"))
    name = text(meta.get("name"))
    return f"{text(obj.get('kind')) or 'object'} {namespace + '/' if namespace else ''}{name}"
