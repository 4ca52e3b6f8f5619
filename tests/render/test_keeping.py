"""render.keeping: renders kept on disk for the next one-shot process."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gitward.model import resources
from gitward.render import base, caching, keeping, registry, rendering
from gitward.testing import trees
from tests.render.conftest import MakeRepo, commit, write
from tests.render.test_rendering import CountingRenderer, request
from tests.render.test_sops import make_key

SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
    "stringData: {password: hunter2}\n---\n"
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"
    "data: {ratio: '.5', when: 2024-01-02}\n"
)


def _fresh_process() -> None:
    """What a new process starts with: an empty in-memory cache."""
    rendering.cache.clear()


def _files(kept: keeping.KeptRenders) -> list[Path]:
    return sorted(kept.directory.glob("*.json")) if kept.directory.exists() else []


def test_a_kept_render_serves_the_next_process_without_rendering(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    counting = CountingRenderer()
    registry.register(counting)
    try:
        tree = make_repo({"app/objects.txt": "a b\n"})
        kept = keeping.KeptRenders(tmp_path / "renders")
        first = rendering.render(request(tree), kept=kept)
        assert counting.calls == 1
        (written,) = _files(kept)
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
        assert stat.S_IMODE(kept.directory.stat().st_mode) == 0o700

        _fresh_process()
        again = rendering.render(request(tree), kept=keeping.KeptRenders(tmp_path / "renders"))
        assert counting.calls == 1
        assert again.manifests == first.manifests
        assert again.input_digest == first.input_digest
        assert again.input_paths == first.input_paths
    finally:
        registry.unregister(counting.name)


def test_a_changed_input_is_rendered_again(make_repo: MakeRepo, tmp_path: Path, home: Path) -> None:
    tree = make_repo({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    kept = keeping.KeptRenders(tmp_path / "renders")
    rendering.render(request(tree), kept=kept)
    write(tree.root, {"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"})
    changed = trees.DirectoryTree(tree.root, revision=commit(tree.root, home))
    _fresh_process()
    rendered = rendering.render(request(changed), kept=kept)
    assert [m.key.name for m in rendered.manifests] == ["b"]
    assert len(_files(kept)) == 2


def test_what_the_repository_says_comes_back_exactly(make_repo: MakeRepo, tmp_path: Path) -> None:
    tree = make_repo({"app/all.yaml": SECRET})
    kept = keeping.KeptRenders(tmp_path / "renders")
    made = rendering.render(request(tree), kept=kept)
    _fresh_process()
    loaded = kept.load(made.input_digest)
    assert loaded is not None
    assert loaded[0].manifests == made.manifests
    assert [m.source for m in loaded[0].manifests] == ["app/all.yaml#0", "app/all.yaml#1"]
    assert loaded[0].manifests[1].body["data"] == {"ratio": ".5", "when": "2024-01-02"}


def test_decrypted_or_substituted_renders_never_reach_the_disk(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    tree = make_repo({"app/all.yaml": SECRET})
    kept = keeping.KeptRenders(tmp_path / "renders")
    decryption = make_key(tmp_path, "main").decryption
    rendering.render(request(tree, decryption=decryption), kept=kept)
    rendering.render(request(tree, variables=base.Variables(values={"x": "1"})), kept=kept)
    assert _files(kept) == []
    rendering.render(request(tree), kept=kept)
    assert len(_files(kept)) == 1


def test_an_unreadable_file_is_rendered_again_and_replaced(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    tree = make_repo({"app/objects.yaml": SECRET})
    kept = keeping.KeptRenders(tmp_path / "renders")
    made = rendering.render(request(tree), kept=kept)
    (written,) = _files(kept)
    for damage in (b'{"format": 1, "key": "x"', b'{"format": 1, "key": "other"}', b"[]"):
        written.write_bytes(damage)
        assert kept.load(made.input_digest) is None
        _fresh_process()
        assert rendering.render(request(tree), kept=kept).manifests == made.manifests
        assert kept.load(made.input_digest) is not None


def test_the_least_recently_used_go_first(tmp_path: Path) -> None:
    kept = keeping.KeptRenders(tmp_path / "renders", max_entries=2, max_bytes=1000)
    empty = resources.Rendered(manifests=())
    kept.keep("a", empty, 10)
    kept.keep("b", empty, 10)
    os.utime(kept.directory / "a.json", (1, 1))
    os.utime(kept.directory / "b.json", (2, 2))
    assert kept.load("a") is not None
    kept.keep("c", empty, 10)  # "a" was just used: "b" goes
    assert kept.load("b") is None
    assert kept.load("a") is not None
    kept.keep("huge", empty, 1001)  # over the byte bound: never kept
    assert kept.load("huge") is None


@pytest.mark.parametrize("broken", ["file", "directory"])
def test_a_directory_that_cannot_be_written_costs_only_the_keeping(
    make_repo: MakeRepo, tmp_path: Path, broken: str
) -> None:
    blocker = tmp_path / "renders"
    if broken == "file":
        blocker.write_text("not a directory")
    else:
        blocker.mkdir()
        (blocker / f"v{keeping.FORMAT}").write_text("not a directory")
    tree = make_repo({"app/all.yaml": SECRET})
    rendered = rendering.render(request(tree), kept=keeping.KeptRenders(blocker))
    assert [m.key.name for m in rendered.manifests] == ["db", "cfg"]


def test_the_memory_cache_is_still_consulted_first(make_repo: MakeRepo, tmp_path: Path) -> None:
    tree = make_repo({"app/all.yaml": SECRET})
    kept = keeping.KeptRenders(tmp_path / "renders")
    memory = caching.RenderCache()
    first = rendering.render(request(tree), render_cache=memory, kept=kept)
    for path in _files(kept):
        path.unlink()
    assert rendering.render(request(tree), render_cache=memory, kept=kept) is first
    assert _files(kept) == []
