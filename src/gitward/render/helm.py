"""The Helm renderer: a chart in the repository rendered the way ``helm template`` does.

Values come from the chart's ``values.yaml``, then the Application's
``valueFiles`` (repository paths relative to the Application's path, loaded
through ``render.loading``; escaping the repository is refused; ``$name/...``
is a file of the Application's source named ``name``), then inline
``values``, then ``set`` (``key=value``, Helm's ``--set`` syntax). The release
name defaults to the Application's name, the release namespace is the
destination namespace; ``kubeVersion``/``apiVersions`` set the capabilities
templates see; CRDs under ``crds/`` are included unless ``includeCRDs: false``.

Dependencies must be vendored under ``charts/`` (directories or ``.tgz``) or
be ``file://`` paths inside the repository (copied in, as ``helm dependency
build`` would); remote ones are refused, since renders have no network (the
engine fetches them beforehand through ``source.charts`` and lays their
archives under ``charts/``, so a chart in Git with remote dependencies renders).

The chart (materialized from the Tree into a temporary directory) is rendered
by Helm's Go code (helm-python-sdk) in a child process
(``render._helm_child``), killed when the time limit passes: the Go code cannot
be interrupted in-process. Registered as ``helm`` in ``render.registry``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitward import errors
from gitward.model import resources
from gitward.render import base, directory, loading, paths, running, sops

_OPTION_NAMES = frozenset(
    {"releaseName", "valueFiles", "values", "set", "includeCRDs", "kubeVersion", "apiVersions"}
)
# Helm's install order for the kinds a chart most often holds; others follow
# in template-path order, as `helm template` prints them.
_INSTALL_ORDER = [
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
]
_RANK = {kind: rank for rank, kind in enumerate(_INSTALL_ORDER)}


@dataclass(frozen=True, slots=True)
class Options:
    release_name: str = ""
    value_files: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    set: tuple[str, ...] = ()
    include_crds: bool = True
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()

    @classmethod
    def parse(cls, options: Mapping[str, Any], where: str) -> Options:
        unknown = set(options) - _OPTION_NAMES
        if unknown:
            raise errors.RenderError(
                f"{where}: unknown helm option(s) {', '.join(sorted(unknown))}"
            )

        def strings(name: str) -> tuple[str, ...]:
            value = options.get(name) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise errors.RenderError(f"{where}: helm option {name} must be a list of strings")
            return tuple(value)

        def text(name: str) -> str:
            value = options.get(name) or ""
            if not isinstance(value, str):
                raise errors.RenderError(f"{where}: helm option {name} must be a string")
            return value

        values = options.get("values") or {}
        if not isinstance(values, Mapping):
            raise errors.RenderError(f"{where}: helm option values must be a mapping")
        include_crds = options.get("includeCRDs", True)
        if not isinstance(include_crds, bool):
            raise errors.RenderError(f"{where}: helm option includeCRDs must be true or false")
        return cls(
            release_name=text("releaseName"),
            value_files=strings("valueFiles"),
            values=values,
            set=strings("set"),
            include_crds=include_crds,
            kube_version=text("kubeVersion"),
            api_versions=strings("apiVersions"),
        )


@dataclass(frozen=True, slots=True)
class _Chart:
    root: str  # the chart directory in the repository
    value_files: tuple[str, ...]  # repository paths, in order
    # (name, repository path) of file:// dependencies to copy under charts/
    local_dependencies: tuple[tuple[str, str], ...]


def _chart_metadata(tree: base.Tree, root: str, limits: base.Limits) -> Mapping[str, Any]:
    chart_file = f"{root}/Chart.yaml" if root else "Chart.yaml"
    bodies = loading.load_documents(
        tree.read(chart_file, max_bytes=limits.max_file_bytes), chart_file, limits
    )
    if len(bodies) != 1 or not isinstance(bodies[0], Mapping):
        raise errors.RenderError(f"chart {chart_file!r}: expected one mapping document")
    return bodies[0]


def _vendored(tree: base.Tree, root: str) -> set[str]:
    """Names of the subcharts present under ``charts/`` (directories or archives)."""
    charts = f"{root}/charts" if root else "charts"
    if tree.kind(charts) is None:
        return set()
    found: set[str] = set()
    for entry in tree.list(charts):
        if entry.name.endswith(".tgz"):
            found.add(entry.name[: -len(".tgz")].rpartition("-")[0] or entry.name)
        elif directory.is_directory(tree, entry.path):
            found.add(entry.name)
    return found


def _inspect(request: base.RenderRequest, options: Options) -> _Chart:
    tree = request.tree
    root = paths.normalize(request.path, what="application path")
    metadata = _chart_metadata(tree, root, request.limits)
    chart_file = f"{root}/Chart.yaml" if root else "Chart.yaml"
    value_files: list[str] = []
    for value_file in options.value_files:
        what = f"application {request.app}: values file"
        if "://" in value_file:
            raise errors.UnsafeInputError(
                f"{what} {value_file!r} is remote; values files must be in the repository"
            )
        # `$values/env/prod.yaml`: a file of the named source `values`
        # (spec.sources), whatever the chart's own path.
        resolved = (
            paths.normalize(value_file, what=what)
            if value_file.startswith("$")
            else paths.join(root, value_file, what=what)
        )
        if tree.kind(resolved) is None:
            raise errors.RenderError(f"{what} {value_file!r} does not exist")
        value_files.append(resolved)
    vendored = _vendored(tree, root)
    local: list[tuple[str, str]] = []
    dependencies = metadata.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise errors.RenderError(f"chart {chart_file!r}: dependencies must be a list")
    for dependency in dependencies:
        if not isinstance(dependency, Mapping) or not isinstance(dependency.get("name"), str):
            raise errors.RenderError(f"chart {chart_file!r}: a dependency has no name")
        name = dependency["name"]
        repository = str(dependency.get("repository") or "")
        if name in vendored:
            continue
        if repository.startswith("file://"):
            what = f"chart {chart_file!r}: dependency {name!r} repository"
            dependency_root = paths.join(root, repository[len("file://") :], what=what)
            if (
                tree.kind(f"{dependency_root}/Chart.yaml" if dependency_root else "Chart.yaml")
                is None
            ):
                raise errors.RenderError(f"{what} {repository!r} holds no Chart.yaml")
            local.append((name, dependency_root))
            continue
        raise errors.RenderError(
            f"chart {chart_file!r}: dependency {name!r} from {repository or '(no repository)'}"
            " is not vendored under charts/; remote dependencies are not downloaded (renders"
            " have no network): run `helm dependency build` and commit charts/"
        )
    return _Chart(root=root, value_files=tuple(value_files), local_dependencies=tuple(local))


def _merge(base_values: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    # Helm's rule for -f files: maps merge key by key, anything else replaces.
    merged = dict(base_values)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _values(request: base.RenderRequest, chart: _Chart, options: Options) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in chart.value_files:
        data = request.tree.read(path, max_bytes=request.limits.max_file_bytes)
        bodies = [
            b
            for b in sops.load_documents(data, path, request.limits, request.decryption)
            if b is not None
        ]
        if len(bodies) > 1 or (bodies and not isinstance(bodies[0], Mapping)):
            raise errors.RenderError(f"values file {path!r}: expected one mapping document")
        if bodies:
            values = _merge(values, bodies[0])
    return _merge(values, options.values)


def _sort_key(manifest: resources.Manifest) -> tuple[int, str]:
    return (_RANK.get(manifest.key.kind, len(_RANK)), manifest.source)


class HelmRenderer:
    """A Helm chart at the Application's path."""

    name = "helm"
    version = "helm-python-sdk-0.2.2/1"

    def detect(self, tree: base.Tree, path: str) -> bool:
        root = paths.normalize(path, what="application path")
        return tree.kind(f"{root}/Chart.yaml" if root else "Chart.yaml") is not None

    def confined(self, request: base.RenderRequest) -> bool:
        return True  # the chart, its file:// dependencies and value files; no network

    def inputs(self, request: base.RenderRequest) -> Sequence[str]:
        options = Options.parse(request.options, f"application {request.app}")
        chart = _inspect(request, options)
        roots = [chart.root, *(p for _, p in chart.local_dependencies)]
        links = [link for root in roots for link in directory.symlinks_under(request.tree, root)]
        return [*roots, *chart.value_files, *links]

    def render(self, request: base.RenderRequest) -> resources.Rendered:
        where = f"application {request.app}"
        options = Options.parse(request.options, where)
        chart = _inspect(request, options)
        values = _values(request, chart, options)
        limits = request.limits
        label = f"helm chart {chart.root or '.'!r}"
        with tempfile.TemporaryDirectory(prefix="gitward-helm-") as temp:
            work = Path(temp)
            repo = work / "repo"
            repo.mkdir()
            request.tree.materialize([chart.root, *(p for _, p in chart.local_dependencies)], repo)
            chart_dir = repo / chart.root if chart.root else repo
            for name, dependency_root in chart.local_dependencies:
                shutil.copytree(repo / dependency_root, chart_dir / "charts" / name)
            home = work / "home"
            home.mkdir()
            child_request = {
                "chart": str(chart_dir),
                "values": values,
                "set": list(options.set),
                "name": options.release_name or request.app,
                "namespace": request.namespace,
                "includeCRDs": options.include_crds,
                "kubeVersion": options.kube_version,
                "apiVersions": list(options.api_versions),
            }
            request_file = work / "request.json"
            try:
                request_file.write_text(json.dumps(child_request))
            except TypeError as exc:
                raise errors.RenderError(
                    f"{where}: helm values are not JSON-shaped: {exc}"
                ) from None
            env = running.isolated_env(home)
            # The child imports gitward exactly as this process does.
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            code, out_path, stderr = running.run(
                [sys.executable, "-m", "gitward.render._helm_child", str(request_file)],
                cwd=work,
                env=env,
                timeout=limits.timeout_seconds,
                what=f"{where}: {label}",
                memory_limit=limits.max_memory_bytes,
            )
            size = out_path.stat().st_size
            if code != 0 or size == 0:
                raise errors.RenderError(
                    f"{label}: the Helm process failed (exit {code}): {stderr.strip()[-1000:]}"
                )
            if size > limits.max_total_bytes * 2:
                raise errors.UnsafeInputError(
                    f"{label}: output of {size} bytes is over the {limits.max_total_bytes}-byte"
                    " limit"
                )
            result = json.loads(out_path.read_bytes())
        if "error" in result:
            message = str(result["message"]).replace(f"{chart_dir}/", "").replace(temp, "")
            raise errors.RenderError(f"{label}: {message}")
        return self._manifests(chart.root, result, limits)

    def _manifests(
        self, root: str, result: Mapping[str, Any], limits: base.Limits
    ) -> resources.Rendered:
        prefix = f"helm:{root}/" if root else "helm:"
        output_limits = dataclasses.replace(limits, max_file_bytes=limits.max_total_bytes)
        warnings: list[str] = []
        crds: list[resources.Manifest] = []
        for crd in result["crds"]:
            # `filename` starts with the chart's name: <chart>/crds/x.yaml
            source = prefix + str(crd["filename"]).partition("/")[2]
            crds.extend(
                directory.manifests_from(
                    loading.load(str(crd["data"]), source, output_limits, as_json=False),
                    source,
                    warnings,
                )
            )
        found: list[resources.Manifest] = []
        for name in sorted(result["templates"]):
            text = str(result["templates"][name])
            if name.endswith("NOTES.txt") or not text.strip():
                continue
            source = prefix + name.partition("/")[2]
            found.extend(
                directory.manifests_from(
                    loading.load(text, source, output_limits, as_json=False), source, warnings
                )
            )
        found.sort(key=_sort_key)
        return resources.Rendered(manifests=(*crds, *found), warnings=tuple(warnings))
