"""Safe loading of YAML and JSON read from repositories into plain Python data.

Everything the render stage parses (manifests, kustomizations, values files,
kubectl and Helm output) and the engine's own Application files come through
here. Called by ``render.directory``, ``render.kustomize``, ``render.helm`` and
``engine.documents``.

YAML is parsed with PyYAML's ``CSafeLoader`` (libyaml) behind guards that run
*before* composition, because PyYAML composes nodes recursively in C: ``[``
nested 100,000 deep overflows the C stack and kills the process (a segfault,
not an exception).

1. A cheap scan bounds the nesting depth from above (``[``/``{`` count and
   block indentation, see :func:`_depth_bound`). When that bound is within
   ``Limits.max_depth`` and the text has no anchors, nothing can nest too deep
   or expand, and the text goes straight to step 2. Otherwise libyaml's
   *event* parser, which is iterative and keeps its state on the heap, walks
   the stream and stops at the first document that nests deeper than
   ``Limits.max_depth``, uses more than ``Limits.max_aliases`` aliases, or
   would expand (aliases counted at the size of what they point to: the
   "billion laughs") past ``Limits.max_nodes``. That walk is exact (no false
   refusal for brackets in strings or block scalars) and stops at the
   offending level, so a bomb is refused in about a millisecond.
2. ``CSafeLoader`` builds the data, with Kubernetes' reading rules: duplicate
   keys are an error (as kubectl's strict decoding reports them), timestamps
   stay strings, ``!!binary`` stays base64 text, non-string keys become
   strings (as sigs.k8s.io/yaml converts them).

JSON uses the standard library decoder (a JSON stream of several values is
accepted, like kubectl's YAML-or-JSON decoder), with the same duplicate-key,
depth and size rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml

from gitward import errors
from gitward.render import base

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, slots=True)
class Document:
    """One document of a YAML or JSON stream."""

    index: int  # 0-based position in the file, empty documents included
    line: int  # 1-based line where the document's content starts
    body: Any  # plain dicts, lists, str, int, float, bool or None


# --- the loader ------------------------------------------------------------------


def _string_key(key: Any) -> Any:
    # sigs.k8s.io/yaml turns non-string keys into their YAML spelling; so
    # `1: a` and `true: b` become "1" and "true", never int or bool keys.
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return str(key)
    return key


class _Loader(yaml.CSafeLoader):
    """CSafeLoader with Kubernetes' reading rules (see the module docstring)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, but found {type(node).__name__}", node.start_mark
            )
        if not any(key_node.tag == _MERGE_TAG for key_node, _ in node.value):
            return self._pairs(node, deep, unique=True)
        # Merge keys (<<) are resolved the YAML 1.1 way, as Kubernetes does:
        # keys written in the mapping win over merged ones, so duplicates are
        # checked among the written keys only, before merging.
        written = yaml.MappingNode(
            node.tag, [pair for pair in node.value if pair[0].tag != _MERGE_TAG], node.start_mark
        )
        self._pairs(written, True, unique=True, values=False)
        self.flatten_mapping(node)
        return self._pairs(node, deep, unique=False)

    def _pairs(
        self, node: yaml.MappingNode, deep: bool, *, unique: bool, values: bool = True
    ) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _string_key(self.construct_object(key_node, deep=True))
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                )
            if unique and key in mapping:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            mapping[key] = self.construct_object(value_node, deep=deep) if values else None
        return mapping

    def construct_yaml_timestamp_text(self, node: yaml.Node) -> str:
        return str(self.construct_scalar(node))  # type: ignore[arg-type]

    def construct_yaml_binary_text(self, node: yaml.Node) -> str:
        return "".join(str(self.construct_scalar(node)).split())  # type: ignore[arg-type]

    def construct_yaml_set_map(self, node: yaml.Node) -> Any:
        data: dict[Any, Any] = {}
        yield data
        data.update(self.construct_mapping(node))


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor(_TIMESTAMP_TAG, _Loader.construct_yaml_timestamp_text)
_Loader.add_constructor("tag:yaml.org,2002:binary", _Loader.construct_yaml_binary_text)
_Loader.add_constructor("tag:yaml.org,2002:set", _Loader.construct_yaml_set_map)


# --- guards ----------------------------------------------------------------------


def _decode(data: bytes | str, source: str, limits: base.Limits) -> str:
    size = len(data.encode() if isinstance(data, str) else data)
    if size > limits.max_file_bytes:
        raise errors.UnsafeInputError(
            f"{source}: {size} bytes is over the {limits.max_file_bytes}-byte file limit"
        )
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.RenderError(
            f"{source}: not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None


def _where(source: str, index: int, mark: Any) -> str:
    line = f", line {mark.line + 1}" if mark is not None else ""
    return f"{source}: document {index}{line}"


# YAML 1.1 line breaks, all made "\n" so that the scan's regexes see every line.
_BREAKS = str.maketrans({"\r": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n"})
# Indentation plus the indicators that open block collections on a line
# (`- - ? key`): tabs may separate indicators, so they count too.
_LEADING = re.compile(r"^[ \t?:-]*", re.MULTILINE)
# A `---` or `...` line at column 0 ends a document, even inside a block scalar.
_DOCUMENT_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t]|$)", re.MULTILINE)


def _depth_bound(text: str) -> int:
    """A cheap upper bound on the nesting depth of any node in ``text``.

    Flow collections each need a ``[`` or ``{`` in their document. Block
    collections nest at strictly growing indentation, except a sequence that
    is a mapping value, which may sit at its key's column; so the block
    ancestors of a node begun on earlier lines number at most twice its line's
    indentation plus one, and those begun on its line at most the indicators
    leading it (plus one implicit-key mapping). Both are within the line's
    leading run of spaces, tabs and ``-?:``.
    """
    text = text.translate(_BREAKS)
    block = 2 * max(map(len, _LEADING.findall(text)), default=0) + 3
    flow = max(
        (part.count("[") + part.count("{") for part in _DOCUMENT_MARKER.split(text)), default=0
    )
    return block + flow


def _check_events(text: str, source: str, limits: base.Limits) -> None:
    """Walk libyaml's events and stop at the first limit exceeded."""
    index = -1
    depth = aliases = nodes = 0
    sizes: dict[str, int] = {}  # anchor -> expanded node count of what it names
    stack: list[tuple[str | None, int]] = []  # open collections: (anchor, nodes before)
    # Typed Any: PyYAML's stubs do not describe the event classes' attributes.
    parse: Any = yaml.parse(text, Loader=yaml.CSafeLoader)
    try:
        for event in parse:
            kind = type(event)
            if kind is yaml.ScalarEvent:
                nodes += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                depth += 1
                nodes += 1
                if depth > limits.max_depth:
                    raise errors.UnsafeInputError(
                        f"{_where(source, index, event.start_mark)}: nesting deeper than"
                        f" {limits.max_depth} levels"
                    )
                stack.append((event.anchor, nodes))
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                depth -= 1
                anchor, before = stack.pop()
                if anchor is not None:
                    sizes[anchor] = nodes - before + 1
            elif kind is yaml.AliasEvent:
                aliases += 1
                if aliases > limits.max_aliases:
                    raise errors.UnsafeInputError(
                        f"{_where(source, index, event.start_mark)}: more than"
                        f" {limits.max_aliases} alias references"
                    )
                size = sizes.get(event.anchor)
                if size is None:
                    if any(anchor == event.anchor for anchor, _ in stack):
                        raise errors.UnsafeInputError(
                            f"{_where(source, index, event.start_mark)}: alias"
                            f" *{event.anchor} refers to a collection that contains it"
                        )
                    size = 1  # undefined: the loader reports it with its line
                nodes += size
            elif kind is yaml.DocumentStartEvent:
                index += 1
                if index >= limits.max_documents:
                    raise errors.UnsafeInputError(
                        f"{source}: more than {limits.max_documents} documents"
                    )
                depth = aliases = nodes = 0
                sizes.clear()
                stack.clear()
            if nodes > limits.max_nodes:
                raise errors.UnsafeInputError(
                    f"{_where(source, index, event.start_mark)}: expands to more than"
                    f" {limits.max_nodes} nodes (alias expansion)"
                )
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(source, max(index, 0), exc) from None
    except yaml.YAMLError as exc:
        raise errors.RenderError(f"{source}: invalid YAML: {exc}") from None
    finally:
        parse.close()


def _syntax_error(source: str, index: int, exc: yaml.MarkedYAMLError) -> errors.RenderError:
    problem = exc.problem or exc.context or "invalid YAML"
    return errors.RenderError(f"{_where(source, index, exc.problem_mark)}: {problem}")


def _load_yaml(text: str, source: str, limits: base.Limits) -> list[Document]:
    # Most files have no anchors and shallow nesting that a cheap scan proves;
    # only the others pay for the exact event walk (1.6x the load itself).
    if "&" in text or _depth_bound(text) > limits.max_depth:
        _check_events(text, source, limits)
    documents: list[Document] = []
    loader: Any = _Loader(text)
    try:
        while loader.check_node():
            index = len(documents)
            if index >= limits.max_documents:
                raise errors.UnsafeInputError(
                    f"{source}: more than {limits.max_documents} documents"
                )
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else 1
            body = loader.construct_document(node) if node is not None else None
            documents.append(Document(index=index, line=line, body=body))
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(source, len(documents), exc) from None
    except yaml.YAMLError as exc:
        raise errors.RenderError(f"{source}: document {len(documents)}: {exc}") from None
    finally:
        loader.dispose()
    return documents


# --- JSON ------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise _DuplicateKey(key)
        mapping[key] = value
    return mapping


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_JSON = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_refuse_constant)


def _json_depth(body: Any, source: str, index: int, limits: base.Limits) -> None:
    nodes = 0
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if isinstance(value, dict | list):
            if depth > limits.max_depth:
                raise errors.UnsafeInputError(
                    f"{source}: document {index}: nesting deeper than {limits.max_depth} levels"
                )
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    if nodes > limits.max_nodes:
        raise errors.UnsafeInputError(
            f"{source}: document {index}: more than {limits.max_nodes} nodes"
        )


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _load_json(text: str, source: str, limits: base.Limits) -> list[Document]:
    documents: list[Document] = []
    position = 0
    end = len(text)
    while True:
        while position < end and text[position] in " \t\r\n":
            position += 1
        if position >= end:
            return documents
        index = len(documents)
        if index >= limits.max_documents:
            raise errors.UnsafeInputError(f"{source}: more than {limits.max_documents} documents")
        line = _line_of(text, position)
        try:
            body, position = _JSON.raw_decode(text, position)
        except _DuplicateKey as exc:
            raise errors.RenderError(
                f"{source}: document {index}, line {line}: duplicate key {exc.args[0]!r}"
            ) from None
        except RecursionError:
            raise errors.UnsafeInputError(
                f"{source}: document {index}, line {line}: nesting deeper than"
                f" {limits.max_depth} levels"
            ) from None
        except json.JSONDecodeError as exc:
            raise errors.RenderError(
                f"{source}: document {index}, line {exc.lineno}: {exc.msg}"
            ) from None
        except ValueError as exc:
            raise errors.RenderError(f"{source}: document {index}, line {line}: {exc}") from None
        _json_depth(body, source, index, limits)
        documents.append(Document(index=index, line=line, body=body))


# --- public ----------------------------------------------------------------------


def is_json(source: str) -> bool:
    """Whether ``source`` names a JSON file (by its extension)."""
    return source.lower().endswith(".json")


def load(
    data: bytes | str, source: str, limits: base.Limits, *, as_json: bool | None = None
) -> list[Document]:
    """Every document of the YAML (or, for ``*.json`` sources, JSON) stream ``data``.

    ``as_json`` overrides the choice by extension (tool output is YAML
    whatever the template file was called).

    ``source`` names the input in errors (a repository path, ``helm:chart``).
    Raises :class:`errors.UnsafeInputError` when a limit is exceeded and
    :class:`errors.RenderError` for malformed input, naming the source, the
    document index and the line.
    """
    text = _decode(data, source, limits)
    if is_json(source) if as_json is None else as_json:
        return _load_json(text, source, limits)
    return _load_yaml(text, source, limits)


def load_documents(data: bytes | str, source: str, limits: base.Limits) -> list[Any]:
    """The bodies of :func:`load` (``None`` for empty documents)."""
    return [document.body for document in load(data, source, limits)]
