"""Editing one value in a YAML file without touching anything else.

A ruamel.yaml round-trip load gives every key and value its line and column;
the edit then replaces exactly the characters of that one scalar (or inserts
one ``key: value``, or removes one), so comments, quotes, key order, blank
lines, indentation and line endings stay byte for byte as people wrote them.
(Dumping the round-tripped document instead would re-indent sequences and
re-wrap long lines elsewhere in the file: a one-line image bump must be a
one-line diff.) The quoting style of the old value is kept; a new plain value
that YAML would read as a number or boolean (``1.10``, ``yes``) is
double-quoted, since ``tag: 1.10`` is the float 1.1 to Helm.

After editing, the file is parsed again and must hold exactly the old data
with the asked changes applied; otherwise :class:`RewriteError` is raised and
nothing is written. Called by ``engine.imaging`` and ``engine.promoting``
through the changes ``gitward.images.locating`` computes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from gitward import errors

Path_ = tuple[str | int, ...]
_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./@:+-]*")
_MAX_BYTES = 4 * 1024 * 1024


class RewriteError(errors.InputError):
    """A file cannot be edited as asked (unreadable YAML, an unsupported scalar style)."""

    reason = "RewriteFailed"


@dataclass(frozen=True, slots=True)
class Change:
    """Set (or, with ``value`` None, remove) ``key`` of the mapping at ``path``.

    ``path`` leads from the root of document ``document`` to the mapping. A key
    that does not exist yet is inserted right after the key ``after``.
    """

    document: int
    path: Path_
    key: str
    value: str | None
    after: str = ""


def load(text: str, where: str) -> list[Any]:
    """The documents of ``text`` with positions (ruamel round-trip)."""
    if len(text) > _MAX_BYTES:
        raise RewriteError(f"{where}: larger than {_MAX_BYTES} bytes")
    try:
        return list(_yaml().load_all(StringIO(text)))
    except YAMLError as exc:
        raise RewriteError(f"{where}: not valid YAML: {_first_line(exc)}") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise RewriteError(f"{where}: cannot be read: {_first_line(exc)}") from None


def _yaml() -> YAML:
    loader = YAML(typ="rt")
    loader.allow_duplicate_keys = False
    return loader


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def apply(text: str, changes: Sequence[Change], *, where: str) -> str:
    """``text`` with ``changes`` made; :class:`RewriteError` if any cannot be made exactly."""
    if not changes:
        return text
    documents = load(text, where)
    starts = _line_starts(text)
    spans: list[tuple[int, int, int, str]] = []
    for index, change in enumerate(changes):
        start, end, replacement = _span(text, starts, documents, change, where)
        spans.append((start, end, index, replacement))
    # Back to front, so earlier offsets stay valid; of two insertions at one
    # place the later change goes in first, leaving the changes in their order.
    spans.sort(key=lambda span: span[:3], reverse=True)
    previous_start = len(text) + 1
    result = text
    for start, end, _, replacement in spans:
        if end > previous_start:
            raise RewriteError(f"{where}: two changes overlap at offset {start}")
        result = result[:start] + replacement + result[end:]
        previous_start = start
    _verify(documents, changes, result, where)
    return result


def scalar_text(text: str, line: int, column: int, *, flow: bool, where: str) -> str:
    """The value of the scalar written at (``line``, ``column``), as read from the text."""
    starts = _line_starts(text)
    start, end = _scalar_span(text, starts[line] + column, flow, where)
    return _unquote(text[start:end])


# --- locating the characters ---------------------------------------------------------


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for match in re.finditer("\n", text):
        starts.append(match.end())
    return starts


def _container(documents: list[Any], change: Change, where: str) -> CommentedMap:
    if change.document >= len(documents):
        raise RewriteError(f"{where}: no document #{change.document}")
    node: Any = documents[change.document]
    for step in change.path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            raise RewriteError(f"{where}: {_pointer(change)} does not exist") from None
    if not isinstance(node, CommentedMap):
        raise RewriteError(f"{where}: {_pointer(change)} is not a mapping")
    return node


def _pointer(change: Change) -> str:
    return "/" + "/".join(str(p) for p in (*change.path, change.key))


def _span(
    text: str, starts: list[int], documents: list[Any], change: Change, where: str
) -> tuple[int, int, str]:
    container = _container(documents, change, where)
    flow = bool(container.fa.flow_style())
    if change.key in container:
        value = container[change.key]
        if isinstance(value, CommentedMap | CommentedSeq):
            raise RewriteError(f"{where}: {_pointer(change)} is not a single value")
        key_line, key_column = container.lc.key(change.key)
        line, column = container.lc.value(change.key)
        start, end = _scalar_span(text, starts[line] + column, flow, where)
        if change.value is not None:
            quote = text[start] if text[start] in "\"'" else ""
            return start, end, _format(change.value, quote)
        return _removal(text, starts, key_line, key_column, start, end, flow, where)
    if change.value is None:
        raise RewriteError(f"{where}: {_pointer(change)} to remove does not exist")
    if not change.after or change.after not in container:
        raise RewriteError(
            f"{where}: cannot place new key {_pointer(change)}: no key {change.after!r} beside it"
        )
    anchor_line, anchor_column = container.lc.value(change.after)
    key_line, key_column = container.lc.key(change.after)
    _, anchor_end = _scalar_span(text, starts[anchor_line] + anchor_column, flow, where)
    entry = f"{change.key}: {_format(change.value, '')}"
    if flow:
        return anchor_end, anchor_end, f", {entry}"
    if anchor_line != key_line:
        raise RewriteError(
            f"{where}: cannot place new key {_pointer(change)} after a multi-line value"
        )
    line_end = text.find("\n", anchor_end)
    newline = "\r\n" if line_end > 0 and text[line_end - 1] == "\r" else "\n"
    if line_end < 0:
        return len(text), len(text), f"{newline}{' ' * key_column}{entry}"
    return line_end + 1, line_end + 1, f"{' ' * key_column}{entry}{newline}"


def _removal(
    text: str,
    starts: list[int],
    key_line: int,
    key_column: int,
    value_start: int,
    value_end: int,
    flow: bool,
    where: str,
) -> tuple[int, int, str]:
    key_start = starts[key_line] + key_column
    if flow:
        before = text.rfind(",", 0, key_start)
        opener = max(text.rfind("{", 0, key_start), text.rfind("\n", 0, key_start))
        if before > opener:
            return before, value_end, ""
        after = re.compile(r"\s*,\s*").match(text, value_end)
        return key_start, after.end() if after else value_end, ""
    line_end = text.find("\n", value_end)
    rest = text[value_end : line_end if line_end >= 0 else len(text)]
    if rest.strip() and not rest.strip().startswith("#"):
        raise RewriteError(f"{where}: cannot remove the key on line {key_line + 1}")
    prefix = text[starts[key_line] : key_start]
    if prefix.strip():
        # "- key: value" opening a sequence item: keep the dash (the item's
        # other keys follow on the next lines, deeper than the dash).
        start = key_start
        while start > starts[key_line] and text[start - 1] == " ":
            start -= 1
        return start, line_end if line_end >= 0 else len(text), ""
    return starts[key_line], line_end + 1 if line_end >= 0 else len(text), ""


def _scalar_span(text: str, start: int, flow: bool, where: str) -> tuple[int, int]:
    if start >= len(text):
        raise RewriteError(f"{where}: a value ends the file unexpectedly")
    first = text[start]
    line = text.count("\n", 0, start) + 1
    if first == '"':
        index = start + 1
        while index < len(text):
            if text[index] == "\\":
                index += 2
                continue
            if text[index] == '"':
                return start, index + 1
            if text[index] == "\n":
                break
            index += 1
        raise RewriteError(f"{where}: line {line}: multi-line quoted values are not supported")
    if first == "'":
        index = start + 1
        while index < len(text):
            if text[index] == "'":
                if text[index + 1 : index + 2] == "'":
                    index += 2
                    continue
                return start, index + 1
            if text[index] == "\n":
                break
            index += 1
        raise RewriteError(f"{where}: line {line}: multi-line quoted values are not supported")
    if first in "|>&*!":
        raise RewriteError(
            f"{where}: line {line}: block scalars, anchors, aliases and tags are not supported "
            "for a value gitward edits"
        )
    stop = re.compile(r"[,\]}]|\s#|\r?\n|$") if flow else re.compile(r"\s#|\r?\n|$")
    match = stop.search(text, start)
    end = match.start() if match else len(text)
    while end > start and text[end - 1] in " \t":
        end -= 1
    return start, end


def _format(value: str, quote: str) -> str:
    if quote == "'":
        return "'" + value.replace("'", "''") + "'"
    if quote == '"' or not _plain_ok(value):
        return json.dumps(value, ensure_ascii=False)
    return value


def _plain_ok(value: str) -> bool:
    if not _PLAIN_SAFE.fullmatch(value):
        return False
    # Both YAML 1.1 (Helm, go-yaml) and 1.2 must read it back as this string.
    try:
        return bool(yaml.safe_load(value) == value and _yaml().load(value) == value)
    except (yaml.YAMLError, YAMLError):
        return False


def _unquote(text: str) -> str:
    if text[:1] in "\"'":
        value = yaml.safe_load(text)
        return str(value)
    return text


# --- verifying ------------------------------------------------------------------------


def _plain(node: Any) -> Any:
    return json.loads(json.dumps(node, default=str))


def _verify(before: list[Any], changes: Sequence[Change], after_text: str, where: str) -> None:
    expected = [_plain(doc) for doc in before]
    for change in changes:
        node: Any = expected[change.document]
        for step in change.path:
            node = node[step]
        if change.value is None:
            node.pop(change.key, None)
        else:
            node[change.key] = change.value
    try:
        actual = [_plain(doc) for doc in load(after_text, where)]
    except RewriteError as exc:
        raise RewriteError(f"{where}: the edit would break the file ({exc.message})") from None
    if actual != expected:
        raise RewriteError(
            f"{where}: the edit would change more than the asked values; the file is left as is"
        )


def plain_documents(text: str, where: str) -> list[Any]:
    """The documents of ``text`` as plain data (dicts, lists, scalars)."""
    return [copy.deepcopy(_plain(doc)) for doc in load(text, where)]
