"""Issue 14: a one-shot sync needs no more requests per object than kubectl.

``gitward sync`` as a process against the Kubernetes API test server, which
counts the requests it answers. A fresh sync sends one apply per object and a
few LISTs (no read of each object first); a no-op sync and a diff send no
request per object at all, and list each kind once; drift made with the real kubectl (scale, edit, a
removed field) and a field dropped from Git still show in the diff and are
corrected by the next sync.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import Git, Gitward, kubectl

pytestmark = pytest.mark.slow

COUNT = 16  # of each kind: the target's LIST threshold


def _files() -> dict[str, str | None]:
    docs = []
    for i in range(COUNT):
        docs.append(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\n"
            f"data: {{key: value-{i}, other: kept}}\n"
        )
        docs.append(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{i}}}\nspec:\n"
            f"  replicas: 1\n  selector: {{matchLabels: {{app: app-{i}}}}}\n  template:\n"
            f"    metadata: {{labels: {{app: app-{i}}}}}\n    spec:\n      containers:\n"
            f"        - {{name: main, image: 'example/app:1.0'}}\n"
        )
    return {"app/all.yaml": "---\n".join(docs)}


def _app(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(
        "apiVersion: gitward.dev/v1\nkind: Application\nmetadata: {name: trips}\nspec:\n"
        f"  source: {{repoURL: '{url}', ref: main, path: app}}\n"
        "  render: {directory: {}}\n"
        "  destination: {target: test, namespace: trips}\n"
    )
    return path


def _spent(cluster: Any, before: dict[str, int]) -> dict[str, int]:
    after = cluster.requests.snapshot()
    return {verb: n - before.get(verb, 0) for verb, n in after.items() if n - before.get(verb, 0)}


def test_sync_round_trips_and_drift(
    gitward: Gitward, git: Git, cluster: Any, tmp_path: Path
) -> None:
    objects = 2 * COUNT
    git.commit("app", _files())
    app = _app(tmp_path, git.url)
    kubectl(cluster, "create", "namespace", "trips")

    before = cluster.requests.snapshot()
    first = gitward.json("sync", str(app))
    assert first["phase"] == "Succeeded", first
    spent = _spent(cluster, before)
    assert spent.get("patch") == objects, spent  # one apply each
    assert "get" not in spent, spent  # no read of each object first
    assert sum(spent.values()) <= objects + 20, spent

    for command in (("diff",), ("sync",)):
        before = cluster.requests.snapshot()
        gitward(*command, str(app))
        spent = _spent(cluster, before)
        assert "get" not in spent, (command, spent)
        assert "patch (dry run)" not in spent, (command, spent)
        assert "patch" not in spent, (command, spent)
        # One LIST per kind: the inventory holds every object, none is read again.
        assert spent.get("list") == 2, (command, spent)
        assert sum(spent.values()) <= 20, (command, spent)

    # Drift made with kubectl, and a field dropped from Git.
    kubectl(cluster, "-n", "trips", "scale", "deployment", "app-0", "--replicas=3")
    kubectl(cluster, "-n", "trips", "patch", "configmap", "cm-1", "-p", '{"data":{"key":"x"}}')
    kubectl(
        cluster,
        "-n",
        "trips",
        "patch",
        "configmap",
        "cm-2",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/data/key"}]',
    )
    files = _files()
    text = files["app/all.yaml"]
    assert text is not None
    git.commit("drop a field", {"app/all.yaml": text.replace("value-3, other: kept", "value-3")})

    planned = gitward.json("diff", str(app), expect=1)
    changed = {
        c["resource"]: sorted(f["path"] for f in c["fieldChanges"])
        for c in planned["changes"]
        if c["action"] == "update"
    }
    assert changed == {
        "Deployment.apps trips/app-0": ["/spec/replicas"],
        "ConfigMap trips/cm-1": ["/data/key"],
        "ConfigMap trips/cm-2": ["/data/key"],
        "ConfigMap trips/cm-3": ["/data/other"],
    }, planned

    fixed = gitward.json("sync", str(app))
    results = {r["resource"]: r["result"] for r in fixed["results"]}
    assert {k: v for k, v in results.items() if v != "Unchanged"} == dict.fromkeys(
        changed, "Configured"
    )
    gitward("diff", str(app))  # in sync again

    before = cluster.requests.snapshot()
    gitward("diff", str(app))
    spent = _spent(cluster, before)
    assert "patch (dry run)" not in spent, spent
