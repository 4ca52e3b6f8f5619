"""Image bumps rewrite only the pinned values: golden before/after trees.

Each case under ``golden/`` holds a ``before`` tree and the exact ``after``
tree expected from ``engine.imaging.edit_tree`` (locate + rewrite); a second
run must find nothing to do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitward.engine import imaging
from gitward.images import locating, rewriting

GOLDEN = Path(__file__).parent / "golden"
DIGEST = "sha256:" + "0f" * 32

CASES = {
    "kustomize-block": ("ghcr.io/example/web:1.2.0", ""),
    "kustomize-insert": ("registry.example.com:5000/team/web:2024.10", ""),
    "kustomize-digest": ("ghcr.io/example/web:1.3", ""),
    "kustomize-flow": (f"docker.io/library/nginx:1.27.2@{DIGEST}", ""),
    "helm-key": ("ghcr.io/example/api:2.1.0", "image.tag"),
    "helm-marker": ("ghcr.io/example/api:2.0.1", ""),
    "manifests-multidoc": ("ghcr.io/example/web:1.0.1", ""),
    "crlf-numeric": ("nginx:1.10", "image.tag"),
    "manifest-digest": (f"nginx:1.27@{DIGEST}", ""),
}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, tmp_path: Path) -> None:
    image, key = CASES[case]
    work = tmp_path / "repo"
    shutil.copytree(GOLDEN / case / "before", work)
    changed = imaging.edit_tree(work, "", image, key=key, run_info="https://ci.example/run/1")
    assert changed is not None
    assert _tree(work) == _tree(GOLDEN / case / "after")
    assert changed.files
    assert "CI-Run: https://ci.example/run/1" in changed.message
    assert imaging.edit_tree(work, "", image, key=key) is None


def test_message_names_image_old_and_new(tmp_path: Path) -> None:
    shutil.copytree(GOLDEN / "kustomize-block" / "before", tmp_path / "r")
    changed = imaging.edit_tree(tmp_path / "r", "", "ghcr.io/example/web:1.2.0")
    assert changed is not None
    assert changed.message.splitlines()[0] == (
        "Set image ghcr.io/example/web to 1.2.0 (was 1.1.0) in /"
    )
    assert changed.old_versions == ("1.1.0",)


def test_image_pinned_nowhere_is_a_named_error(tmp_path: Path) -> None:
    shutil.copytree(GOLDEN / "kustomize-block" / "before", tmp_path / "r")
    (tmp_path / "r" / "templates").mkdir()
    (tmp_path / "r" / "templates" / "d.yaml").write_text(
        "{{- if .Values.enabled }}\nimage: ghcr.io/example/other:{{ .Values.tag }}\n{{- end }}\n"
    )
    with pytest.raises(locating.ImageNotInGit, match=r"ghcr\.io/example/other.*templates/d\.yaml"):
        imaging.edit_tree(tmp_path / "r", "", "ghcr.io/example/other:1.0")


def test_missing_path_is_a_source_path_error(tmp_path: Path) -> None:
    with pytest.raises(locating.errors.SourcePathError, match="nowhere"):
        imaging.edit_tree(tmp_path, "nowhere", "nginx:1")


def test_a_reference_without_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(imaging.references.InvalidReference, match="no tag or digest"):
        imaging.edit_tree(tmp_path, "", "nginx")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image:\n  tag: |\n    1.0\n", "block scalars"),
        ("image:\n  tag: &t 1.0\n", "anchors"),
        ("a: [\n", "not valid YAML"),
        ("a: 1\na: 2\n", "not valid YAML"),
    ],
)
def test_unsupported_values_are_refused(text: str, message: str) -> None:
    with pytest.raises(rewriting.RewriteError, match=message):
        rewriting.apply(text, [rewriting.Change(0, ("image",), "tag", "2")], where="v.yaml")


def test_an_edit_that_would_change_more_is_refused() -> None:
    # A plain multi-line scalar: replacing its first line would leave the rest.
    text = "image:\n  tag: one\n    two\n"
    with pytest.raises(rewriting.RewriteError, match="more than the asked values"):
        rewriting.apply(text, [rewriting.Change(0, ("image",), "tag", "x")], where="v.yaml")


@pytest.mark.parametrize(
    ("value", "written"),
    [("1.2.3", "1.2.3"), ("1.10", '"1.10"'), ("yes", '"yes"'), ("7", '"7"'), ("a b", '"a b"')],
)
def test_plain_values_that_would_change_type_are_quoted(value: str, written: str) -> None:
    out = rewriting.apply("tag: x\n", [rewriting.Change(0, (), "tag", value)], where="v")
    assert out == f"tag: {written}\n"


def test_quote_style_is_kept() -> None:
    change = [rewriting.Change(0, (), "tag", "it's")]
    assert rewriting.apply("tag: 'a'\n", change, where="v") == "tag: 'it''s'\n"
    assert rewriting.apply('tag: "a"\n', change, where="v") == 'tag: "it\'s"\n'


DIG = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("before", "change", "after"),
    [
        (
            f"images:\n- digest: {DIG}\n  name: web\n",
            rewriting.Change(0, ("images", 0), "digest", None),
            "images:\n-\n  name: web\n",
        ),
        (
            f"images: [{{name: web, digest: {DIG}, newTag: '1'}}]\n",
            rewriting.Change(0, ("images", 0), "digest", None),
            "images: [{name: web, newTag: '1'}]\n",
        ),
        (
            f"images: [{{digest: {DIG}, name: web}}]\n",
            rewriting.Change(0, ("images", 0), "digest", None),
            "images: [{name: web}]\n",
        ),
        (
            "images:\n- name: web",
            rewriting.Change(0, ("images", 0), "newTag", "2", after="name"),
            'images:\n- name: web\n  newTag: "2"',
        ),
        (
            "a:\r\n  b: 1 # one\r\nz: 0\r\n",
            rewriting.Change(0, ("a",), "c", "x", after="b"),
            "a:\r\n  b: 1 # one\r\n  c: x\r\nz: 0\r\n",
        ),
    ],
)
def test_insertions_and_removals(before: str, change: rewriting.Change, after: str) -> None:
    assert rewriting.apply(before, [change], where="k.yaml") == after
