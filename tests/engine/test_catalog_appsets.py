"""The root catalog with ApplicationSets: generated Applications, ownership, failures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitward.engine import catalog, generating, persisting, states
from gitward.store import base as store_base
from gitward.store import storing
from gitward.testing import trees

APPSET = """\
apiVersion: gitward.dev/v1
kind: ApplicationSet
metadata: {name: web}
spec:
  generators:
    - targets: {selector: {matchLabels: {env: staging}}}
  template:
    metadata: {name: "web-{{target.name}}", labels: {env: "{{target.labels.env}}"}}
    spec:
      source: {repoURL: https://git.example.com/org/deploy.git, ref: main, path: web}
      destination: {target: "{{target.name}}", namespace: web}
"""
APP = """\
apiVersion: gitward.dev/v1
kind: Application
metadata: {name: %s}
spec:
  source: {repoURL: https://git.example.com/org/deploy.git, path: db}
  destination: {target: eu-1}
"""


def _root(tmp_path: Path, files: dict[str, str]) -> trees.DirectoryTree:
    for name, text in files.items():
        (tmp_path / "apps").mkdir(parents=True, exist_ok=True)
        (tmp_path / "apps" / name).write_text(text)
    return trees.DirectoryTree(tmp_path)


def _targets(**labels: str) -> generating.Inputs:
    return generating.Inputs(
        tuple(generating.TargetInfo(name, {"env": env}) for name, env in labels.items())
    )


def test_sets_are_expanded_beside_declared_applications(tmp_path: Path) -> None:
    tree = _root(tmp_path, {"web.yaml": APPSET, "db.yaml": APP % "db"})
    loaded = catalog.load(tree, "apps")
    assert set(loaded.appsets) == {"web"}
    assert set(loaded.apps) == {"db"}
    expanded = catalog.expand(loaded, _targets(**{"s-1": "staging", "s-2": "staging", "p": "prod"}))
    assert sorted(expanded.apps) == ["db", "web-s-1", "web-s-2"]
    assert expanded.apps["web-s-1"].owner == "web"
    assert expanded.apps["web-s-1"].file == "apps/web.yaml"
    assert expanded.apps["db"].owner == ""
    assert expanded.problems == ()


def test_a_label_change_adds_and_removes_applications(tmp_path: Path) -> None:
    loaded = catalog.load(_root(tmp_path, {"web.yaml": APPSET}), "apps")
    first = catalog.expand(loaded, _targets(a="staging", b="prod"))
    assert list(first.apps) == ["web-a"]
    second = catalog.expand(loaded, _targets(a="prod", b="staging"), first)
    assert list(second.apps) == ["web-b"]


def test_a_failing_set_keeps_what_it_generated(tmp_path: Path) -> None:
    loaded = catalog.load(_root(tmp_path, {"web.yaml": APPSET}), "apps")
    first = catalog.expand(loaded, _targets(a="staging"))
    broken = APPSET.replace('"web-{{target.name}}"', '"web-{{target.nom}}"')
    tree = _root(tmp_path / "next", {"web.yaml": broken})
    again = catalog.expand(catalog.load(tree, "apps", first), _targets(b="staging"), first)
    assert list(again.apps) == ["web-a"]
    assert again.apps["web-a"] == first.apps["web-a"]
    assert any("'nom'" in p and "kept as they were" in p for p in again.problems)


def test_a_broken_set_file_keeps_the_set_and_its_applications(tmp_path: Path) -> None:
    loaded = catalog.load(_root(tmp_path, {"web.yaml": APPSET}), "apps")
    first = catalog.expand(loaded, _targets(a="staging"))
    tree = _root(tmp_path / "next", {"web.yaml": "kind: [unclosed"})
    reloaded = catalog.load(tree, "apps", first)
    assert set(reloaded.appsets) == {"web"}
    again = catalog.expand(reloaded, _targets(a="staging"), first)
    assert list(again.apps) == ["web-a"]


def test_a_new_root_commit_parses_only_the_files_it_changed(tmp_path: Path) -> None:
    first = catalog.load(_root(tmp_path, {"a.yaml": APP % "a", "b.yaml": APP % "b"}), "apps")
    tree = _root(
        tmp_path / "next", {"a.yaml": APP % "a", "b.yaml": (APP % "b") + "  suspend: true\n"}
    )
    again = catalog.load(tree, "apps", first)
    assert again.apps["a"].app is first.apps["a"].app  # the same file: not parsed again
    assert again.apps["b"].app.spec.suspend and not first.apps["b"].app.spec.suspend
    broken = catalog.load(
        _root(tmp_path / "third", {"a.yaml": "kind: [", "b.yaml": APP % "b"}), "apps", again
    )
    assert broken.problems and "a.yaml" in broken.problems[0]
    assert broken.apps["a"] == again.apps["a"]  # kept from the last good read
    assert "apps/a.yaml" not in broken.parsed


def test_a_generated_name_never_replaces_a_declared_application(tmp_path: Path) -> None:
    tree = _root(tmp_path, {"web.yaml": APPSET, "db.yaml": APP % "web-a"})
    expanded = catalog.expand(catalog.load(tree, "apps"), _targets(a="staging"))
    assert expanded.apps["web-a"].owner == ""
    assert any("already declared by apps/db.yaml" in p for p in expanded.problems)


@pytest.mark.parametrize("policy", ["sync", "create-update"])
def test_applications_sync_policy(tmp_path: Path, policy: str) -> None:
    text = APPSET.replace(
        "  template:", f"  syncPolicy: {{applicationsSync: {policy}}}\n  template:"
    )
    loaded = catalog.load(_root(tmp_path, {"web.yaml": text}), "apps")
    first = catalog.expand(loaded, _targets(a="staging"))
    second = catalog.expand(loaded, _targets(a="prod"), first)
    assert list(second.apps) == ([] if policy == "sync" else ["web-a"])


def test_cascade_delete_of_the_set_reaches_its_applications(tmp_path: Path) -> None:
    text = APPSET.replace("  template:", "  syncPolicy: {cascadeDelete: true}\n  template:")
    loaded = catalog.load(_root(tmp_path, {"web.yaml": text}), "apps")
    expanded = catalog.expand(loaded, _targets(a="staging"))
    assert expanded.apps["web-a"].app.spec.sync_policy.cascade_delete
    plain = catalog.expand(
        catalog.load(_root(tmp_path / "p", {"w.yaml": APPSET}), "apps"), _targets(a="staging")
    )
    assert not plain.apps["web-a"].app.spec.sync_policy.cascade_delete


async def _restarted(tmp_path: Path, before: catalog.Catalog) -> catalog.Catalog | None:
    """What a restarted agent expands against: the generated Applications of
    ``before`` saved to a real store, read back by another store object."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    now = datetime.now(UTC)
    async with storing.SqlStore(url) as store:
        for declared in before.apps.values():
            state = states.AppState(app=declared.app, file=declared.file, owner=declared.owner)
            await store.save_status(persisting.record(state, now))
    async with storing.SqlStore(url) as store:
        restored = {record.name: record for record in await store.list_status()}
    return persisting.expansion_base(None, restored)


@pytest.mark.parametrize("policy", ["sync", "create-update"])
async def test_applications_sync_policy_across_a_restart(tmp_path: Path, policy: str) -> None:
    text = APPSET.replace(
        "  template:", f"  syncPolicy: {{applicationsSync: {policy}}}\n  template:"
    )
    loaded = catalog.load(_root(tmp_path, {"web.yaml": text, "db.yaml": APP % "db"}), "apps")
    first = catalog.expand(loaded, _targets(a="staging"))
    base = await _restarted(tmp_path, first)
    # Only what sets generated is remembered; declared Applications come from Git.
    assert base is not None and list(base.apps) == ["web-a"]
    assert base.apps["web-a"] == first.apps["web-a"]
    second = catalog.expand(loaded, _targets(a="prod"), base)
    assert sorted(second.apps) == (["db"] if policy == "sync" else ["db", "web-a"])


async def test_a_set_failing_at_start_up_keeps_what_it_generated(tmp_path: Path) -> None:
    loaded = catalog.load(_root(tmp_path, {"web.yaml": APPSET}), "apps")
    first = catalog.expand(loaded, _targets(a="staging"))
    base = await _restarted(tmp_path, first)
    broken = APPSET.replace('"web-{{target.name}}"', '"web-{{target.nom}}"')
    reloaded = catalog.load(_root(tmp_path / "next", {"web.yaml": broken}), "apps")
    again = catalog.expand(reloaded, _targets(a="staging"), base)
    assert list(again.apps) == ["web-a"] and again.apps["web-a"].owner == "web"


def test_an_unreadable_stored_application_is_generated_again() -> None:
    odd = store_base.AppRecord(name="web-a", owner="web", file="apps/web.yaml", generated={"x": 1})
    assert persisting.expansion_base(None, {"web-a": odd}) is None
    current = catalog.Catalog(revision="abc")
    assert persisting.expansion_base(current, {"web-a": odd}) is current
