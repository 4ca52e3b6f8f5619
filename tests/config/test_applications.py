"""Application and agent settings validation: good documents parse, bad ones name the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gitward import errors
from gitward.config import applications, durations, settings

GOOD: dict[str, Any] = {
    "apiVersion": "gitward.dev/v1",
    "kind": "Application",
    "metadata": {"name": "web-staging", "project": "default"},
    "spec": {
        "source": {
            "repoURL": "https://git.example.com/org/deploy.git",
            "ref": "main",
            "path": "web/overlays/staging",
        },
        "render": {"kustomize": {}},
        "destination": {"target": "staging-cluster", "namespace": "web"},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}},
        },
        "ignoreDifferences": [{"kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
        "dependsOn": ["database-staging"],
    },
}


def test_the_design_example_parses_with_defaults() -> None:
    app = applications.parse(GOOD, "apps/web-staging.yaml")
    assert app.name == "web-staging"
    assert app.spec.render.kind == "kustomize"
    assert app.spec.sync_policy.prune_enabled
    assert app.spec.sync_policy.retry.backoff.max_duration == 180.0
    assert app.spec.sync_policy.interval == 180.0
    assert app.spec.ignore_differences[0].json_pointers == ["/spec/replicas"]


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    node = doc
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("metadata.name", "Web_Staging", "metadata.name: name 'Web_Staging' must be a DNS label"),
        ("metadata.name", "a" * 64, "must be a DNS label"),
        ("spec.source.path", "../../etc", "must not contain '..'"),
        ("spec.source.path", "/etc", "must be relative"),
        ("spec.source.repoURL", " ", "repoURL is empty"),
        ("spec.destination.namespace", "Bad NS", "namespace 'Bad NS' must be a DNS label"),
        ("spec.syncPolicy", {"interval": 0}, "must be greater than zero"),
        ("spec.syncPolicy", {"interval": "-5s"}, "is not a duration"),
        ("spec.syncPolicy", {"interval": "soon"}, "is not a duration"),
        ("spec.render", {"helm": {}, "kustomize": {}}, "choose one"),
        ("spec.source", _DELETE, "spec.source: Field required"),
        ("spec.surprise", 1, "spec.surprise: Extra inputs are not permitted"),
        ("kind", "Deployment", "kind: Input should be 'Application'"),
        (
            "spec.ignoreDifferences",
            [{"kind": "X", "jsonPointers": ["spec"]}],
            "must start with '/'",
        ),
    ],
)
def test_bad_documents_name_the_file_and_field(path: str, value: Any, expected: str) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        applications.parse(_with(path, value), "apps/web.yaml")
    assert str(caught.value).startswith("apps/web.yaml: invalid: ")
    assert expected in str(caught.value)


def test_non_mapping_document_is_refused() -> None:
    with pytest.raises(errors.ConfigError, match=r"apps/x\.yaml: an Application must be a mapping"):
        applications.parse(["not", "a", "mapping"], "apps/x.yaml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), (12, 12.0), ("1.5", 1.5)],
)
def test_durations(text: Any, seconds: float) -> None:
    assert durations.parse(text) == seconds


def test_render_options_are_given_to_the_renderer_in_camel_case() -> None:
    doc = _with(
        "spec.render", {"helm": {"valueFiles": ["values-staging.yaml"], "values": {"a": 1}}}
    )
    options = applications.parse(doc, "x").spec.render.options()
    assert options["valueFiles"] == ["values-staging.yaml"]
    assert options["values"] == {"a": 1}
    assert options["includeCRDs"] is True


def test_settings_find_credentials_by_url_glob_and_check_target_names() -> None:
    conf = settings.parse(
        {
            "targets": {"staging": {"kubeconfig": "/k", "context": "staging"}},
            "repositories": [{"url": "https://git.example.com/org/*", "passwordEnv": "GIT_TOKEN"}],
        },
        "gitward.yaml",
    )
    found = conf.credentials_for("https://git.example.com/org/deploy.git")
    assert found is not None and found.password_env == "GIT_TOKEN"
    assert conf.credentials_for("https://elsewhere.example/x.git") is None
    with pytest.raises(errors.ConfigError, match="target name 'Bad_Name'"):
        settings.parse({"targets": {"Bad_Name": {}}}, "gitward.yaml")
