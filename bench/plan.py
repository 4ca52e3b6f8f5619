"""Benchmark: ``gitward.diff.planning.build`` for one Application of N resources.

Measures the pure planning stage (no I/O): a no-op plan and a plan where 10%
of the resources changed, on the structural path (no dry-run results) and on
the server-side path (dry-run results given), plus 10% pruned objects.

Run: ``.venv/bin/python bench/plan.py [--resources 500] [--repeat 20]``.
Prints the median and best wall time of each case.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from typing import Any

from gitward.diff import base, planning
from gitward.model import plans, resources

APP = "bench"


def _stamp(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    key = resources.ResourceKey.of(obj)
    meta.setdefault("labels", {})[resources.APP_LABEL] = APP
    meta.setdefault("annotations", {})[resources.TRACKING_ANNOTATION] = (
        f"{APP}:{key.group}/{key.kind}:{key.namespace}/{key.name}"
    )
    return obj


def desired_objects(count: int) -> list[dict[str, Any]]:
    objects = []
    for i in range(count):
        if i % 2:
            objects.append(
                _stamp(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": f"cm-{i}", "namespace": "bench"},
                        "data": {"key": f"value-{i}", "other": "x" * 64},
                    }
                )
            )
            continue
        objects.append(
            _stamp(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": f"dep-{i}", "namespace": "bench"},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": f"dep-{i}"}},
                        "template": {
                            "metadata": {"labels": {"app": f"dep-{i}"}},
                            "spec": {
                                "containers": [
                                    {
                                        "name": "web",
                                        "image": "nginx:1.27",
                                        "ports": [{"containerPort": 80}],
                                        "env": [
                                            {"name": f"E{j}", "value": str(j)} for j in range(5)
                                        ],
                                        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                                    }
                                ]
                            },
                        },
                    },
                }
            )
        )
    return objects


def _fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {f"f:{k}": _fields(v) for k, v in value.items()}
    if (
        isinstance(value, list)
        and value
        and all(isinstance(i, dict) and "name" in i for i in value)
    ):
        return {
            "k:" + json.dumps({"name": i["name"]}, separators=(",", ":")): {".": {}, **_fields(i)}
            for i in value
        }
    return {}


def live_object(desired: dict[str, Any], index: int) -> dict[str, Any]:
    """What the API server holds after applying ``desired``: defaults, status, managedFields."""
    live = copy.deepcopy(desired)
    meta = live["metadata"]
    meta.update(
        uid=f"uid-{index}",
        resourceVersion=str(1000 + index),
        generation=1,
        creationTimestamp="2026-11-23T10:00:00Z",
        managedFields=[
            {
                "manager": "gitward",
                "operation": "Apply",
                "apiVersion": live["apiVersion"],
                "fieldsType": "FieldsV1",
                "fieldsV1": _fields(
                    {k: v for k, v in desired.items() if k not in ("apiVersion", "kind")}
                ),
            }
        ],
    )
    if live["kind"] == "Deployment":
        spec = live["spec"]
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}
        spec["revisionHistoryLimit"] = 10
        for container in spec["template"]["spec"]["containers"]:
            container["imagePullPolicy"] = "IfNotPresent"
            container["terminationMessagePolicy"] = "File"
        live["status"] = {"observedGeneration": 1, "replicas": 2, "availableReplicas": 2}
    return live


def case(
    count: int, changed_share: float, server_side: bool
) -> tuple[
    list[resources.Manifest],
    dict[resources.ResourceKey, dict[str, Any]],
    list[dict[str, Any]],
    dict[resources.ResourceKey, dict[str, Any]] | None,
]:
    desired = desired_objects(count)
    manifests = [resources.Manifest.from_body(d, f"bench.yaml#{i}") for i, d in enumerate(desired)]
    live = {
        m.key: live_object(d, i) for i, (m, d) in enumerate(zip(manifests, desired, strict=True))
    }
    changed = int(count * changed_share)
    for manifest in manifests[:changed]:
        obj = live[manifest.key]
        if obj["kind"] == "Deployment":
            obj["spec"]["replicas"] = 3
        else:
            obj["data"]["key"] = "drifted"
    # The same share of objects left Git: they are in the inventory only.
    gone = [live_object(d, count + i) for i, d in enumerate(desired_objects(count)[:changed])]
    for i, obj in enumerate(gone):
        obj["metadata"]["name"] += f"-old-{i}"
        _stamp(obj)
    inventory = list(live.values()) + gone
    predicted = None
    if server_side:
        predicted = {}
        for manifest in manifests:
            result = copy.deepcopy(live[manifest.key])
            body = manifest.body
            if result["kind"] == "Deployment":
                result["spec"]["replicas"] = body["spec"]["replicas"]
            else:
                result["data"] = dict(body["data"])
            predicted[manifest.key] = result
    return manifests, live, inventory, predicted


def measure(
    count: int, changed_share: float, server_side: bool, repeat: int
) -> tuple[float, float, plans.Plan]:
    manifests, live, inventory, predicted = case(count, changed_share, server_side)
    options = base.PlanOptions(prune=True)
    times = []
    plan = None
    for _ in range(repeat):
        start = time.perf_counter()
        plan = planning.build(APP, "rev", manifests, live, inventory, options, predicted=predicted)
        times.append(time.perf_counter() - start)
    assert plan is not None
    return statistics.median(times), min(times), plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"planning.build, {args.resources} resources, {args.repeat} runs each")
    for server_side in (False, True):
        for share in (0.0, 0.1):
            median, best, plan = measure(args.resources, share, server_side, args.repeat)
            path = "server-side" if server_side else "structural"
            label = "no-op" if share == 0 else f"{share:.0%} changed + {share:.0%} pruned"
            print(
                f"  {path:<12} {label:<24} median {median * 1000:7.1f} ms"
                f"  best {best * 1000:7.1f} ms"
                f"  {plan.summary()}"
            )


if __name__ == "__main__":
    main()
