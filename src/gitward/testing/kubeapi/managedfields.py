"""managedFields entries of the Kubernetes API test server.

One :class:`Entry` per (manager, operation, apiVersion, subresource), with
the fields it owns as a :class:`.fieldsets.FieldSet`; decoded from and
encoded to ``metadata.managedFields`` as kube-apiserver writes them, with the
API server's cap on Update entries (the oldest merged into
``ancient-changes``). Used by :mod:`.applying`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gitward.testing.kubeapi import fieldsets

MAX_UPDATE_MANAGERS = 10
_ANCIENT = "ancient-changes"


class Entry:
    """One managedFields entry."""

    __slots__ = ("api_version", "fields", "manager", "operation", "subresource", "time")

    def __init__(
        self,
        manager: str,
        operation: str,
        api_version: str,
        time: str | None,
        fields: fieldsets.FieldSet,
        subresource: str,
    ) -> None:
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.time = time
        self.fields = fields
        self.subresource = subresource

    @property
    def identity(self) -> tuple[str, str, str, str]:
        # Appliers keep one entry whatever apiVersion they used (BuildManagerIdentifier).
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def printed(self) -> str:
        text = orjson.dumps(self.manager).decode()
        if self.subresource:
            text += f" with subresource {orjson.dumps(self.subresource).decode()}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = fieldsets.to_fields_v1(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


Managers = dict[tuple[str, str, str, str], Entry]


def decode(raw: Any, where: str) -> Managers | None:
    """Entries of ``metadata.managedFields``; None when absent, empty or undecodable."""
    if not isinstance(raw, list) or not raw:
        return None
    out: Managers = {}
    for item in raw:
        if not isinstance(item, Mapping):
            return None
        manager = item.get("manager")
        if manager is None and not item.get("operation"):
            continue  # [{}] is how clients reset managedFields
        operation = item.get("operation")
        if not isinstance(manager, str) or operation not in ("Apply", "Update"):
            return None
        if item.get("fieldsType", "FieldsV1") != "FieldsV1":
            return None
        try:
            fields = fieldsets.from_fields_v1(item.get("fieldsV1") or {}, where)
        except fieldsets.FieldSetError:
            return None
        entry = Entry(
            manager,
            operation,
            str(item.get("apiVersion") or ""),
            item.get("time") if isinstance(item.get("time"), str) else None,
            fields,
            str(item.get("subresource") or ""),
        )
        previous = out.get(entry.identity)
        if previous is not None:
            entry.fields = fieldsets.union(previous.fields, entry.fields)
        out[entry.identity] = entry
    return out


def encode(managers: Managers) -> list[dict[str, Any]]:
    entries = [e for e in managers.values() if not e.fields.empty()]
    entries.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [e.encode() for e in entries]


def cap_updates(managers: Managers) -> None:
    """Merge the oldest Update entries into ``ancient-changes`` past the cap (capManagers)."""
    updates = [e for e in managers.values() if e.operation == "Update"]
    if len(updates) <= MAX_UPDATE_MANAGERS:
        return
    updates.sort(key=lambda e: (e.time or "", e.manager))
    excess = len(updates) - MAX_UPDATE_MANAGERS + 1
    for entry in updates[:excess]:
        if entry.manager == _ANCIENT:
            continue
        del managers[entry.identity]
        ancient = Entry(_ANCIENT, "Update", entry.api_version, entry.time, entry.fields, "")
        found = managers.get(ancient.identity)
        if found is not None:
            ancient.fields = fieldsets.union(found.fields, entry.fields)
            ancient.time = max(found.time or "", entry.time or "") or None
        managers[ancient.identity] = ancient


def with_managed_fields(obj: dict[str, Any], managers: Managers) -> dict[str, Any]:
    encoded = encode(managers)
    metadata = dict(obj.get("metadata") or {})
    if encoded:
        metadata["managedFields"] = encoded
    else:
        metadata.pop("managedFields", None)
    obj["metadata"] = metadata
    return obj
