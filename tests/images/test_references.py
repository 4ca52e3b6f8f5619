"""Image references: the Distribution grammar and Docker Hub defaults."""

from __future__ import annotations

import pytest

from gitward.images import references

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", "", ""),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", ""),
        ("library/nginx:1.27", "docker.io", "library/nginx", "1.27", ""),
        ("docker.io/library/nginx", "docker.io", "library/nginx", "", ""),
        ("index.docker.io/bitnami/redis:7", "docker.io", "bitnami/redis", "7", ""),
        ("ghcr.io/org/web:1.2.3", "ghcr.io", "org/web", "1.2.3", ""),
        ("localhost:5000/web:dev", "localhost:5000", "web", "dev", ""),
        ("localhost/web", "localhost", "web", "", ""),
        ("registry.example.com:8443/a/b/c", "registry.example.com:8443", "a/b/c", "", ""),
        (f"ghcr.io/org/web@{DIGEST}", "ghcr.io", "org/web", "", DIGEST),
        (f"ghcr.io/org/web:1.0@{DIGEST}", "ghcr.io", "org/web", "1.0", DIGEST),
        ("[::1]:5000/web:1", "[::1]:5000", "web", "1", ""),
        ("my-org/my_app__x:v1.0.0-rc.1", "docker.io", "my-org/my_app__x", "v1.0.0-rc.1", ""),
    ],
)
def test_parse(text: str, registry: str, repository: str, tag: str, digest: str) -> None:
    ref = references.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert str(ref) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "UPPER/case",
        "ghcr.io/org/web:",
        "web:bad/tag",
        "web@sha256:short",
        "a//b",
        "web:-x",
        "x" * 300,
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(references.InvalidReference, match="not a valid image reference"):
        references.parse(text, where="deploy.yaml")


def test_same_image_ignores_versions_and_defaults() -> None:
    assert references.same_image("nginx:1", "docker.io/library/nginx@" + DIGEST)
    assert references.same_image("index.docker.io/library/nginx", "nginx")
    assert not references.same_image("ghcr.io/org/web", "docker.io/org/web")
    assert not references.same_image("not an image", "nginx")


def test_with_version_keeps_the_name_as_written() -> None:
    ref = references.parse("nginx:1.0")
    assert ref.with_version("1.1") == "nginx:1.1"
    assert ref.with_version("1.1", DIGEST) == f"nginx:1.1@{DIGEST}"
    assert references.parse("nginx").api_host == "registry-1.docker.io"
