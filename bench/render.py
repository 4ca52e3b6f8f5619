"""Render-stage figures: guarded YAML loading, Kustomize, Helm (in-process vs child), cache hits.

Run: .venv/bin/python bench/render.py
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from gitward import errors
from gitward.render import base, helm, kustomize, loading, rendering
from gitward.testing import trees


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``fn`` in seconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


DOC = (
    "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"
    "  labels: {{app: web, tier: x}}\ndata:\n  key: value\n  number: '{i}'\n"
)

KUSTOMIZE = {
    "base/kustomization.yaml": "resources: [deploy.yaml]\nconfigMapGenerator:\n"
    "- name: cfg\n  literals: [a=b]\n",
    "base/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
    "spec:\n  template:\n    spec:\n      containers: [{name: web, image: nginx:1.25}]\n",
    "staging/kustomization.yaml": "resources: [../base]\nnamePrefix: staging-\n"
    "images: [{name: nginx, newTag: '1.26'}]\n",
}

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "chart/values.yaml": "replicas: 2\nimage: {tag: '1.25'}\n",
    "chart/templates/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\n"
    "metadata: {name: '{{ .Release.Name }}'}\nspec: {replicas: {{ .Values.replicas }}}\n",
    "chart/templates/svc.yaml": "apiVersion: v1\nkind: Service\n"
    "metadata: {name: '{{ .Release.Name }}'}\n",
}


def main() -> None:
    text = "".join(DOC.format(i=i) for i in range(10_000))
    limits = base.Limits(max_documents=20_000)
    plain = timed(lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader)))
    guarded = timed(lambda: loading.load(text, "bench.yaml", limits))
    pure = timed(lambda: list(yaml.load_all(text, Loader=yaml.SafeLoader)), repeat=1)
    print(f"load 10,000 small docs ({len(text) / 1e6:.1f} MB):")
    print(f"  CSafeLoader, no guards      {plain * 1000:8.0f} ms")
    print(f"  loading.load (guarded)      {guarded * 1000:8.0f} ms  ({guarded / plain:.2f}x)")
    print(f"  pure-Python SafeLoader      {pure * 1000:8.0f} ms")
    bomb = "[" * 100_000
    start = time.perf_counter()
    with contextlib.suppress(errors.UnsafeInputError):
        loading.load(bomb, "bomb.yaml", base.Limits())
    print(f"  refuse 100,000-deep '['     {(time.perf_counter() - start) * 1e6:8.0f} us")

    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        write(root, {**KUSTOMIZE, **CHART})
        tree = trees.DirectoryTree(root)

        def request(path: str) -> base.RenderRequest:
            return base.RenderRequest(tree=tree, path=path, app="web", namespace="web")

        k = timed(lambda: kustomize.KustomizeRenderer().render(request("staging")))
        print(f"kustomize overlay (kubectl kustomize, 3 objects)  {k * 1000:6.0f} ms")

        import helm_python

        def in_process() -> None:
            with helm_python.Chart.load(str(root / "chart")) as chart:
                chart.render({}, name="web", namespace="web")

        in_process()
        inproc = timed(in_process, repeat=10)
        child = timed(lambda: helm.HelmRenderer().render(request("chart")), repeat=10)
        print(f"helm chart in-process (helm-python-sdk)         {inproc * 1000:6.1f} ms")
        print(f"helm chart via child process (gitward)          {child * 1000:6.1f} ms")
        print(f"  child-process overhead                        {(child - inproc) * 1000:6.1f} ms")

        rendering.cache.clear()
        rendering.render(request("staging"))
        hit = timed(lambda: rendering.render(request("staging")), repeat=50)
        rendering.render(request("chart"))
        hit_helm = timed(lambda: rendering.render(request("chart")), repeat=50)
        print(f"cache hit, kustomize app (detect+inputs+digests) {hit * 1e6:6.0f} us")
        print(f"cache hit, helm app                             {hit_helm * 1e6:6.0f} us")


if __name__ == "__main__":
    main()
