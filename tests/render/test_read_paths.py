"""render.rendering: ``Rendered.input_paths``, the repository paths a render
read, named only when they are all it read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gitward.render import registry, rendering
from tests.render.conftest import MakeRepo
from tests.render.test_rendering import CountingRenderer, request

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n"


@pytest.fixture
def plugin() -> Iterator[CountingRenderer]:
    renderer = CountingRenderer()  # declares no ``confined``
    registry.register(renderer)
    yield renderer
    registry.unregister(renderer.name)


def test_a_directory_reads_its_path(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/a.yaml": CM.format(name="a"), "other/b.yaml": CM.format(name="b")})
    assert rendering.render(request(tree, "./app/"), "directory").input_paths == ("app",)


def test_a_kustomize_overlay_reads_its_base_outside_its_path(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "overlays/prod/kustomization.yaml": "resources: [../../base]\n",
            "base/kustomization.yaml": "resources: [cm.yaml]\n",
            "base/cm.yaml": CM.format(name="a"),
            "base/unused.yaml": CM.format(name="b"),
        }
    )
    paths = rendering.render(request(tree, "overlays/prod"), "kustomize").input_paths
    assert paths is not None and paths[0] == "overlays/prod"
    assert {"base/kustomization.yaml", "base/cm.yaml"} <= set(paths)
    assert "base/unused.yaml" not in paths


def test_a_helm_chart_reads_its_value_files_elsewhere(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\n",
            "chart/templates/cm.yaml": CM.format(name="{{ .Values.name }}"),
            "values/prod.yaml": "name: prod\n",
        }
    )
    rendered = rendering.render(
        request(tree, "chart", options={"valueFiles": ["../values/prod.yaml"]}), "helm"
    )
    assert rendered.input_paths is not None
    assert rendered.input_paths[0] == "chart"
    assert "values/prod.yaml" in rendered.input_paths


def test_a_symlink_on_the_way_leaves_the_paths_unknown(make_repo: MakeRepo) -> None:
    below = make_repo(
        {"app/a.yaml": CM.format(name="a"), "shared/b.yaml": CM.format(name="b")},
        links={"app/b.yaml": "../shared/b.yaml"},
    )
    assert rendering.render(request(below, "app"), "directory").input_paths is None
    above = make_repo({"real/app/a.yaml": CM.format(name="a")}, links={"linked": "real"})
    assert rendering.render(request(above, "linked/app"), "directory").input_paths is None


def test_remote_bases_and_other_renderers_are_not_vouched_for(
    make_repo: MakeRepo, plugin: CountingRenderer
) -> None:
    tree = make_repo(
        {
            "app/kustomization.yaml": "resources: [cm.yaml]\n",
            "app/cm.yaml": CM.format(name="a"),
            "counted/objects.txt": "a\n",
        }
    )
    remote = request(tree, "app", options={"allowRemoteBases": True})
    assert rendering.render(remote, "kustomize").input_paths is None
    assert rendering.render(request(tree, "app"), "kustomize").input_paths is not None
    assert rendering.render(request(tree, "counted"), plugin.name).input_paths is None


def test_the_repository_root_is_every_path(make_repo: MakeRepo) -> None:
    tree = make_repo({"a.yaml": CM.format(name="a")})
    assert rendering.render(request(tree, ""), "directory").input_paths == ("",)
