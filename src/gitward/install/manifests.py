"""The install manifests: gitward's Helm chart rendered by the Helm SDK.

Called by :mod:`gitward.install.generating` (the plain manifests committed in
``deploy/manifests/``) and by ``gitward bootstrap`` (the install it writes into
a repository and applies once). The chart is gitward's own, shipped inside the
package, so it is rendered in-process; a user's charts go through the render
stage's killable child process instead.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import helm_python
import yaml

from gitward import errors

CHART_DIR = Path(__file__).parent / "chart"
RELEASE = "gitward"
NAMESPACE = "gitward-system"

# Apply order: what others refer to first (CRDs, the Namespace, identities),
# the workload after its configuration.
_ORDER = (
    "CustomResourceDefinition",
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Service",
    "Deployment",
    "PodDisruptionBudget",
    "NetworkPolicy",
)


def _rank(obj: Mapping[str, Any]) -> tuple[int, str, str]:
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata") or {}
    rank = _ORDER.index(kind) if kind in _ORDER else len(_ORDER)
    return (rank, str(meta.get("namespace", "")), str(meta.get("name", "")))


def render(
    values: Mapping[str, Any] | None = None,
    *,
    namespace: str = NAMESPACE,
    release: str = RELEASE,
    include_crds: bool = True,
) -> list[dict[str, Any]]:
    """The chart's objects for ``values`` (over the chart's defaults), in apply order.

    Raises :class:`gitward.errors.ConfigError` naming the chart when a value
    is wrong (the chart's own ``fail`` messages included).
    """
    try:
        with helm_python.Chart.load(CHART_DIR) as chart:
            rendered = chart.render(
                dict(values or {}), name=release, namespace=namespace, is_install=True
            )
            crds = chart.crds if include_crds else []
    except helm_python.HelmError as exc:
        raise errors.ConfigError(f"the gitward chart ({CHART_DIR}) cannot render: {exc}") from exc
    texts = [item["data"] for item in crds]
    texts += [rendered[name] for name in sorted(rendered) if not name.endswith("NOTES.txt")]
    objects: list[dict[str, Any]] = []
    for text in texts:
        for document in yaml.load_all(text, Loader=yaml.CSafeLoader):
            if isinstance(document, dict) and document:
                objects.append(document)
    return sorted(objects, key=_rank)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the agent configuration in its ConfigMap) as literal blocks."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def to_yaml(objects: Sequence[Mapping[str, Any]], header: str = "") -> str:
    """``objects`` as one multi-document YAML text, ``header`` as leading comments."""
    out = io.StringIO()
    for line in header.splitlines():
        out.write(f"# {line}".rstrip() + "\n")
    for obj in objects:
        out.write("---\n")
        out.write(yaml.dump(dict(obj), Dumper=_Dumper, sort_keys=False, width=100))
    return out.getvalue()
