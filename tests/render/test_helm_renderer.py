"""The Helm renderer: real charts in real git repositories, rendered in a child process."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from gitward import errors
from gitward.model import resources
from gitward.render import base, caching, detection, helm, rendering
from tests.render.conftest import Files, MakeRepo

CHART: Files = {
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: '1.0'\n",
    "charts/web/values.yaml": (
        "image:\n  repository: nginx\n  tag: '1.25'\nreplicas: 1\nextra: {}\n"
    ),
    "charts/web/templates/_helpers.tpl": (
        '{{- define "web.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}\n'
    ),
    "charts/web/templates/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        '  name: {{ include "web.fullname" . }}\n'
        "  namespace: {{ .Release.Namespace }}\n"
        "  labels:\n    kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
        '    monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}\n'
        "spec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n      containers:\n"
        "      - name: web\n"
        '        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
        "{{- with .Values.extra }}\n        env:\n"
        "        {{- range $k, $v := . }}\n        - {name: {{ $k }}, value: {{ $v | quote }}}\n"
        "        {{- end }}\n{{- end }}\n"
    ),
    "charts/web/templates/service.yaml": (
        "apiVersion: v1\nkind: Service\nmetadata:\n"
        '  name: {{ include "web.fullname" . }}\nspec: {ports: [{port: 80}]}\n'
    ),
    "charts/web/templates/disabled.yaml": "{{- if .Values.never }}\nkind: X\n{{- end }}\n",
    "charts/web/templates/NOTES.txt": "Thanks for installing {{ .Release.Name }}\n",
    "charts/web/crds/widgets.yaml": (
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: widgets.example.com}\n"
    ),
    "charts/web/values-prod.yaml": "replicas: 3\nimage: {tag: '1.26'}\n",
    "charts/shared/values.yaml": "extra: {A: from-shared}\n",
}


def req(tree: base.Tree, path: str = "charts/web", **options: Any) -> base.RenderRequest:
    return base.RenderRequest(
        tree=tree,
        path=path,
        app="web-staging",
        namespace="staging",
        options=options,
        limits=base.Limits(timeout_seconds=30),
    )


def objects(rendered: resources.Rendered) -> dict[str, resources.Manifest]:
    return {m.key.kind: m for m in rendered.manifests}


def container(rendered: resources.Rendered) -> dict[str, Any]:
    body = objects(rendered)["Deployment"].body
    result: dict[str, Any] = body["spec"]["template"]["spec"]["containers"][0]
    return result


def test_renders_like_helm_template(make_repo: MakeRepo) -> None:
    tree = make_repo(CHART)
    rendered = helm.HelmRenderer().render(req(tree))
    assert [m.key for m in rendered.manifests] == [
        resources.ResourceKey(
            "apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"
        ),
        resources.ResourceKey("", "Service", "", "web-staging-web"),
        resources.ResourceKey("apps", "Deployment", "staging", "web-staging-web"),
    ]
    assert [m.source for m in rendered.manifests] == [
        "helm:charts/web/crds/widgets.yaml#0",
        "helm:charts/web/templates/service.yaml#0",
        "helm:charts/web/templates/deployment.yaml#0",
    ]
    assert container(rendered)["image"] == "nginx:1.25"
    assert rendered.warnings == ()


def test_values_files_inline_values_and_set_in_order(make_repo: MakeRepo) -> None:
    tree = make_repo(CHART)
    rendered = helm.HelmRenderer().render(
        req(
            tree,
            valueFiles=["values-prod.yaml", "../shared/values.yaml"],
            values={"image": {"repository": "registry.local/nginx"}, "extra": {"B": "inline"}},
            set=["image.tag=9.9", "extra.C=set"],
            releaseName="rel",
        )
    )
    deployment = objects(rendered)["Deployment"]
    assert deployment.key.name == "rel-web"
    assert deployment.body["spec"]["replicas"] == 3
    assert container(rendered)["image"] == "registry.local/nginx:9.9"
    assert container(rendered)["env"] == [
        {"name": "A", "value": "from-shared"},
        {"name": "B", "value": "inline"},
        {"name": "C", "value": "set"},
    ]


def test_capabilities_and_crds_option(make_repo: MakeRepo) -> None:
    tree = make_repo(CHART)
    rendered = helm.HelmRenderer().render(
        req(
            tree, kubeVersion="v1.29.4", apiVersions=["monitoring.coreos.com/v1"], includeCRDs=False
        )
    )
    labels = objects(rendered)["Deployment"].body["metadata"]["labels"]
    assert labels == {"kube": "v1.29.4", "monitoring": "true"}
    assert "CustomResourceDefinition" not in objects(rendered)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"valueFiles": ["../../../etc/passwd"]},
            errors.UnsafeInputError,
            "escapes the repository",
        ),
        ({"valueFiles": ["/etc/passwd"]}, errors.UnsafeInputError, "absolute paths are refused"),
        ({"valueFiles": ["https://x.example/v.yaml"]}, errors.UnsafeInputError, "is remote"),
        (
            {"valueFiles": ["nope.yaml"]},
            errors.RenderError,
            r"values file 'nope\.yaml' does not exist",
        ),
        ({"releaseName": "Not_Valid"}, errors.RenderError, "helm chart 'charts/web'"),
        ({"set": ["a.b"]}, errors.RenderError, r"helm chart .charts/web.: key \"b\" has no value"),
        ({"values": [1]}, errors.RenderError, "values must be a mapping"),
        ({"wat": 1}, errors.RenderError, "unknown helm option"),
    ],
)
def test_bad_input(
    make_repo: MakeRepo, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    tree = make_repo(CHART)
    with pytest.raises(error, match=message):
        helm.HelmRenderer().render(req(tree, **options))


def test_values_file_symlink_escaping_is_refused(make_repo: MakeRepo) -> None:
    tree = make_repo(CHART, links={"charts/web/values-evil.yaml": "/etc/passwd"})
    with pytest.raises(errors.UnsafeInputError, match=r"symlink 'charts/web/values-evil\.yaml'"):
        helm.HelmRenderer().render(req(tree, valueFiles=["values-evil.yaml"]))


def test_template_error_names_the_template(make_repo: MakeRepo) -> None:
    tree = make_repo({**CHART, "charts/web/templates/bad.yaml": "{{ .Values.missing.key }}\n"})
    with pytest.raises(errors.RenderError, match=r"helm chart 'charts/web': .*bad\.yaml") as caught:
        helm.HelmRenderer().render(req(tree))
    assert "gitward-helm-" not in str(caught.value)


def test_values_schema_is_enforced(make_repo: MakeRepo) -> None:
    schema = '{"type": "object", "properties": {"replicas": {"type": "integer", "maximum": 5}}}'
    tree = make_repo({**CHART, "charts/web/values.schema.json": schema})
    assert helm.HelmRenderer().render(req(tree, values={"replicas": 5})).manifests
    with pytest.raises(errors.RenderError, match="replicas"):
        helm.HelmRenderer().render(req(tree, values={"replicas": 6}))


DEPENDENCIES: Files = {
    "app/Chart.yaml": (
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n"
        "- {name: db, version: 0.1.0, condition: db.enabled}\n"
        "- {name: lib, version: 0.1.0, repository: 'file://../lib'}\n"
    ),
    "app/values.yaml": "db: {enabled: false}\n",
    "app/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
    "app/charts/db/Chart.yaml": "apiVersion: v2\nname: db\nversion: 0.1.0\n",
    "app/charts/db/templates/db.yaml": (
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: {{ .Release.Name }}-db}\n"
    ),
    "lib/Chart.yaml": "apiVersion: v2\nname: lib\nversion: 0.1.0\n",
    "lib/templates/lib.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: lib}\n",
}


def test_local_dependencies(make_repo: MakeRepo) -> None:
    tree = make_repo(DEPENDENCIES)
    rendered = helm.HelmRenderer().render(req(tree, "app"))
    assert sorted(m.source for m in rendered.manifests) == [
        "helm:app/charts/lib/templates/lib.yaml#0",
        "helm:app/templates/cm.yaml#0",
    ]
    enabled = helm.HelmRenderer().render(req(tree, "app", set=["db.enabled=true"]))
    assert "StatefulSet" in objects(enabled)
    assert set(helm.HelmRenderer().inputs(req(tree, "app"))) == {"app", "lib"}


def test_remote_dependency_not_vendored_is_refused(make_repo: MakeRepo) -> None:
    chart = DEPENDENCIES["app/Chart.yaml"]
    assert isinstance(chart, str)
    tree = make_repo(
        {
            **DEPENDENCIES,
            "app/Chart.yaml": chart
            + "- {name: redis, version: 1.0.0, repository: 'https://charts.example.com'}\n",
        }
    )
    with pytest.raises(
        errors.RenderError, match=r"dependency 'redis' from https://charts\.example\.com"
    ):
        helm.HelmRenderer().render(req(tree, "app"))


def test_file_dependency_escaping_is_refused(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "app/Chart.yaml": (
                "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n"
                "- {name: x, version: 0.1.0, repository: 'file://../../../x'}\n"
            )
        }
    )
    with pytest.raises(errors.UnsafeInputError, match="dependency 'x' repository"):
        helm.HelmRenderer().render(req(tree, "app"))


def test_a_chart_that_never_finishes_times_out(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "slow/Chart.yaml": "apiVersion: v2\nname: slow\nversion: 0.1.0\n",
            # Nested small ranges: endless work without a large list (which would
            # hit the memory limit before the deadline on a slow machine).
            "slow/templates/loop.yaml": (
                "{{- range $i := until 100000 }}{{- range $j := until 100000 }}"
                "{{- end }}{{- end }}\n"
            ),
        }
    )
    request = base.RenderRequest(
        tree=tree, path="slow", app="slow", namespace="ns", limits=base.Limits(timeout_seconds=1.5)
    )
    start = time.monotonic()
    with pytest.raises(
        errors.RenderTimeout, match=r"helm chart 'slow': did not finish within 1\.5s"
    ):
        helm.HelmRenderer().render(request)
    assert time.monotonic() - start < 6


def test_empty_chart_and_detection(make_repo: MakeRepo) -> None:
    tree = make_repo({**CHART, "empty/Chart.yaml": "apiVersion: v2\nname: empty\nversion: 0.1.0\n"})
    assert detection.detect(tree, "charts/web").name == "helm"
    rendered = rendering.render(req(tree, "empty"))
    assert rendered.manifests == ()
    assert rendered.warnings == (
        "application web-staging (path 'empty'): the render produced no objects",
    )


def test_symlinked_template_is_an_input(make_repo: MakeRepo) -> None:
    shared = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n"
    tree = make_repo(
        {**CHART, "common/cm.yaml": shared},
        links={"charts/web/templates/shared.yaml": "../../../common/cm.yaml"},
    )
    renderer = helm.HelmRenderer()
    inputs = renderer.inputs(req(tree))
    assert list(inputs) == ["charts/web", "charts/web/templates/shared.yaml"]
    assert "ConfigMap" in objects(renderer.render(req(tree)))
    key = caching.key(renderer, req(tree), inputs)
    (tree.root / "common" / "cm.yaml").write_text(shared.replace("shared}", "changed}"))
    assert caching.key(renderer, req(tree), inputs) != key


def test_a_chart_that_eats_memory_stops_at_the_limit(make_repo: MakeRepo) -> None:
    # Issue 11: this template drove the Helm child to 3.5 GB resident.
    tree = make_repo(
        {
            "hog/Chart.yaml": "apiVersion: v2\nname: hog\nversion: 0.1.0\n",
            "hog/templates/hog.yaml": '{{ repeat 100000000 "xxxxxxxxxx" }}\n',
        }
    )
    limits = base.Limits(timeout_seconds=30, max_memory_bytes=256 << 20)
    request = base.RenderRequest(tree=tree, path="hog", app="hog", namespace="ns", limits=limits)
    start = time.monotonic()
    with pytest.raises(errors.RenderMemoryExceeded) as caught:
        rendering.render(request, render_cache=caching.RenderCache())
    assert time.monotonic() - start < 10
    assert str(caught.value) == (
        "application hog: helm chart 'hog': went over the render memory limit of 256 MiB"
        " (renderMemoryLimit) and was stopped"
    )
    assert caught.value.reason == "RenderFailed"
    # The same limit leaves an ordinary chart alone.
    fine = make_repo(CHART)
    rendered = rendering.render(
        dataclasses.replace(req(fine), limits=limits), render_cache=caching.RenderCache()
    )
    assert "Deployment" in objects(rendered)
