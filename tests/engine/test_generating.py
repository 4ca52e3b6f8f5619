"""ApplicationSet generation: each generator, the template language, and its errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitward import errors
from gitward.config import appsets
from gitward.engine import generating
from gitward.testing import trees

REPO = "https://git.example.com/org/deploy.git"


def _set(generators: list[dict[str, Any]], template: dict[str, Any] | None = None, **spec: Any):
    document = {
        "apiVersion": "gitward.dev/v1",
        "kind": "ApplicationSet",
        "metadata": {"name": "web"},
        "spec": {
            "generators": generators,
            "template": template
            or {
                "metadata": {"name": "web-{{target.name}}"},
                "spec": {
                    "source": {"repoURL": REPO, "ref": "main", "path": "web"},
                    "destination": {"target": "{{target.name}}", "namespace": "web"},
                },
            },
            **spec,
        },
    }
    return appsets.parse(document, "apps/web.yaml")


TARGETS = (
    generating.TargetInfo("eu-1", {"env": "prod", "region": "eu"}),
    generating.TargetInfo("us-1", {"env": "prod", "region": "us"}),
    generating.TargetInfo("stage-1", {"env": "staging", "region": "eu"}),
)


def _names(generated: generating.Generated) -> list[str]:
    return list(generated.apps)


def test_the_issue_example_makes_one_application_per_matching_target() -> None:
    appset = _set([{"targets": {"selector": {"matchLabels": {"env": "staging"}}}}])
    generated = generating.generate(appset, generating.Inputs(TARGETS), "apps/web.yaml")
    assert _names(generated) == ["web-stage-1"]
    app = generated.apps["web-stage-1"]
    assert app.spec.destination.target == "stage-1"
    assert app.metadata.labels[generating.OWNER_LABEL] == "web"


def test_target_labels_are_parameters_and_match_expressions_select() -> None:
    template = {
        "metadata": {"name": "web-{{target.labels.region}}-{{target.name}}"},
        "spec": {
            "source": {"repoURL": REPO, "path": "web/{{target.labels.env}}"},
            "destination": {"target": "{{target.name}}"},
        },
    }
    selector = {"matchExpressions": [{"key": "region", "operator": "In", "values": ["eu"]}]}
    appset = _set([{"targets": {"selector": selector}}], template)
    generated = generating.generate(appset, generating.Inputs(TARGETS), "f")
    assert _names(generated) == ["web-eu-eu-1", "web-eu-stage-1"]
    assert generated.apps["web-eu-stage-1"].spec.source.path == "web/staging"


def test_list_elements_are_top_level_parameters() -> None:
    template = {
        "metadata": {"name": "{{app}}-{{cluster}}"},
        "spec": {
            "source": {"repoURL": REPO, "path": "{{app}}"},
            "destination": {"target": "{{cluster}}", "namespace": "{{app | lower}}"},
        },
    }
    elements = [{"app": "api", "cluster": "eu-1"}, {"app": "db", "cluster": "us-1"}]
    generated = generating.generate(
        _set([{"list": {"elements": elements}}], template), generating.Inputs(), "f"
    )
    assert _names(generated) == ["api-eu-1", "db-us-1"]
    assert generated.apps["db-us-1"].spec.destination.target == "us-1"
    # 'DB-us-1' is not a DNS label: the whole set fails, naming the Application.
    with pytest.raises(errors.ConfigError, match=r"DB-us-1.*DNS label"):
        generating.generate(
            _set([{"list": {"elements": [{"app": "DB", "cluster": "us-1"}]}}], template),
            generating.Inputs(),
            "f",
        )


def _repo(tmp_path: Path, files: dict[str, str]) -> trees.DirectoryTree:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return trees.DirectoryTree(tmp_path)


def test_git_directories_with_globs_and_excludes(tmp_path: Path) -> None:
    tree = _repo(
        tmp_path,
        {
            "apps/web/k.yaml": "",
            "apps/api/k.yaml": "",
            "apps/legacy/k.yaml": "",
            "apps/readme.md": "",
            "apps/web/nested/x.yaml": "",
        },
    )
    template = {
        "metadata": {"name": "{{path.basename}}"},
        "spec": {
            "source": {"repoURL": REPO, "path": "{{path.path}}"},
            "destination": {"target": "eu-1", "namespace": "{{path.segments[1]}}"},
        },
    }
    generator = {
        "gitDirectories": {
            "repoURL": REPO,
            "ref": "main",
            "directories": [{"path": "apps/*"}, {"path": "apps/legacy", "exclude": True}],
        }
    }
    appset = _set([generator], template)
    assert generating.git_inputs(appset) == {(REPO, "main")}
    generated = generating.generate(appset, generating.Inputs(trees={(REPO, "main"): tree}), "f")
    assert _names(generated) == ["api", "web"]
    assert generated.apps["web"].spec.source.path == "apps/web"
    assert generated.apps["web"].spec.destination.namespace == "web"


def test_git_files_fields_become_parameters(tmp_path: Path) -> None:
    tree = _repo(
        tmp_path,
        {
            "clusters/eu-1/config.json": json.dumps({"cluster": {"name": "eu-1", "tier": "gold"}}),
            "clusters/us-1/config.json": json.dumps({"cluster": {"name": "us-1", "tier": "free"}}),
            "clusters/us-1/other.yaml": "ignored: true\n",
        },
    )
    template = {
        "metadata": {"name": "web-{{cluster.name}}", "labels": {"tier": "{{cluster.tier}}"}},
        "spec": {
            "source": {"repoURL": REPO, "path": "{{path.path}}"},
            "destination": {"target": "{{cluster.name}}"},
        },
    }
    generator = {"gitFiles": {"repoURL": REPO, "files": [{"path": "clusters/*/config.json"}]}}
    generated = generating.generate(
        _set([generator], template), generating.Inputs(trees={(REPO, "HEAD"): tree}), "f"
    )
    assert _names(generated) == ["web-eu-1", "web-us-1"]
    assert generated.apps["web-us-1"].metadata.labels["tier"] == "free"
    assert generated.apps["web-us-1"].spec.source.path == "clusters/us-1"


def test_matrix_is_the_cartesian_product(tmp_path: Path) -> None:
    tree = _repo(tmp_path, {"apps/web/a.yaml": "", "apps/api/a.yaml": ""})
    template = {
        "metadata": {"name": "{{path.basename}}-{{target.name}}"},
        "spec": {
            "source": {"repoURL": REPO, "path": "{{path.path}}"},
            "destination": {"target": "{{target.name}}"},
        },
    }
    generator = {
        "matrix": {
            "generators": [
                {"targets": {"selector": {"matchLabels": {"env": "prod"}}}},
                {"gitDirectories": {"repoURL": REPO, "directories": [{"path": "apps/*"}]}},
            ]
        }
    }
    generated = generating.generate(
        _set([generator], template), generating.Inputs(TARGETS, {(REPO, "HEAD"): tree}), "f"
    )
    assert sorted(generated.apps) == ["api-eu-1", "api-us-1", "web-eu-1", "web-us-1"]


def test_merge_overrides_by_key() -> None:
    template = {
        "metadata": {"name": "web-{{target.name}}"},
        "spec": {
            "source": {"repoURL": REPO, "path": "web", "ref": "{{ref | default('main')}}"},
            "destination": {"target": "{{target.name}}"},
        },
    }
    generator = {
        "merge": {
            "mergeKeys": ["target.name"],
            "generators": [
                {"targets": {}},
                {"list": {"elements": [{"target": {"name": "us-1"}, "ref": "v2"}]}},
            ],
        }
    }
    generated = generating.generate(_set([generator], template), generating.Inputs(TARGETS), "f")
    assert generated.apps["web-us-1"].spec.source.ref == "v2"
    assert generated.apps["web-eu-1"].spec.source.ref == "main"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ nothere }}", "'nothere' is undefined"),
        ("{{ target.nope }}", "no attribute 'nope'"),
        ("{% for x in range(10) %}x{% endfor %}", "DNS label"),  # '{%' is plain text
        ("{{ target.name.__class__ }}", "not a parameter|unsafe|__class__"),
        ("{{ lipsum() }}", "Call is not allowed"),
        ("{{ 10 ** 10 }}", "Pow is not allowed"),
        ("{{ target.name | attr('x') }}", "filter 'attr' is not allowed"),
        ("{{ target.name ", "unexpected end of template"),
    ],
)
def test_template_errors_name_the_field_and_create_nothing(text: str, message: str) -> None:
    template = {
        "metadata": {"name": text},
        "spec": {"source": {"repoURL": REPO}, "destination": {"target": "x"}},
    }
    with pytest.raises(errors.ConfigError, match=message) as caught:
        generating.generate(_set([{"targets": {}}], template), generating.Inputs(TARGETS), "f")
    assert "ApplicationSet 'web'" in str(caught.value)


def test_duplicate_generated_names_fail_the_set() -> None:
    template = {
        "metadata": {"name": "web"},
        "spec": {"source": {"repoURL": REPO}, "destination": {"target": "{{target.name}}"}},
    }
    with pytest.raises(errors.ConfigError, match="generate Application 'web' differently"):
        generating.generate(_set([{"targets": {}}], template), generating.Inputs(TARGETS), "f")


def test_unavailable_repository_is_an_error_naming_it() -> None:
    generator = {"gitDirectories": {"repoURL": REPO, "directories": [{"path": "apps/*"}]}}
    with pytest.raises(errors.ConfigError, match=r"deploy\.git at 'HEAD' is not available"):
        generating.generate(_set([generator]), generating.Inputs(), "f")


@pytest.mark.parametrize(
    "generator",
    [
        {},
        {"list": {"elements": [{}]}, "targets": {}},
        {"matrix": {"generators": [{"targets": {}}]}},
        {"gitDirectories": {"repoURL": REPO, "directories": [{"path": "../up"}]}},
    ],
)
def test_malformed_generators_are_refused(generator: dict[str, Any]) -> None:
    with pytest.raises(errors.ConfigError, match=r"apps/web\.yaml: invalid"):
        _set([generator])


def test_rollout_step_limits() -> None:
    step = appsets.RolloutStep(maxUpdate="25%")
    assert [step.limit(n) for n in (1, 4, 10, 100)] == [1, 1, 2, 25]
    assert appsets.RolloutStep(maxUpdate=3).limit(10) == 3
    with pytest.raises(ValueError, match="percentage"):
        appsets.RolloutStep(maxUpdate="0%")


def test_fifty_targets_by_twenty_directories_make_a_thousand(tmp_path: Path) -> None:
    # The scale shape of bench/appsets.py, here for its result only.
    tree = _repo(tmp_path, {f"apps/d{i:02d}/k.yaml": "" for i in range(20)})
    targets = tuple(generating.TargetInfo(f"c{i:02d}", {"env": "prod"}) for i in range(50))
    template = {
        "metadata": {"name": "{{path.basename}}-{{target.name}}"},
        "spec": {
            "source": {"repoURL": REPO, "path": "{{path.path}}"},
            "destination": {"target": "{{target.name}}"},
        },
    }
    generator = {
        "matrix": {
            "generators": [
                {"targets": {}},
                {"gitDirectories": {"repoURL": REPO, "directories": [{"path": "apps/*"}]}},
            ]
        }
    }
    generated = generating.generate(
        _set([generator], template), generating.Inputs(targets, {(REPO, "HEAD"): tree}), "f"
    )
    assert len(generated.apps) == 1000
    assert generated.apps["d19-c49"].spec.source.path == "apps/d19"
