"""The directory renderer over real git repositories."""

from __future__ import annotations

from typing import Any

import pytest

from gitward import errors
from gitward.model import resources
from gitward.render import base, directory, rendering
from tests.render.conftest import MakeRepo

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def render(tree: base.Tree, path: str = "app", **options: Any) -> resources.Rendered:
    request = base.RenderRequest(tree=tree, path=path, app="demo", namespace="ns", options=options)
    return directory.DirectoryRenderer().render(request)


def names(rendered: resources.Rendered) -> list[str]:
    return [m.key.name for m in rendered.manifests]


def test_recursive_multi_document_with_sources(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "app/a.yaml": CM.format(name="a") + "---\n" + CM.format(name="b"),
            "app/sub/c.yml": CM.format(name="c"),
            "app/sub/deeper/d.json": (
                '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "d"}}'
            ),
            "app/README.md": "# not yaml",
            "other/x.yaml": CM.format(name="outside"),
        }
    )
    rendered = render(tree)
    assert names(rendered) == ["a", "b", "c", "d"]
    assert [m.source for m in rendered.manifests] == [
        "app/a.yaml#0",
        "app/a.yaml#1",
        "app/sub/c.yml#0",
        "app/sub/deeper/d.json#0",
    ]
    assert rendered.manifests[3].key == resources.ResourceKey("", "Secret", "", "d")
    assert rendered.warnings == ()
    assert names(render(tree, recurse=False)) == ["a", "b"]


def test_tool_files_and_hidden_entries_are_not_manifests(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "app/a.yaml": CM.format(name="a"),
            "app/kustomization.yaml": "resources: [a.yaml]\n",
            "app/Chart.yaml": "apiVersion: v2\nname: x\n",
            "app/values-prod.yaml": "replicas: 3\n",
            "app/.github/workflow.yaml": "not: an object\n",
        }
    )
    rendered = render(tree)
    assert names(rendered) == ["a"]
    assert rendered.warnings == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Issue 11: a `Kind:` typo once made the object look removed; prune deleted it.
        (
            CM.format(name="a") + "---\napiVersion: v1\nKind: ConfigMap\nmetadata: {name: b}\n",
            "app/a.yaml#1 (line 6): not a Kubernetes object: kind missing"
            " (found Kind: field names are case-sensitive)",
        ),
        ("just: data\n", "app/a.yaml#0 (line 1): not a Kubernetes object: apiVersion and kind"),
        ("---\n\n---\n- a list\n", "app/a.yaml#1 (line 4): not a Kubernetes object (a list"),
        ("apiVersion: v1\nkind: ConfigMap\n", "app/a.yaml#0 (line 1): ConfigMap: metadata is"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n",
            "app/a.yaml#0 (line 1): ConfigMap: metadata.name is missing or empty",
        ),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ''}\n", "metadata.name is missing"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 12}\n", "must be a string"),
        (
            "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\n",
            "app/a.yaml#0 (line 1): Job: metadata.name is missing; generateName ('migrate-')"
            " is only allowed on hooks",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: ../../../namespaces/kube-system/configmaps/victim\n",
            "ConfigMap name '../../../namespaces/kube-system/configmaps/victim' is invalid:"
            " it may not contain '/'",
        ),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '..'}\n", "may not be '..'"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a%2Fb}\n", "may not contain '%'"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Upper}\n", "DNS-1123 subdomain"),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n", "a DNS-1123 label"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\n", "a DNS-1035 label"),
        (
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + "a" * 64 + "}\n",
            "at most 63 characters",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + "a" * 254 + "}\n",
            "at most 253 characters",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ../x}\n",
            "metadata.namespace '../x' is invalid",
        ),
        (
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: 'a:b'}\n",
            "Widget name 'a:b' is invalid",
        ),
        (
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap,"
            " metadata: {name: one}}\n- {kind: NoVersion}\n",
            "app/a.yaml#0 (line 1) item 1 of the List: not a Kubernetes object: apiVersion",
        ),
    ],
)
def test_what_is_not_a_valid_object_fails_the_render(
    make_repo: MakeRepo, text: str, message: str
) -> None:
    tree = make_repo({"app/a.yaml": text})
    with pytest.raises(errors.RenderError) as caught:
        render(tree)
    assert message in str(caught.value)
    assert caught.value.reason == "RenderFailed"


def test_valid_names_per_kind_and_hooks_with_generate_name(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "app/a.yaml": (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                "metadata: {name: 'system:controller:x'}\n---\n"
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a.b-c.d1, namespace: ns-1}\n"
                "---\napiVersion: v1\nkind: Service\nmetadata: {name: web-1}\n"
                "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: " + "n" * 63 + "}\n"
            ),
            "app/hooks.yaml": "".join(
                f"---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: {name}-\n"
                f"  annotations: {{{annotation}: PreSync}}\n"
                for name, annotation in (
                    ("one", "gitward.dev/hook"),
                    ("two", "argocd.argoproj.io/hook"),
                    ("three", "helm.sh/hook"),
                )
            ),
        }
    )
    rendered = render(tree)
    assert names(rendered) == [
        "system:controller:x",
        "a.b-c.d1",
        "web-1",
        "n" * 63,
        "one-*",
        "two-*",
        "three-*",
    ]


def test_lists_are_flattened(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "app/list.yaml": (
                "apiVersion: v1\nkind: List\nitems:\n"
                "- {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}\n"
                "- {apiVersion: v1, kind: Service, metadata: {name: two}}\n"
            ),
            "app/cms.yaml": (
                "apiVersion: v1\nkind: ConfigMapList\n"
                "items: [{apiVersion: v1, kind: ConfigMap, metadata: {name: three}}]\n"
            ),
        }
    )
    rendered = render(tree)
    assert names(rendered) == ["three", "one", "two"]
    assert rendered.warnings == ()


def test_include_and_exclude(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "app/a.yaml": CM.format(name="a"),
            "app/b.yml": CM.format(name="b"),
            "app/test/c.yaml": CM.format(name="c"),
            "app/d.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}',
        }
    )
    assert names(render(tree, include=["*.yaml"])) == ["a", "c"]
    assert names(render(tree, include=["{*.yml,*.json}"])) == ["b", "d"]
    assert names(render(tree, exclude=["test/*"])) == ["a", "b", "d"]
    assert names(render(tree, include="*.y*ml", exclude=["b.yml"])) == ["a", "c"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"recurse": "yes"}, "recurse must be true or false"),
        ({"include": [1]}, "include must be a list of globs"),
        ({"jsonnet": {}}, "unknown directory option"),
    ],
)
def test_bad_options(make_repo: MakeRepo, options: dict[str, Any], message: str) -> None:
    tree = make_repo({"app/a.yaml": CM.format(name="a")})
    with pytest.raises(errors.RenderError, match=message):
        render(tree, **options)


def test_escaping_symlink_is_refused_naming_it(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/a.yaml": CM.format(name="a")}, links={"app/passwd.yaml": "/etc/passwd"})
    with pytest.raises(errors.UnsafeInputError, match=r"symlink 'app/passwd\.yaml' points outside"):
        render(tree)


def test_symlinks_inside_the_repo_are_followed_and_are_inputs(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {"shared/cm.yaml": CM.format(name="shared"), "app/a.yaml": CM.format(name="a")},
        links={"app/shared.yaml": "../shared/cm.yaml", "app/dir": "../shared"},
    )
    rendered = render(tree)
    assert names(rendered) == ["a", "shared", "shared"]
    request = base.RenderRequest(tree=tree, path="app", app="demo", namespace="ns")
    assert list(directory.DirectoryRenderer().inputs(request)) == [
        "app",
        "app/dir",
        "app/shared.yaml",
    ]


@pytest.mark.parametrize("link", ["app/sub/back", "app/self"])
def test_symlink_loop_is_refused(make_repo: MakeRepo, link: str) -> None:
    target = ".." if link.endswith("back") else "."
    tree = make_repo({"app/a.yaml": CM.format(name="a")}, links={link: target})
    with pytest.raises(errors.UnsafeInputError, match=f"symlink '{link}' loops back"):
        render(tree)


def test_limits(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {"app/a.yaml": CM.format(name="a"), "app/big.yaml": CM.format(name="b" * 3000)}
    )
    request = base.RenderRequest(
        tree=tree, path="app", app="demo", namespace="ns", limits=base.Limits(max_file_bytes=1000)
    )
    with pytest.raises(errors.UnsafeInputError, match=r"'app/big\.yaml': \d+ bytes is over"):
        directory.DirectoryRenderer().render(request)
    request = base.RenderRequest(
        tree=tree, path="app", app="demo", namespace="ns", limits=base.Limits(max_total_bytes=3000)
    )
    with pytest.raises(errors.UnsafeInputError, match="exceed the 3000-byte total limit"):
        directory.DirectoryRenderer().render(request)


def test_missing_or_escaping_app_path(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/a.yaml": CM.format(name="a")})
    with pytest.raises(errors.RenderError, match="application path 'nope' does not exist"):
        render(tree, path="nope")
    with pytest.raises(errors.UnsafeInputError, match="escapes the repository"):
        render(tree, path="../..")
    with pytest.raises(errors.UnsafeInputError, match="absolute paths are refused"):
        render(tree, path="/etc")


def test_through_rendering_empty_render_warns(make_repo: MakeRepo) -> None:
    tree = make_repo({"app/README.md": "nothing"})
    request = base.RenderRequest(tree=tree, path="app", app="demo", namespace="ns")
    rendered = rendering.render(request)
    assert rendered.manifests == ()
    assert rendered.warnings == ("application demo (path 'app'): the render produced no objects",)
    assert len(rendered.input_digest) == 64
