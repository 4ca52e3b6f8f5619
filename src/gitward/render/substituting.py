"""Post-render variable substitution: ``${var}`` and ``${var:=default}`` in manifests.

Runs after every render of an Application that declares ``spec.postBuild``
(``RenderRequest.variables`` set), after SOPS decryption, as Flux's
``postBuild.substitute`` does: each object is written as YAML, ``${name}``
is replaced by the variable's value, ``${name:=default}`` (or ``:-``) by the
value or the default, ``$${name}`` by the literal ``${name}``, and the text is
read back, so ``replicas: ${count}`` becomes a number. A variable with
neither value nor default is an error naming it and the object; nothing is
applied. Objects annotated ``gitward.dev/substitute: disabled`` are left as
they are.

Values that came from a Secret (``Variables.secret``) may only be
substituted into Secrets: every output path (plans, diffs, events, API, UI)
masks a Secret's values, and nothing else; elsewhere they are refused. No
error message ever holds a value. Registered in ``render.rendering``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml

from gitward import errors
from gitward.model import resources
from gitward.render import base

DISABLE_ANNOTATION = "gitward.dev/substitute"
_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
_EXPRESSION = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _substitute(text: str, variables: base.Variables, where: str, used: set[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        expression = match.group(1)
        name, default = expression, None
        for operator in (":=", ":-"):
            if operator in expression:
                name, _, default = expression.partition(operator)
                break
        name = name.strip()
        if not _NAME.match(name):
            raise errors.RenderError(f"{where}: ${{{expression}}} is not a valid variable name")
        if name in variables.values:
            used.add(name)
            return variables.values[name]
        if default is None:
            raise errors.RenderError(
                f"{where}: variable {name!r} is not set (declare it, or give a default: "
                f"${{{name}:=value}})"
            )
        return default

    return _EXPRESSION.sub(replace, text)


def _one(manifest: resources.Manifest, variables: base.Variables) -> resources.Manifest:
    if manifest.annotations.get(DISABLE_ANNOTATION) == "disabled":
        return manifest
    where = f"{manifest.source or 'rendered'}: {manifest.key}"
    text = yaml.dump(dict(manifest.body), Dumper=_DUMPER, sort_keys=False, width=1 << 30)
    if "${" not in text:
        return manifest
    used: set[str] = set()
    replaced = _substitute(text, variables, where, used)
    secret = sorted(used & variables.secret)
    is_secret = manifest.key.group == "" and manifest.key.kind == "Secret"
    if secret and not is_secret:
        raise errors.RenderError(
            f"{where}: variable(s) {', '.join(secret)} come from a Secret and may only be "
            "substituted into Secrets"
        )
    try:
        body = yaml.load(replaced, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        # The YAML parser's message would quote the substituted text.
        raise errors.RenderError(
            f"{where}: after substitution the object is no longer valid YAML (a value with "
            "YAML syntax in it? quote the variable)"
        ) from None
    if not isinstance(body, Mapping):
        raise errors.RenderError(f"{where}: after substitution the object is not a mapping")
    return resources.Manifest.from_body(body, manifest.source)


def substitute_rendered(
    request: base.RenderRequest, rendered: resources.Rendered
) -> resources.Rendered:
    """The post-render transform (a no-op unless ``request.variables`` is set)."""
    variables = request.variables
    if variables is None:
        return rendered
    return resources.Rendered(
        manifests=tuple(_one(m, variables) for m in rendered.manifests),
        input_digest=rendered.input_digest,
        warnings=rendered.warnings,
    )
