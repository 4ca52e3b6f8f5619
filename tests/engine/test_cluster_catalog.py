"""Merging Applications and Projects declared as cluster objects into the Git catalog."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.config import applications, appsets, crds
from gitward.engine import catalog, cluster_catalog


def _app_doc(name: str, path: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "gitward.dev/v1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {
            "source": {"repoURL": "https://git.example.com/deploy.git", "path": path},
            "destination": {"target": "in-cluster", "namespace": "web"},
        },
    }


def _object(
    name: str,
    namespace: str = "gitward-system",
    created: str = "2026-12-04T10:00:00Z",
    kind: str = "Application",
    spec: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> cluster_catalog.ClusterObject:
    body: dict[str, Any] = {
        "apiVersion": "gitward.dev/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": created,
            "generation": 3,
            "labels": labels or {},
        },
        "spec": spec if spec is not None else {"project": "default", **_app_doc(name)["spec"]},
    }
    return cluster_catalog.ClusterObject.of(body)


def _git(*names: str) -> catalog.Catalog:
    apps = {
        n: catalog.Declared(
            applications.parse(_app_doc(n, "git"), f"apps/{n}.yaml"), f"apps/{n}.yaml"
        )
        for n in names
    }
    return catalog.Catalog(revision="abc", apps=apps)


def _verdicts(merged: cluster_catalog.Merged) -> dict[str, tuple[bool, str]]:
    return {f"{v.ref.namespace}/{v.ref.name}": (v.accepted, v.reason) for v in merged.verdicts}


def test_cluster_objects_join_the_git_catalog() -> None:
    merged = cluster_catalog.merge(_git("web"), [_object("api")])
    assert sorted(merged.catalog.apps) == ["api", "web"]
    assert merged.catalog.apps["api"].file == "cluster object gitward-system/api"
    assert merged.objects["api"] == cluster_catalog.ObjectRef(
        "Application", "gitward-system", "api"
    )
    assert _verdicts(merged) == {"gitward-system/api": (True, "Accepted")}
    assert merged.catalog.revision == "abc"


def test_git_wins_over_a_cluster_object_of_the_same_name() -> None:
    merged = cluster_catalog.merge(_git("web"), [_object("web")])
    assert merged.catalog.apps["web"].file == "apps/web.yaml"
    assert merged.catalog.apps["web"].app.spec.source.path == "git"
    [verdict] = merged.verdicts
    assert (verdict.accepted, verdict.reason) == (False, "ShadowedByGit")
    assert "apps/web.yaml" in verdict.message
    assert "web" not in merged.objects


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("team-a", "2026-12-04T09:00:00Z"), ("team-b", "2026-12-04T10:00:00Z")),
        (("team-b", "2026-12-04T09:00:00Z"), ("team-a", "2026-12-04T10:00:00Z")),
        (("team-a", "2026-12-04T09:00:00Z"), ("team-b", "2026-12-04T09:00:00Z")),
    ],
)
def test_the_oldest_object_of_a_name_wins(first: tuple[str, str], second: tuple[str, str]) -> None:
    objects = [_object("api", *second), _object("api", *first)]
    merged = cluster_catalog.merge(_git(), objects)
    assert merged.objects["api"].namespace == first[0]
    verdicts = _verdicts(merged)
    assert verdicts[f"{first[0]}/api"] == (True, "Accepted")
    assert verdicts[f"{second[0]}/api"] == (False, "NameConflict")


def test_an_invalid_object_is_reported_and_hides_nothing() -> None:
    bad = _object("broken", spec={"destination": {"target": "x"}, "source": {"repoURL": ""}})
    merged = cluster_catalog.merge(_git("web"), [bad, _object("api")])
    assert sorted(merged.catalog.apps) == ["api", "web"]
    verdict = next(v for v in merged.verdicts if v.ref.name == "broken")
    assert (verdict.accepted, verdict.reason) == (False, "Invalid")
    assert "gitward-system/broken" in verdict.message and "repoURL" in verdict.message


def test_mirrors_written_by_gitward_are_not_declarations() -> None:
    mirror = _object("web", labels={cluster_catalog.DECLARED_IN: "git"})
    merged = cluster_catalog.merge(_git(), [mirror])
    assert not merged.catalog.apps and not merged.verdicts


def test_projects_from_the_cluster() -> None:
    project = _object("team-a", kind="Project", spec={"sourceRepos": ["https://git.example.com/*"]})
    shadowed = _object("default", kind="Project", spec={})
    git = catalog.Catalog(
        revision="abc",
        projects={
            "default": applications.parse_project(
                {
                    "apiVersion": "gitward.dev/v1",
                    "kind": "Project",
                    "metadata": {"name": "default"},
                },
                "apps/default.yaml",
            )
        },
    )
    merged = cluster_catalog.merge(git, [project, shadowed])
    assert merged.catalog.projects["team-a"].spec.source_repos == ["https://git.example.com/*"]
    assert _verdicts(merged)["gitward-system/default"] == (False, "ShadowedByGit")


def test_an_application_round_trips_through_its_cluster_object() -> None:
    document = _app_doc("web")
    document["metadata"]["project"] = "team-a"
    document["spec"]["syncPolicy"] = {
        "interval": "90s",
        "healthTimeout": 1.5,
        "automated": {"prune": True},
        "retry": {"limit": 3, "backoff": {"duration": "5s", "factor": 1.5}},
    }
    document["spec"]["render"] = {"helm": {"values": {"replicas": 2, "ratio": 0.5}}}
    app = applications.parse(document, "apps/web.yaml")
    obj = crds.application_object(app, "gitward-system", labels={"x": "y"})
    policy = obj["spec"]["syncPolicy"]
    assert policy["interval"] == 90 and policy["healthTimeout"] == "1.5s"
    assert policy["retry"]["backoff"]["factor"] == 1.5  # a number field stays a number
    assert obj["spec"]["render"]["helm"]["values"]["ratio"] == 0.5  # free-form values untouched
    assert obj["spec"]["project"] == "team-a"
    back = crds.application_from_object(obj)
    assert back.spec == app.spec and back.metadata.project == "team-a"


_SET_SPEC: dict[str, Any] = {
    "project": "default",
    "generators": [{"list": {"elements": [{"c": "eu-1"}]}}],
    "template": {
        "metadata": {"name": "web-{{c}}"},
        "spec": {
            "source": {"repoURL": "https://git.example.com/deploy.git"},
            "destination": {"target": "{{c}}"},
        },
    },
}


def test_applicationsets_join_the_catalog_git_wins_and_invalid_ones_say_why() -> None:
    git_set = appsets.parse(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "ApplicationSet",
            "metadata": {"name": "core"},
            "spec": {k: v for k, v in _SET_SPEC.items() if k != "project"},
        },
        "apps/core.yaml",
    )
    git = catalog.Catalog(
        revision="abc", appsets={"core": catalog.DeclaredSet(git_set, "apps/core.yaml")}
    )
    merged = cluster_catalog.merge(
        git,
        [
            _object("web", kind="ApplicationSet", spec=_SET_SPEC),
            _object("core", kind="ApplicationSet", spec=_SET_SPEC),
            _object("bad", kind="ApplicationSet", spec={**_SET_SPEC, "generators": [{}]}),
        ],
    )
    assert sorted(merged.catalog.appsets) == ["core", "web"]
    assert merged.catalog.appsets["core"].file == "apps/core.yaml"
    assert merged.catalog.appsets["web"].file == "cluster object gitward-system/web"
    assert merged.cluster_sets == {"web"}
    assert _verdicts(merged) == {
        "gitward-system/web": (True, "Accepted"),
        "gitward-system/core": (False, "ShadowedByGit"),
        "gitward-system/bad": (False, "Invalid"),
    }
    assert (
        crds.appset_from_object(
            {"metadata": {"name": "web", "namespace": "ns"}, "spec": _SET_SPEC}
        ).metadata.project
        == "default"
    )
