"""The template language of ApplicationSets: ``{{ expressions }}`` only.

Strings of a template may hold ``{{target.name}}``, ``{{path.basename | upper}}``
or ``{{region ~ "-" ~ env}}``. They are Jinja2 expressions, evaluated in a
sandboxed environment, and restricted further: no statements (``{% for %}``,
``{% set %}``), no calls, no arithmetic, and only the filters in
``_FILTERS``, so a template's cost is bounded by its length and its output by
``_MAX_OUTPUT``. A name that no parameter set defines is an error naming the
expression, never an empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from gitward import errors

_FILTERS = frozenset(
    {"lower", "upper", "trim", "replace", "default", "truncate", "title", "join", "string"}
)
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Const,
    nodes.Filter,
    nodes.Concat,
)
_MAX_OUTPUT = 4096
_ENV = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    block_start_string="\x00{%",  # no statements: '{%' is plain text
    line_statement_prefix=None,
    comment_start_string="\x00{#",
)


@dataclass(frozen=True, slots=True)
class _Leaf:
    text: str
    template: jinja2.Template | None
    where: str
    # The common case, ``web-{{target.name}}``: literal text and dotted
    # parameter paths, looked up without Jinja (a fleet renders thousands).
    parts: tuple[str | tuple[str, ...], ...] | None = None

    def render(self, params: Mapping[str, Any]) -> str:
        if self.template is None:
            return self.text
        if self.parts is not None:
            return self._lookup(params)
        try:
            rendered = self.template.render(params)
        except jinja2.UndefinedError as exc:
            raise errors.ConfigError(f"{self.where}: {self.text!r}: {exc.message}") from None
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            raise errors.ConfigError(f"{self.where}: {self.text!r}: {exc}") from None
        return self._bounded(rendered)

    def _lookup(self, params: Mapping[str, Any]) -> str:
        out: list[str] = []
        assert self.parts is not None
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value: Any = params
            for depth, name in enumerate(part):
                if not isinstance(value, Mapping) or name not in value:
                    missing = (
                        f"'{name}' is undefined"
                        if depth == 0
                        else f"'{_type_name(value)} object' has no attribute '{name}'"
                    )
                    raise errors.ConfigError(f"{self.where}: {self.text!r}: {missing}")
                value = value[name]
            out.append(_as_text(value))
        return self._bounded("".join(out))

    def _bounded(self, rendered: str) -> str:
        if len(rendered) > _MAX_OUTPUT:
            raise errors.ConfigError(
                f"{self.where}: {self.text!r} renders to more than {_MAX_OUTPUT} characters"
            )
        return rendered


@dataclass(frozen=True, slots=True)
class Compiled:
    """A template tree with every placeholder string compiled once."""

    shape: Any

    def render(self, params: Mapping[str, Any]) -> Any:
        return _render(self.shape, params)


def compile_tree(template: Any, where: str) -> Compiled:
    """Compile every string of ``template``; syntax errors and forbidden
    constructs raise :class:`gitward.errors.ConfigError` naming the field."""
    return Compiled(_compile(template, f"{where} template"))


def _compile(value: Any, where: str) -> Any:
    if isinstance(value, Mapping):
        return {key: _compile(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_compile(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, str):
        if "{{" not in value:
            return _Leaf(value, None, where)
        template, parts = _parse(value, where)
        return _Leaf(value, template, where, parts)
    return value


def _parse(
    text: str, where: str
) -> tuple[jinja2.Template, tuple[str | tuple[str, ...], ...] | None]:
    try:
        tree = _ENV.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise errors.ConfigError(f"{where}: {text!r}: {exc.message}") from None
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            raise errors.ConfigError(
                f"{where}: {text!r}: {type(node).__name__} is not allowed in a template "
                "(only parameters, constants, '~' and the filters "
                f"{', '.join(sorted(_FILTERS))})"
            )
        if isinstance(node, nodes.Filter) and node.name not in _FILTERS:
            raise errors.ConfigError(f"{where}: {text!r}: filter {node.name!r} is not allowed")
        if isinstance(node, nodes.Name) and node.name.startswith("_"):
            raise errors.ConfigError(f"{where}: {text!r}: {node.name!r} is not a parameter")
    return _ENV.from_string(tree), _simple(tree)


def _simple(tree: nodes.Template) -> tuple[str | tuple[str, ...], ...] | None:
    """Literal text and ``a.b.c`` lookups, or None when Jinja must evaluate it."""
    parts: list[str | tuple[str, ...]] = []
    for output in tree.body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append(node.data)
                continue
            path: list[str] = []
            while isinstance(node, nodes.Getattr):
                path.append(node.attr)
                node = node.node
            if not isinstance(node, nodes.Name):
                return None
            path.append(node.name)
            parts.append(tuple(reversed(path)))
    return tuple(parts)


def _as_text(value: Any) -> str:
    # As Jinja prints values: None -> 'None', booleans -> 'True'/'False'.
    return value if isinstance(value, str) else str(value)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _render(shape: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(shape, _Leaf):
        return shape.render(params)
    if isinstance(shape, dict):
        return {key: _render(item, params) for key, item in shape.items()}
    if isinstance(shape, list):
        return [_render(item, params) for item in shape]
    return shape
