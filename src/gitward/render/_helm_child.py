"""The child process that runs Helm's template engine for ``render.helm``.

Helm's Go code runs inside the calling process through ctypes: a template that
loops for hours cannot be interrupted from Python, and a Go panic or fatal
error would take the whole agent down. So ``render.helm`` starts this module
(``python -m gitward.render._helm_child REQUEST.json``) per render, in its own
process group, and kills it on timeout. It imports only the standard library
and ``helm_python`` so that it starts fast; it prints one JSON object:
``{"templates": {name: text}, "crds": [{"filename", "data"}]}`` or
``{"error": class name, "message": text}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _render(request: dict[str, Any]) -> dict[str, Any]:
    import helm_python
    from helm_python import _native

    values: dict[str, Any] = request["values"]
    for expression in request["set"]:
        values = _merge(values, helm_python.parse_set_string(expression))
    helm_python.validate_release_name(request["name"])
    with helm_python.Chart.load(request["chart"]) as chart:
        chart.validate_schema(chart.merge_values(values))
        options: dict[str, Any] = {
            "name": request["name"],
            "namespace": request["namespace"],
            "is_install": True,
        }
        if request["kubeVersion"]:
            options["kube_version"] = request["kubeVersion"]
        if request["apiVersions"]:
            options["api_versions"] = request["apiVersions"]
        # Chart.render does not expose kube_version/api_versions, which
        # libhelm_c's helm_render accepts (as `helm template --kube-version
        # --api-versions` do); the pinned helm-python-sdk 0.2.2 is called at
        # the same level Chart.render uses.
        templates = json.loads(
            _native.call_string(
                "helm_render", chart._raw(), json.dumps(values), json.dumps(options)
            )
        )
        crds = chart.crds if request["includeCRDs"] else []
    return {"templates": templates, "crds": crds}


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text())
    try:
        result = _render(request)
    except MemoryError:
        raise  # the parent reads it from stderr: over the render memory limit
    except Exception as exc:  # reported to the parent, which raises RenderError
        result = {"error": type(exc).__name__, "message": str(exc)}
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
