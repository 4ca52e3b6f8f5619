"""Post-render substitution: Flux's ``${var}`` rules, secret values kept inside Secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitward import errors
from gitward.model import resources
from gitward.render import base, substituting
from gitward.testing import trees


def run(
    bodies: list[dict[str, Any]], values: dict[str, str], secret: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    request = base.RenderRequest(
        tree=trees.DirectoryTree(Path(__file__).parent),
        path="",
        app="web",
        namespace="web",
        variables=base.Variables(values=values, secret=secret),
    )
    rendered = resources.Rendered(
        manifests=tuple(
            resources.Manifest.from_body(b, f"f.yaml#{i}") for i, b in enumerate(bodies)
        )
    )
    return [dict(m.body) for m in substituting.substitute_rendered(request, rendered).manifests]


def configmap(data: dict[str, Any], **annotations: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "settings"}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("${cluster}", {"cluster": "eu-1"}, "eu-1"),
        ("at ${cluster}-${zone}", {"cluster": "eu", "zone": "b"}, "at eu-b"),
        ("${missing:=fallback}", {}, "fallback"),
        ("${missing:-fallback}", {}, "fallback"),
        ("${cluster:=fallback}", {"cluster": "set"}, "set"),
        ("$${cluster}", {"cluster": "x"}, "${cluster}"),
        ("no variables", {}, "no variables"),
    ],
)
def test_substitution_rules(text: str, values: dict[str, str], expected: str) -> None:
    assert run([configmap({"v": text})], values)[0]["data"]["v"] == expected


def test_a_whole_value_becomes_a_number_as_in_flux() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": "${replicas}"},
    }
    assert run([deployment], {"replicas": "3"})[0]["spec"]["replicas"] == 3


def test_unset_variable_without_default_is_an_error_naming_it_and_the_object() -> None:
    with pytest.raises(errors.RenderError, match=r"ConfigMap settings.*'region' is not set"):
        run([configmap({"v": "${region}"})], {})


def test_invalid_name_is_an_error() -> None:
    with pytest.raises(errors.RenderError, match="not a valid variable name"):
        run([configmap({"v": "${not-valid}"})], {})


def test_disabled_objects_are_left_alone() -> None:
    body = configmap({"v": "${region}"}, **{"gitward.dev/substitute": "disabled"})
    assert run([body], {})[0]["data"]["v"] == "${region}"


def test_secret_values_only_go_into_secrets_and_never_into_messages() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "stringData": {"password": "${db_password}"},
    }
    values = {"db_password": "hunter2-very-secret"}
    secret_names = frozenset({"db_password"})
    assert run([secret], values, secret_names)[0]["stringData"]["password"] == values["db_password"]
    with pytest.raises(errors.RenderError) as refused:
        run([configmap({"v": "${db_password}"})], values, secret_names)
    assert "db_password" in str(refused.value) and "hunter2" not in str(refused.value)


def test_a_value_breaking_yaml_is_refused_without_quoting_it() -> None:
    with pytest.raises(errors.RenderError) as refused:
        run([configmap({"v": "${bad}"})], {"bad": "[unclosed-secretish"})
    assert "unclosed-secretish" not in str(refused.value)


def test_variables_repr_shows_names_only() -> None:
    variables = base.Variables(values={"token": "abc123"}, secret=frozenset({"token"}))
    assert "abc123" not in repr(variables)
    assert variables.fingerprint != base.Variables(values={"token": "other"}).fingerprint
