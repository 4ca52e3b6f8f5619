"""The Jsonnet renderer over real git repositories, and the empty-render rule."""

from __future__ import annotations

from typing import Any

import pytest

from gitward import errors
from gitward.model import resources
from gitward.render import base, detection, directory, jsonnet, rendering
from tests.render.conftest import MakeRepo

GUESTBOOK = """\
local params = import 'params.libsonnet';
[
  {apiVersion: 'v1', kind: 'Service', metadata: {name: params.name},
   spec: {ports: [{port: params.servicePort}], selector: {app: params.name}}},
  {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: params.name},
   spec: {replicas: params.replicas}},
]
"""
PARAMS = "{name: 'guestbook-ui', servicePort: 80, replicas: 1}\n"
TLA = """\
function(name='guestbook-ui', replicas=1, labels={})
  {apiVersion: 'apps/v1', kind: 'Deployment',
   metadata: {name: name, labels: labels, annotations: {env: std.extVar('env')}},
   spec: {replicas: replicas}}
"""


def render(tree: base.Tree, path: str = "app", **options: Any) -> resources.Rendered:
    request = base.RenderRequest(tree=tree, path=path, app="demo", namespace="ns", options=options)
    return rendering.render(request, render_cache=rendering.caching.RenderCache())


def test_entry_points_and_libraries_are_detected_and_rendered(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/guestbook-ui.jsonnet": GUESTBOOK, "app/params.libsonnet": PARAMS})
    assert detection.detect(tree, "app").name == "jsonnet"
    rendered = render(tree)
    assert [(m.key.kind, m.key.name) for m in rendered.manifests] == [
        ("Service", "guestbook-ui"),
        ("Deployment", "guestbook-ui"),
    ]
    assert rendered.manifests[1].body["spec"] == {"replicas": 1}
    assert rendered.manifests[0].source == "app/guestbook-ui.jsonnet#0"


def test_tlas_and_ext_vars_typed_by_value(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/deploy.jsonnet": TLA})
    rendered = render(
        tree,
        tlas={"name": "tla-ui", "replicas": 3, "labels": {"team": "a"}},
        extVars={"env": "staging"},
    )
    (deployment,) = rendered.manifests
    assert deployment.key.name == "tla-ui"
    assert deployment.body["spec"]["replicas"] == 3
    assert deployment.body["metadata"]["labels"] == {"team": "a"}
    assert deployment.body["metadata"]["annotations"] == {"env": "staging"}


def test_libs_directories_and_nested_imports(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "app/main.jsonnet": "local k = import 'k.libsonnet'; [k.cm('a')]",
            "vendor/k.libsonnet": "local h = import 'helpers/name.libsonnet'; "
            "{cm(n): {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: h.prefix + n}}}",
            "vendor/helpers/name.libsonnet": "{prefix: 'lib-'}",
        }
    )
    rendered = render(tree, libs=["vendor"])
    assert [m.key.name for m in rendered.manifests] == ["lib-a"]
    # A change in a library is an input change: the cache cannot serve stale output.
    inputs = jsonnet.JsonnetRenderer().inputs(
        base.RenderRequest(
            tree=tree, path="app", app="demo", namespace="ns", options={"libs": ["vendor"]}
        )
    )
    assert "vendor/helpers/name.libsonnet" in inputs


@pytest.mark.parametrize(
    "source",
    [
        "import '../../outside.libsonnet'",
        "import '/etc/passwd'",
        "importstr '/etc/hostname'",
    ],
)
def test_imports_never_leave_the_repository(make_repo: MakeRepo, source: str) -> None:
    tree = make_repo({"app/main.jsonnet": source})
    with pytest.raises(errors.UnsafeInputError, match=r"app/main\.jsonnet: import"):
        render(tree)


def test_an_import_the_parent_did_not_gather_is_refused_by_the_child(make_repo: MakeRepo) -> None:
    # Computed paths are not Jsonnet, but a file outside the gathered set (here
    # never referenced literally) must not be readable by the evaluator.
    tree = make_repo({"app/main.jsonnet": "import 'missing.libsonnet'", "app/x.yaml": ""})
    with pytest.raises(errors.RenderError, match="not found in the repository"):
        render(tree)


def test_evaluation_errors_name_the_file(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/main.jsonnet": "{a: error 'boom'}"})
    with pytest.raises(errors.RenderError, match="boom"):
        render(tree)


def test_a_runaway_evaluation_is_killed_at_the_time_limit(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {"app/main.jsonnet": "local f(n) = if n == 0 then 0 else f(n - 1) + f(n - 1); f(60)"}
    )
    request = base.RenderRequest(
        tree=tree,
        path="app",
        app="demo",
        namespace="ns",
        limits=base.Limits(timeout_seconds=1.0),
    )
    with pytest.raises(errors.RenderTimeout, match="within 1s"):
        jsonnet.JsonnetRenderer().render(request)


def test_plain_manifests_beside_jsonnet_render_too(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "app/a.jsonnet": "{apiVersion: 'v1', kind: 'ConfigMap', "
            "metadata: {name: 'from-jsonnet'}}",
            "app/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-yaml}\n",
        }
    )
    assert [m.key.name for m in render(tree).manifests] == ["from-jsonnet", "from-yaml"]


def test_nothing_rendered_from_files_of_another_kind_is_an_error(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {"app/guestbook-ui.jsonnet": GUESTBOOK, "app/params.libsonnet": PARAMS, "app/README.md": ""}
    )
    request = base.RenderRequest(tree=tree, path="app", app="demo", namespace="ns")
    with pytest.raises(errors.RenderError) as caught:
        directory.DirectoryRenderer().render(request)
    message = str(caught.value)
    assert "'app/guestbook-ui.jsonnet'" in message and "'app/params.libsonnet'" in message
    assert "README" not in message


def test_a_path_with_only_documentation_may_render_nothing(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/README.md": "# emptied on purpose", "app/LICENSE": "x"})
    assert render(tree).manifests == ()
