"""Builders of Kubernetes-shaped objects for the diff tests."""

from __future__ import annotations

import copy
import json
from typing import Any

APP = "shop"


def tracked(obj: dict[str, Any], app: str = APP) -> dict[str, Any]:
    """``obj`` stamped the way the target stamps what it applies for ``app``."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    api = obj["apiVersion"]
    group = api.rpartition("/")[0] if "/" in api else ""
    meta.setdefault("labels", {})["gitward.dev/app"] = app
    meta.setdefault("annotations", {})["gitward.dev/tracking-id"] = (
        f"{app}:{group}/{obj['kind']}:{meta.get('namespace', '')}/{meta['name']}"
    )
    return obj


def deployment(name: str = "web", replicas: int = 2, image: str = "nginx:1.27") -> dict[str, Any]:
    return tracked(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "web", "image": image}]},
                },
            },
        }
    )


def configmap(name: str, **data: str) -> dict[str, Any]:
    return tracked(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "shop"},
            "data": data,
        }
    )


def as_live(
    desired: dict[str, Any], uid: str = "uid-1", *, manager: str = "gitward"
) -> dict[str, Any]:
    """What the API server would hold after gitward applied ``desired``: server
    fields, defaults, status, and a managedFields entry for every declared leaf."""
    live = copy.deepcopy(desired)
    meta = live["metadata"]
    meta.update(
        uid=uid,
        resourceVersion="41",
        generation=1,
        creationTimestamp="2026-11-23T10:00:00Z",
        managedFields=[
            {
                "manager": manager,
                "operation": "Apply",
                "apiVersion": live["apiVersion"],
                "fieldsType": "FieldsV1",
                "fieldsV1": _fields_of(
                    {k: v for k, v in desired.items() if k not in ("apiVersion", "kind")}
                ),
            }
        ],
    )
    if live["kind"] == "Deployment":
        spec = live["spec"]
        spec.setdefault("strategy", {"type": "RollingUpdate"})
        for container in spec["template"]["spec"]["containers"]:
            container.setdefault("imagePullPolicy", "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
        live["status"] = {"observedGeneration": 1, "replicas": spec["replicas"]}
    return live


def _fields_of(value: Any) -> Any:
    if isinstance(value, dict):
        return {f"f:{k}": _fields_of(v) for k, v in value.items()}
    if (
        isinstance(value, list)
        and value
        and all(isinstance(i, dict) and "name" in i for i in value)
    ):
        return {
            f"k:{json.dumps({'name': i['name']}, separators=(',', ':'))}": {
                ".": {},
                **_fields_of(i),
            }
            for i in value
        }
    return {}
