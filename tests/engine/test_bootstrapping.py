"""gitward bootstrap's pure parts: what it writes and applies, and which paths it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitward import errors
from gitward.config import applications, settings
from gitward.engine import bootstrapping

URL = "https://git.example.com/org/fleet.git"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("", "registry.example.com/gitward:0.1.0"),
        ("registry:5000/team/gitward:2.0", "registry:5000/team/gitward:2.0"),
        ("registry:5000/team/gitward", "registry:5000/team/gitward:0.1.0"),
        ("gitward@sha256:" + "a" * 64, "gitward@sha256:" + "a" * 64),
    ],
)
def test_the_image_lands_in_the_deployment(image: str, expected: str) -> None:
    laid = bootstrapping.layout(bootstrapping.Request(URL, "clusters/prod", image=image))
    [deployment] = [o for o in laid.objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == expected


def test_layout_files_config_and_root_application() -> None:
    request = bootstrapping.Request(
        URL,
        "clusters/prod/",
        branch="live",
        values={"config": {"repositories": [{"url": URL, "passwordEnv": "GIT_TOKEN"}]}},
    )
    laid = bootstrapping.layout(request)
    assert sorted(laid.files) == [
        "clusters/prod/apps/gitward.yaml",
        "clusters/prod/gitward/install.yaml",
    ]
    for text in laid.files.values():
        assert text.startswith(bootstrapping.MARKER)
    app = applications.parse(
        yaml.safe_load(laid.files["clusters/prod/apps/gitward.yaml"]), "gitward.yaml"
    )
    assert (app.spec.source.repo_url, app.spec.source.ref, app.spec.source.path) == (
        URL,
        "live",
        "clusters/prod/gitward",
    )
    [config_map] = [o for o in laid.objects if o["kind"] == "ConfigMap"]
    config = settings.parse(yaml.safe_load(config_map["data"]["gitward.yaml"]), "cm")
    assert config.root is not None and config.root.path == "clusters/prod/apps"
    assert config.root.ref == "live"
    assert config.repositories[0].password_env == "GIT_TOKEN"
    assert config.cluster_objects is not None and config.cluster_objects.target == "in-cluster"
    # The install file holds exactly the objects applied.
    documents = [
        d for d in yaml.safe_load_all(laid.files["clusters/prod/gitward/install.yaml"]) if d
    ]
    assert documents == list(laid.objects)


@pytest.mark.parametrize("path", ["", "/", ".", "../elsewhere", "a/../../b"])
def test_a_path_outside_the_repository_is_refused(path: str) -> None:
    with pytest.raises(errors.ConfigError, match="--path"):
        bootstrapping.Request(URL, path)


def test_check_path(tmp_path: Path) -> None:
    request = bootstrapping.Request(URL, "clusters/prod")
    bootstrapping.check_path(tmp_path, request)  # absent: fine
    folder = tmp_path / "clusters" / "prod"
    (folder / "apps").mkdir(parents=True)
    bootstrapping.check_path(tmp_path, request)  # empty: fine
    (folder / "apps" / "web.yaml").write_text("kind: Application\n")
    with pytest.raises(errors.SourcePathError, match=r"apps/web\.yaml"):
        bootstrapping.check_path(tmp_path, request)
    # A previous bootstrap's install: Applications added under apps/ are fine.
    (folder / "gitward").mkdir()
    (folder / "gitward" / "install.yaml").write_text(bootstrapping.MARKER + ": ...\n")
    bootstrapping.check_path(tmp_path, request)
    (folder / "gitward" / "install.yaml").write_text("# someone else's\n")
    with pytest.raises(errors.SourcePathError):
        bootstrapping.check_path(tmp_path, request)
