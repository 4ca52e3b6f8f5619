"""Where a tree pins an image: which values count, which do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitward.engine import imaging
from gitward.images import locating


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_kustomize_entries_match_by_new_name_or_name(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "kustomization.yaml": (
                "images:\n  - name: web\n    newName: ghcr.io/org/web\n    newTag: '1'\n"
            )
        },
    )
    found = locating.scan(tmp_path, [""])
    assert [p.tag for p in locating.for_image(found, "ghcr.io/org/web:2")] == ["1"]
    assert [p.tag for p in locating.for_image(found, "web:2")] == ["1"]
    assert locating.for_image(found, "ghcr.io/org/other:2") == []


def test_values_key_checks_registry_and_repository(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "values.yaml": (
                "image:\n  registry: ghcr.io\n  repository: org/api\n  tag: 1.0.0\n"
                "worker:\n  image:\n    repository: ghcr.io/org/worker\n    tag: 1.0.0\n"
            ),
            "other.yaml": "image:\n  repository: ghcr.io/org/api\n  tag: 9.9.9\n",
        },
    )
    found = locating.scan(tmp_path, [""], key="image.tag")
    pins = locating.for_image(found, "ghcr.io/org/api:1.1.0")
    # other.yaml is not a values file: keys are read in values*.yaml only.
    assert [(p.file, p.tag, p.kind) for p in pins] == [
        ("values.yaml", "1.0.0", locating.Kind.HELM_KEY)
    ]
    assert locating.for_image(found, "ghcr.io/org/worker:2") == []


def test_manifest_pins_yield_to_a_kustomize_entry(tmp_path: Path) -> None:
    deploy = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec:\n  containers:\n  - {name: a, image: 'ghcr.io/org/web:0.1'}\n"
    )
    _write(tmp_path, {"base/pod.yaml": deploy})
    alone = locating.for_image(locating.scan(tmp_path, [""]), "ghcr.io/org/web:1")
    assert [p.kind for p in alone] == [locating.Kind.MANIFEST]
    _write(tmp_path, {"kustomization.yaml": "images:\n- name: ghcr.io/org/web\n  newTag: '1'\n"})
    both = locating.for_image(locating.scan(tmp_path, [""]), "ghcr.io/org/web:1")
    assert [p.kind for p in both] == [locating.Kind.KUSTOMIZE]


def test_non_yaml_files_are_skipped_and_listed(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "chart/templates/deploy.yaml": "{{- if .Values.on }}\nkind: X\n{{- end }}\n",
            "notes.txt": "image: ghcr.io/org/web:1\n",
            ".git/config.yaml": "image: x\n",
        },
    )
    found = locating.scan(tmp_path, [""])
    assert found.pins == ()
    assert len(found.skipped) == 1
    assert "chart/templates/deploy.yaml" in found.skipped[0]


def test_a_marker_naming_no_image_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, {"values.yaml": "tag: '1' # gitward:image=NOT/VALID\n"})
    found = locating.scan(tmp_path, [""])
    assert found.pins == ()
    assert "marker names 'NOT/VALID'" in found.skipped[0]


def test_paths_outside_the_tree_are_refused(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    with pytest.raises(locating.errors.SourcePathError, match="leaves the repository"):
        locating.scan(tmp_path / "repo", ["../"])


def test_chart_versions(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "Chart.yaml": (
                "apiVersion: v2\nname: shop\nversion: 1.2.0\ndependencies:\n"
                "  - name: redis\n    version: 19.0.1\n    repository: oci://registry\n"
            )
        },
    )
    pins = locating.scan(tmp_path, [""], charts=True).pins
    assert [(p.subject, p.tag) for p in pins] == [
        ("chart:shop", "1.2.0"),
        ("chart-dependency:redis", "19.0.1"),
    ]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"GITHUB_RUN_ID": "7", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ATTEMPT": "2"},
            "https://github.com/o/r/actions/runs/7/attempts/2",
        ),
        (
            {"CI_PIPELINE_URL": "https://gitlab.example/o/r/-/pipelines/9"},
            "https://gitlab.example/o/r/-/pipelines/9",
        ),
        ({"BUILD_URL": "https://jenkins.example/job/x/3/"}, "https://jenkins.example/job/x/3/"),
        ({}, ""),
    ],
)
def test_ci_run_from_the_environment(environ: dict[str, str], expected: str) -> None:
    assert imaging.ci_run(environ) == expected
