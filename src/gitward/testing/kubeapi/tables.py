"""Server-side printing: ``meta.k8s.io/v1`` Table answers for ``kubectl get``.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` on get, list
and watch and prints the columns the server chose. Columns follow
kube-apiserver's printers for the common kinds (Name, Ready, Status, Age...)
and a CRD's ``additionalPrinterColumns`` for custom kinds. Called by
:mod:`.serving` and :mod:`.watching`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gitward.testing.kubeapi import types

Column = tuple[str, str, Callable[[Mapping[str, Any]], Any]]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def age(timestamp: str | None, now: datetime.datetime | None = None) -> str:
    """kubectl's short human duration (``5s``, ``3m``, ``2d``)."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    now = now or datetime.datetime.now(datetime.UTC)
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    return f"{days}d" if days < 365 * 2 else f"{days // 365}y"


def _ready(obj: Mapping[str, Any]) -> str:
    return f"{_get(obj, 'status', 'readyReplicas') or 0}/{_get(obj, 'spec', 'replicas') or 0}"


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "Namespace"): [("Status", "string", lambda o: _get(o, "status", "phase") or "")],
    ("", "ConfigMap"): [
        ("Data", "integer", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))
    ],
    ("", "Secret"): [
        ("Type", "string", lambda o: o.get("type") or ""),
        ("Data", "integer", lambda o: len(o.get("data") or {})),
    ],
    ("", "Service"): [
        ("Type", "string", lambda o: _get(o, "spec", "type") or ""),
        ("Cluster-IP", "string", lambda o: _get(o, "spec", "clusterIP") or "<none>"),
        ("External-IP", "string", lambda o: "<none>"),
        (
            "Port(s)",
            "string",
            lambda o: (
                ",".join(
                    f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                    for p in _get(o, "spec", "ports") or ()
                    if isinstance(p, Mapping)
                )
                or "<none>"
            ),
        ),
    ],
    ("", "ServiceAccount"): [("Secrets", "string", lambda o: len(o.get("secrets") or ()))],
    ("", "Pod"): [
        (
            "Ready",
            "string",
            lambda o: "{}/{}".format(
                sum(1 for c in _get(o, "status", "containerStatuses") or () if c.get("ready")),
                len(_get(o, "spec", "containers") or ()),
            ),
        ),
        ("Status", "string", lambda o: _get(o, "status", "phase") or "Pending"),
        ("Restarts", "integer", lambda o: 0),
    ],
    ("apps", "Deployment"): [
        ("Ready", "string", _ready),
        ("Up-to-date", "integer", lambda o: _int(_get(o, "status", "updatedReplicas"))),
        ("Available", "integer", lambda o: _int(_get(o, "status", "availableReplicas"))),
    ],
    ("apps", "StatefulSet"): [("Ready", "string", _ready)],
    ("apps", "ReplicaSet"): [
        ("Desired", "integer", lambda o: _int(_get(o, "spec", "replicas"))),
        ("Current", "integer", lambda o: _int(_get(o, "status", "replicas"))),
        ("Ready", "integer", lambda o: _int(_get(o, "status", "readyReplicas"))),
    ],
    ("apps", "DaemonSet"): [
        ("Desired", "integer", lambda o: _int(_get(o, "status", "desiredNumberScheduled"))),
        ("Current", "integer", lambda o: _int(_get(o, "status", "currentNumberScheduled"))),
        ("Ready", "integer", lambda o: _int(_get(o, "status", "numberReady"))),
    ],
    ("batch", "Job"): [
        (
            "Status",
            "string",
            lambda o: next(
                (
                    c["type"]
                    for c in _get(o, "status", "conditions") or ()
                    if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                ),
                "Running",
            ),
        ),
        (
            "Completions",
            "string",
            lambda o: (
                f"{_int(_get(o, 'status', 'succeeded'))}/{_get(o, 'spec', 'completions') or 1}"
            ),
        ),
    ],
    ("batch", "CronJob"): [
        ("Schedule", "string", lambda o: _get(o, "spec", "schedule") or ""),
        ("Suspend", "boolean", lambda o: bool(_get(o, "spec", "suspend"))),
    ],
    ("", "PersistentVolumeClaim"): [
        ("Status", "string", lambda o: _get(o, "status", "phase") or "Pending"),
    ],
    ("apiextensions.k8s.io", "CustomResourceDefinition"): [
        ("Created At", "date", lambda o: _meta(o).get("creationTimestamp") or ""),
    ],
}


def _json_path(obj: Mapping[str, Any], expression: str) -> Any:
    """The subset of JSONPath CRD printer columns use: ``.a.b``, ``.a[0].b``."""
    node: Any = obj
    for part in expression.strip().lstrip(".").replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("[") and part.endswith("]"):
            index = part[1:-1]
            if isinstance(node, list) and index.isdigit() and int(index) < len(node):
                node = node[int(index)]
            else:
                return None
        elif isinstance(node, Mapping):
            node = node.get(part)
        else:
            return None
    return node


def _column_getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda obj: _json_path(obj, path)


def columns_for(
    rtype: types.ResourceType, printer_columns: Sequence[Mapping[str, Any]]
) -> list[Column]:
    if rtype.is_custom:
        cols: list[Column] = []
        for col in printer_columns:
            path = str(col.get("jsonPath", ""))
            cols.append(
                (
                    str(col.get("name", "")),
                    str(col.get("type", "string")),
                    _column_getter(path),
                )
            )
        return cols
    return _COLUMNS.get((rtype.group, rtype.kind), [])


def table(
    rtype: types.ResourceType,
    objects: Sequence[Mapping[str, Any]],
    *,
    printer_columns: Sequence[Mapping[str, Any]] = (),
    resource_version: str = "",
    continue_token: str = "",
    include_object: str = "Metadata",
    with_headers: bool = True,
) -> dict[str, Any]:
    """A Table of ``objects``; ``with_headers`` False for watch events after the first."""
    extra = columns_for(rtype, printer_columns)
    # kubectl shows columns of priority > 0 only with -o wide.
    priorities = (
        [int(c.get("priority", 0) or 0) for c in printer_columns] if rtype.is_custom else []
    )
    priorities += [0] * (len(extra) - len(priorities))
    now = datetime.datetime.now(datetime.UTC)
    has_age = any(name == "Age" for name, _, _ in extra)
    definitions = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name must be unique within a namespace.",
            "priority": 0,
        }
    ]
    definitions += [
        {
            "name": name,
            "type": kind if kind != "date" else "string",
            "format": "",
            "description": name,
            "priority": priority,
        }
        for (name, kind, _), priority in zip(extra, priorities, strict=True)
    ]
    if not has_age:
        definitions.append(
            {
                "name": "Age",
                "type": "string",
                "format": "",
                "description": "CreationTimestamp is a timestamp representing the server time "
                "when this object was created.",
                "priority": 0,
            }
        )
    rows = []
    for obj in objects:
        meta = _meta(obj)
        cells: list[Any] = [meta.get("name", "")]
        for _, kind, getter in extra:
            value = getter(obj)
            if kind == "date" and isinstance(value, str):
                value = age(value, now)
            cells.append("<none>" if value is None else value)
        if not has_age:
            cells.append(age(meta.get("creationTimestamp"), now))
        row: dict[str, Any] = {"cells": cells}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
            }
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    body: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    body["columnDefinitions"] = definitions if with_headers else []
    body["rows"] = rows
    return body
