"""render.rendering: detection, the input-digest cache, limits, transforms, registry."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from gitward import errors
from gitward.model import resources
from gitward.render import base, caching, detection, registry, rendering
from gitward.testing import trees
from tests.render.conftest import MakeRepo, commit, write

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n"


class CountingRenderer:
    """A plugin renderer: one ConfigMap per line of `<path>/objects.txt`."""

    name = "counting"
    version = "1"

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self._lock = threading.Lock()

    def detect(self, tree: base.Tree, path: str) -> bool:
        return tree.kind(f"{path}/objects.txt") is not None

    def inputs(self, request: base.RenderRequest) -> Sequence[str]:
        return [f"{request.path}/objects.txt"]

    def render(self, request: base.RenderRequest) -> resources.Rendered:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        lines = request.tree.read(f"{request.path}/objects.txt").decode().split()
        return resources.Rendered(
            manifests=tuple(
                resources.Manifest.from_body(
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n}},
                    source=f"{request.path}/objects.txt",
                )
                for n in lines
            )
        )


@pytest.fixture
def plugin() -> Iterator[CountingRenderer]:
    renderer = CountingRenderer()
    registry.register(renderer)
    yield renderer
    registry.unregister(renderer.name)


def request(tree: base.Tree, path: str = "app", **kwargs: object) -> base.RenderRequest:
    return base.RenderRequest(tree=tree, path=path, app="demo", namespace="ns", **kwargs)  # type: ignore[arg-type]


def test_plugin_is_detected_before_the_directory_fallback(
    make_repo: MakeRepo, plugin: CountingRenderer
) -> None:
    tree = make_repo({"app/objects.txt": "a b\n", "app/x.yaml": CM.format(name="x")})
    assert detection.detect(tree, "app") is plugin
    assert [m.key.name for m in rendering.render(request(tree)).manifests] == ["a", "b"]
    assert [m.key.name for m in rendering.render(request(tree), "directory").manifests] == ["x"]


def test_unchanged_inputs_cost_no_render(
    make_repo: MakeRepo, plugin: CountingRenderer, home: Path
) -> None:
    tree = make_repo({"app/objects.txt": "a\n", "other/notes.txt": "1\n"})
    first = rendering.render(request(tree))
    assert plugin.calls == 1
    assert len(first.input_digest) == 64
    # A new commit that touches nothing the app reads: same output, no render.
    write(tree.root, {"other/notes.txt": "2\n"})
    second_tree = trees.DirectoryTree(tree.root, revision=commit(tree.root, home))
    assert second_tree.revision != tree.revision
    assert rendering.render(request(second_tree)) is first
    assert plugin.calls == 1
    # Options, namespace and inputs are all part of the key.
    rendering.render(request(second_tree, options={"x": 1}))
    assert plugin.calls == 2
    write(tree.root, {"app/objects.txt": "a b\n"})
    changed = rendering.render(request(trees.DirectoryTree(tree.root, commit(tree.root, home))))
    assert plugin.calls == 3
    assert changed.input_digest != first.input_digest
    stats = rendering.cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (1, 3, 3)


def test_concurrent_renders_of_one_key_render_once(make_repo: MakeRepo) -> None:
    slow = CountingRenderer(delay=0.3)
    registry.register(slow)
    try:
        tree = make_repo({"app/objects.txt": "a\n"})
        results: list[resources.Rendered] = []
        threads = [
            threading.Thread(target=lambda: results.append(rendering.render(request(tree))))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert slow.calls == 1
        assert all(r is results[0] for r in results)
    finally:
        registry.unregister(slow.name)


def test_errors_are_not_cached(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/a.yaml": "a: [\n"})
    for _ in range(2):
        with pytest.raises(errors.RenderError, match=r"app/a\.yaml: document 0"):
            rendering.render(request(tree))
    assert rendering.cache.stats().entries == 0


def test_object_count_and_size_limits(make_repo: MakeRepo, plugin: CountingRenderer) -> None:
    two = "---\n".join(CM.format(name=f"c{i}") for i in range(2))
    tree = make_repo({"app/a.yaml": two, "app/b.yaml": two, "app/c.yaml": two})
    with pytest.raises(errors.UnsafeInputError, match=r"more than 4 objects \(at 'app/c\.yaml'\)"):
        rendering.render(request(tree, limits=base.Limits(max_documents=4)))
    assert len(rendering.render(request(tree, limits=base.Limits(max_documents=6))).manifests) == 6
    listed = make_repo({"app/objects.txt": "a b c d e\n"})
    with pytest.raises(errors.UnsafeInputError, match="renders 5 objects, over the 4-object limit"):
        rendering.render(request(listed, limits=base.Limits(max_documents=4)))
    with pytest.raises(errors.UnsafeInputError, match=r"renders \d+ bytes, over the 100-byte"):
        rendering.render(request(listed, limits=base.Limits(max_total_bytes=100)))


def test_transforms_run_after_render_and_are_cached(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/a.yaml": CM.format(name="a")})
    seen: list[str] = []

    def label(req: base.RenderRequest, rendered: resources.Rendered) -> resources.Rendered:
        seen.append(req.app)
        return resources.Rendered(
            manifests=tuple(
                resources.Manifest.from_body(
                    {**m.body, "metadata": {**m.body["metadata"], "labels": {"t": "1"}}}, m.source
                )
                for m in rendered.manifests
            ),
            warnings=rendered.warnings,
        )

    rendering.add_transform(label)
    try:
        first = rendering.render(request(tree))
        assert first.manifests[0].labels == {"t": "1"}
        assert rendering.render(request(tree)) is first
        assert seen == ["demo"]
    finally:
        rendering.remove_transform(label)


def test_lru_bounds() -> None:
    cache = caching.RenderCache(max_entries=2, max_bytes=100)
    empty = resources.Rendered(manifests=())
    cache.put("a", empty, 10)
    cache.put("b", empty, 10)
    assert cache.get("a") is empty  # a is now the most recent
    cache.put("c", empty, 10)
    assert cache.get("b") is None
    assert cache.get("a") is empty
    cache.put("d", empty, 95)  # over the byte bound: evicts the oldest until it fits
    assert cache.stats().entries == 1
    assert cache.get("d") is empty
    cache.put("huge", empty, 101)  # never cached
    assert cache.get("huge") is None


def test_registry() -> None:
    assert registry.names()[:4] == ["helm", "kustomize", "jsonnet", "directory"]
    with pytest.raises(errors.ConfigError, match="'directory' is already registered"):
        registry.register(registry.get("directory"))
    with pytest.raises(errors.RenderError, match=r"unknown renderer 'cue' \(registered: helm"):
        registry.get("cue")
    bad = CountingRenderer()
    bad.name = "no spaces allowed"
    with pytest.raises(errors.ConfigError, match="not a plain identifier"):
        registry.register(bad)


_NAMED = """
import sys
from gitward.render import registry
assert registry.get("directory").name == "directory"
print(sorted(m for m in sys.modules if m.startswith("gitward.render.")))
print(registry.get("helm").name, registry.get("helm") is registry.get("helm"))
"""


def test_a_built_in_renderer_is_imported_when_first_asked_for() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _NAMED], capture_output=True, text=True, timeout=60, check=True
    )
    loaded, helm = done.stdout.splitlines()
    assert "gitward.render.directory" in loaded
    for other in ("helm", "kustomize", "jsonnet"):
        assert f"gitward.render.{other}'" not in loaded
    assert helm == "helm True"


def test_missing_application_path(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/a.yaml": CM.format(name="a")})
    with pytest.raises(errors.RenderError, match="application path 'gone' does not exist"):
        rendering.render(request(tree, path="gone"))
