"""An Argo CD ``ApplicationSet`` → a gitward ApplicationSet: generators
(list, clusters, git, matrix, merge), template placeholders renamed to
gitward's parameters (fasttemplate or Go template fields), sync policy and
rolling sync. Anything without an equivalent leaves the set untranslated,
with a note."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from gitward.config.importing import results
from gitward.config.importing.argocd import applications, objects

_FAST = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_GO_FIELD = re.compile(r"^\.([A-Za-z_][\w.]*)$")


def _rename(kinds: set[str]) -> Callable[[str], str | None]:
    """How a parameter of Argo CD's generators is spelled in gitward (None: no equivalent)."""

    def rename(name: str) -> str | None:
        segment = re.fullmatch(r"path\[(\d+)\]", name)
        if segment:
            return f"path.segments[{segment.group(1)}]"
        if "git" in kinds and name == "path":
            return "path.path"
        if "clusters" in kinds:
            if name in ("name", "nameNormalized"):
                return "target.name"
            if name.startswith("metadata.labels."):
                return "target.labels." + name[len("metadata.labels.") :]
            if name == "server" or name.startswith("metadata.annotations."):
                return None
        if not re.fullmatch(r"[A-Za-z_][\w.]*(\[\d+\])?", name):
            return None
        return name

    return rename


def _placeholders(value: Any, rename: Callable[[str], str | None], go: bool, bad: set[str]) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if go:
                field = _GO_FIELD.match(inner)
                if field is None:
                    bad.add(match.group(0))
                    return match.group(0)
                inner = field.group(1)
            renamed = rename(inner)
            if renamed is None:
                bad.add(match.group(0))
                return match.group(0)
            return "{{" + renamed + "}}"

        return _FAST.sub(replace, value)
    if isinstance(value, Mapping):
        return {k: _placeholders(v, rename, go, bad) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, rename, go, bad) for v in value]
    return value


def _generator(
    generator: Mapping[str, Any], result: results.Imported, source: str, kinds: set[str]
) -> dict[str, Any] | None:
    if "list" in generator:
        kinds.add("list")
        return {"list": {"elements": list(generator["list"].get("elements") or [])}}
    if "clusters" in generator:
        kinds.add("clusters")
        selector = (generator["clusters"] or {}).get("selector") or {}
        return {"targets": {"selector": dict(selector)}}
    if "git" in generator:
        kinds.add("git")
        git = generator["git"]
        base = {"repoURL": git.get("repoURL"), "ref": str(git.get("revision") or "HEAD")}
        if git.get("files"):
            return {"gitFiles": {**base, "files": [dict(f) for f in git["files"]]}}
        return {
            "gitDirectories": {
                **base,
                "directories": [dict(d) for d in git.get("directories") or []],
            }
        }
    for name in ("matrix", "merge"):
        if name in generator:
            inner = [
                _generator(g, result, source, kinds)
                for g in (generator[name] or {}).get("generators") or []
            ]
            if any(g is None for g in inner):
                return None
            out: dict[str, Any] = {"generators": inner}
            if name == "merge":
                out["mergeKeys"] = list(generator[name].get("mergeKeys") or [])
            return {name: out}
    result.note(
        source,
        f"spec.generators[{', '.join(generator)}]",
        "this generator has no gitward equivalent (list, clusters, git, matrix, merge do)",
    )
    return None


def application_set(document: Mapping[str, Any], result: results.Imported) -> dict[str, Any] | None:
    """The gitward ApplicationSet (issue 16's shape), or None (noted) when a
    generator or a template placeholder has no equivalent."""
    source = results.where(document)
    spec = document.get("spec") or {}
    kinds: set[str] = set()
    generators = [_generator(g, result, source, kinds) for g in spec.get("generators") or []]
    if not generators or any(g is None for g in generators):
        result.note(source, "spec.generators", "ApplicationSet not translated")
        return None
    template = spec.get("template") or {}
    _, app = applications.app_spec(template.get("spec") or {}, result, source)
    meta = dict(template.get("metadata") or {})
    bad: set[str] = set()
    rename = _rename(kinds)
    go = bool(spec.get("goTemplate"))
    translated = _placeholders({"metadata": meta, "spec": app}, rename, go, bad)
    if bad:
        result.note(
            source,
            "spec.template",
            f"placeholders without a gitward equivalent: {', '.join(sorted(bad))}; "
            "ApplicationSet not translated",
        )
        return None
    translated["metadata"]["project"] = str(
        (template.get("spec") or {}).get("project") or "default"
    )
    out: dict[str, Any] = {"generators": generators, "template": translated}
    policy = spec.get("syncPolicy") or {}
    if policy.get("preserveResourcesOnDeletion") is False:
        out["syncPolicy"] = {"cascadeDelete": True}
    if policy.get("applicationsSync") in ("create-update", "create-only"):
        out.setdefault("syncPolicy", {})["applicationsSync"] = "create-update"
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "RollingSync":
        steps = (strategy.get("rollingSync") or {}).get("steps") or []
        out["strategy"] = {
            "rollingSync": {
                "steps": [
                    {
                        "matchExpressions": list(step.get("matchExpressions") or []),
                        **({"maxUpdate": step["maxUpdate"]} if "maxUpdate" in step else {}),
                    }
                    for step in steps
                ]
            }
        }
    result.note_unhandled(
        source,
        "spec",
        spec,
        {"generators", "template", "goTemplate", "syncPolicy", "strategy"},
        {
            "goTemplateOptions": "gitward templates always fail on a missing parameter",
            "templatePatch": "patch the template itself",
            "ignoreApplicationDifferences": "generated Applications are not edited by hand",
            "preservedFields": "generated Applications are not edited by hand",
        },
    )
    return {
        "apiVersion": "gitward.dev/v1",
        "kind": "ApplicationSet",
        "metadata": objects.metadata(document, result, source, None),
        "spec": out,
    }
