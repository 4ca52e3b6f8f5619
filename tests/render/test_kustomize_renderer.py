"""The Kustomize renderer: real `kubectl kustomize` over real git repositories."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gitward import errors
from gitward.model import resources
from gitward.render import base, caching, detection, kustomize
from gitward.testing import trees
from tests.render.conftest import MakeRepo

BASE = {
    "web/base/kustomization.yaml": (
        "resources: [deployment.yaml, service.yaml]\n"
        "configMapGenerator:\n- name: web-config\n  files: [config.properties]\n"
    ),
    "web/base/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n"
        "  template:\n    metadata: {labels: {app: web}}\n"
        "    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n"
    ),
    "web/base/service.yaml": (
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        "spec: {selector: {app: web}, ports: [{port: 80}]}\n"
    ),
    "web/base/config.properties": "color=blue\n",
    "web/overlays/staging/kustomization.yaml": (
        "resources: [../../base]\nnamePrefix: staging-\n"
        "images:\n- name: nginx\n  newTag: '1.26'\n"
        "patches:\n- path: replicas.yaml\n"
    ),
    "web/overlays/staging/replicas.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n"
    ),
    "web/overlays/production/kustomization.yaml": (
        "resources: [../../base]\nnamePrefix: prod-\n"
        "patches:\n- patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 5\n"
        "  target: {kind: Deployment, name: web}\n"
    ),
    "unrelated/notes.yaml": "a: 1\n",
}


def request(tree: base.Tree, path: str, **options: Any) -> base.RenderRequest:
    return base.RenderRequest(
        tree=tree,
        path=path,
        app="web",
        namespace="web",
        options=options,
        limits=base.Limits(timeout_seconds=30),
    )


def by_kind(rendered: resources.Rendered) -> dict[str, resources.Manifest]:
    return {m.key.kind: m for m in rendered.manifests}


def test_staging_overlay(make_repo: MakeRepo) -> None:
    tree = make_repo(BASE)
    rendered = kustomize.KustomizeRenderer().render(request(tree, "web/overlays/staging"))
    objects = by_kind(rendered)
    assert set(objects) == {"ConfigMap", "Deployment", "Service"}
    deployment = objects["Deployment"].body
    assert deployment["metadata"]["name"] == "staging-web"
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    config = objects["ConfigMap"]
    assert config.key.name.startswith("staging-web-config-")  # content hash suffix
    assert config.body["data"] == {"config.properties": "color=blue\n"}
    assert {m.source for m in rendered.manifests} == {"kustomize:web/overlays/staging"}
    assert rendered.warnings == ()


def test_production_overlay_inline_patch(make_repo: MakeRepo) -> None:
    tree = make_repo(BASE)
    objects = by_kind(
        kustomize.KustomizeRenderer().render(request(tree, "web/overlays/production"))
    )
    assert objects["Deployment"].body["spec"]["replicas"] == 5
    assert objects["Deployment"].key.name == "prod-web"


def test_application_options_overlay(make_repo: MakeRepo) -> None:
    tree = make_repo(BASE)
    rendered = kustomize.KustomizeRenderer().render(
        request(
            tree,
            "web/overlays/staging",
            namePrefix="x-",
            nameSuffix="-y",
            namespace="team",
            commonLabels={"team": "a"},
            commonAnnotations={"owner": "ops"},
            images=["nginx=registry.local:5000/nginx:2.0"],
        )
    )
    deployment = by_kind(rendered)["Deployment"]
    assert deployment.key == resources.ResourceKey("apps", "Deployment", "team", "x-staging-web-y")
    body = deployment.body
    assert body["metadata"]["labels"] == {"team": "a"}
    assert body["metadata"]["annotations"] == {"owner": "ops"}
    assert body["spec"]["selector"]["matchLabels"] == {"app": "web", "team": "a"}
    assert body["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.local:5000/nginx:2.0"
    )


@pytest.mark.parametrize(
    ("spec", "entry"),
    [
        ("nginx:1.26", {"name": "nginx", "newTag": "1.26"}),
        ("nginx=nginx-alt", {"name": "nginx", "newName": "nginx-alt"}),
        ("nginx=r.io:5000/n:2", {"name": "nginx", "newName": "r.io:5000/n", "newTag": "2"}),
        ("nginx=r.io:5000/n", {"name": "nginx", "newName": "r.io:5000/n"}),
        ("nginx@sha256:abc", {"name": "nginx", "digest": "sha256:abc"}),
        ("a=b@sha256:abc", {"name": "a", "newName": "b", "digest": "sha256:abc"}),
    ],
)
def test_parse_image(spec: str, entry: dict[str, str]) -> None:
    assert kustomize.parse_image(spec) == entry


@pytest.mark.parametrize("spec", ["nginx", "", "=x:1", "a b:1"])
def test_parse_image_refuses(spec: str) -> None:
    with pytest.raises(errors.RenderError, match="invalid image override"):
        kustomize.parse_image(spec)


def test_reference_escaping_the_repository_is_refused(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            **BASE,
            "web/overlays/evil/kustomization.yaml": "resources:\n- ../../../../../etc\n",
        }
    )
    with pytest.raises(errors.UnsafeInputError) as caught:
        kustomize.KustomizeRenderer().render(request(tree, "web/overlays/evil"))
    message = str(caught.value)
    assert "web/overlays/evil/kustomization.yaml" in message
    assert "'../../../../../etc'" in message
    assert "escapes the repository" in message


@pytest.mark.parametrize(
    "kustomization",
    [
        "configMapGenerator:\n- name: c\n  files: [passwd]\n",
        "secretGenerator:\n- name: c\n  files: [key=passwd]\n",
        "resources: [passwd]\n",
    ],
)
def test_symlink_to_etc_passwd_is_refused(make_repo: MakeRepo, kustomization: str) -> None:
    tree = make_repo({"app/kustomization.yaml": kustomization}, links={"app/passwd": "/etc/passwd"})
    with pytest.raises(errors.UnsafeInputError, match=r"symlink 'app/passwd' points outside"):
        kustomize.KustomizeRenderer().render(request(tree, "app"))


def test_files_outside_the_kustomization_root_fail_in_kustomize(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "shared/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            "app/kustomization.yaml": "resources: [../shared/cm.yaml]\n",
        }
    )
    with pytest.raises(errors.RenderError, match="kustomize build of 'app' failed") as caught:
        kustomize.KustomizeRenderer().render(request(tree, "app"))
    assert "gitward-kustomize-" not in str(caught.value)  # no temp paths leak


@pytest.mark.parametrize(
    ("kustomization", "message"),
    [
        ("resources: [https://github.com/org/repo//base?ref=v1]\n", "is remote"),
        ("resources: [github.com/org/repo/base]\n", "is remote"),
        ("components: [git@github.com:org/repo.git]\n", "is remote"),
        # Issue 11: go-getter's forced-getter form was reported as "does not exist".
        ("resources: ['git::https://github.com/org/repo//base?ref=v1']\n", "is remote"),
        ("resources: ['git::git@github.com:org/repo.git//base']\n", "is remote"),
        ("resources: ['gh:org/repo//base']\n", "is remote"),
        ("resources: ['s3::https://bucket.example.com/base']\n", "is remote"),
        ("helmCharts:\n- name: x\n  repo: https://charts.example.com\n", "helmCharts is refused"),
    ],
)
def test_remote_references_are_refused(
    make_repo: MakeRepo, kustomization: str, message: str
) -> None:
    tree = make_repo({"app/kustomization.yaml": kustomization})
    with pytest.raises(errors.UnsafeInputError, match=message) as caught:
        kustomize.KustomizeRenderer().render(request(tree, "app"))
    assert "app/kustomization.yaml" in str(caught.value)


def test_local_directory_that_looks_like_a_host_is_local(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "app/kustomization.yaml": "resources: [example.com/base]\n",
            "app/example.com/base/kustomization.yaml": "resources: [cm.yaml]\n",
            "app/example.com/base/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
            ),
        }
    )
    rendered = kustomize.KustomizeRenderer().render(request(tree, "app"))
    assert [m.key.name for m in rendered.manifests] == ["c"]


def test_missing_reference_is_named(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/kustomization.yaml": "resources: [gone.yaml]\n"})
    with pytest.raises(errors.RenderError, match=r"resources entry 'gone\.yaml' does not exist"):
        kustomize.KustomizeRenderer().render(request(tree, "app"))


@pytest.fixture
def hanging_server() -> Iterator[int]:
    """A loopback HTTP port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_a_build_that_never_finishes_times_out(make_repo: MakeRepo, hanging_server: int) -> None:
    url = f"http://127.0.0.1:{hanging_server}/deploy.yaml"
    tree = make_repo({"app/kustomization.yaml": f"resources: [{url}]\n"})
    slow = base.RenderRequest(
        tree=tree,
        path="app",
        app="web",
        namespace="web",
        options={"allowRemoteBases": True},
        limits=base.Limits(timeout_seconds=1.5),
    )
    start = time.monotonic()
    with pytest.raises(errors.RenderTimeout, match=r"kustomize build of 'app': did not finish"):
        kustomize.KustomizeRenderer().render(slow)
    assert time.monotonic() - start < 10


def test_inputs_are_exactly_the_referenced_files(make_repo: MakeRepo) -> None:
    tree = make_repo(BASE)
    renderer = kustomize.KustomizeRenderer()
    inputs = renderer.inputs(request(tree, "web/overlays/staging"))
    assert sorted(inputs) == [
        "web/base/config.properties",
        "web/base/deployment.yaml",
        "web/base/kustomization.yaml",
        "web/base/service.yaml",
        "web/overlays/staging/kustomization.yaml",
        "web/overlays/staging/replicas.yaml",
    ]
    key = caching.key(renderer, request(tree, "web/overlays/staging"), inputs)
    assert isinstance(tree, trees.DirectoryTree)
    (tree.root / "unrelated" / "notes.yaml").write_text("a: 2\n")
    (tree.root / "web" / "overlays" / "production" / "kustomization.yaml").write_text("x: 1\n")
    assert caching.key(renderer, request(tree, "web/overlays/staging"), inputs) == key
    (tree.root / "web" / "base" / "config.properties").write_text("color=red\n")
    assert caching.key(renderer, request(tree, "web/overlays/staging"), inputs) != key


def test_detection(make_repo: MakeRepo) -> None:
    tree = make_repo({**BASE, "plain/a.yaml": "a: 1\n", "alt/Kustomization": "resources: []\n"})
    assert detection.detect(tree, "web/overlays/staging").name == "kustomize"
    assert detection.detect(tree, "alt").name == "kustomize"
    assert detection.detect(tree, "plain").name == "directory"
    assert detection.detect(tree, "web/overlays/staging", "directory").name == "directory"
