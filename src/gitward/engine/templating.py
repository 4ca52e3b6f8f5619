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

    def render(self, params: Mapping[str, Any]) -> str:
        if self.template is None:
            return self.text
        try:
            rendered = self.template.render(params)
        except jinja2.UndefinedError as exc:
            raise errors.ConfigError(f"{self.where}: {self.text!r}: {exc.message}") from None
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            raise errors.ConfigError(f"{self.where}: {self.text!r}: {exc}") from None
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
        return _Leaf(value, _parse(value, where) if "{{" in value else None, where)
    return value


def _parse(text: str, where: str) -> jinja2.Template:
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
    return _ENV.from_string(tree)


def _render(shape: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(shape, _Leaf):
        return shape.render(params)
    if isinstance(shape, dict):
        return {key: _render(item, params) for key, item in shape.items()}
    if isinstance(shape, list):
        return [_render(item, params) for item in shape]
    return shape
