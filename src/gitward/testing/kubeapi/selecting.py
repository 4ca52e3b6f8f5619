"""Label and field selectors of list, watch and deletecollection requests.

Parses the query-string syntax kube-apiserver accepts (``a=b,c!=d,e in (x,y),
!f``; ``metadata.name=x``) into predicates over stored objects, and tells which
terms of a label selector (``a=b``, ``a in (x,y)``) the store's label index can
answer. Called by the request handlers (:mod:`.handling`) and watches
(:mod:`.watching`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from gitward.testing.kubeapi import catalog, storing, types, validating

Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s!=(),]+)")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip() == "":
                break
            raise validating.bad_request(f"unable to parse requirement: {text!r}")
        out.append(match.group(1))
        pos = match.end()
    return out


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def _absent(key: str) -> Predicate:
    return lambda obj: key not in _labels(obj)


def _present(key: str) -> Predicate:
    return lambda obj: key in _labels(obj)


def _equal(key: str, value: str) -> Predicate:
    return lambda obj: _labels(obj).get(key, None) == value


def _not_equal(key: str, value: str) -> Predicate:
    return lambda obj: _labels(obj).get(key, None) != value


def _among(key: str, values: frozenset[str], inside: bool) -> Predicate:
    # "notin" also matches objects without the label, as in Kubernetes.
    if inside:
        return lambda obj: _labels(obj).get(key, None) in values
    return lambda obj: _labels(obj).get(key, None) not in values


def _field_equal(field: str, value: str, equal: bool) -> Predicate:
    return lambda obj: (_field_value(obj, field) == value) == equal


def label_selector(text: str) -> Predicate | None:
    """Predicate of a labelSelector, or None when it selects everything."""
    return parse_label_selector(text)[0]


def parse_label_selector(text: str) -> tuple[Predicate | None, tuple[storing.LabelTerm, ...]]:
    """Predicate of a labelSelector (None when it selects everything) and its
    equality terms (``a=b``, ``a==b``, ``a in (x,y)``): every object the
    predicate accepts carries, for each term, one of the term's values."""
    if not text.strip():
        return None, ()
    tokens = _tokens(text)
    requirements: list[Predicate] = []
    terms: list[storing.LabelTerm] = []
    i = 0

    def fail(why: str) -> validating.StatusError:
        return validating.bad_request(
            f"unable to parse requirement: {why} in labelSelector {text!r}"
        )

    while i < len(tokens):
        if tokens[i] == "!":
            if i + 1 >= len(tokens):
                raise fail("missing key after '!'")
            key = tokens[i + 1]
            requirements.append(_absent(key))
            i += 2
        else:
            key = tokens[i]
            op = tokens[i + 1] if i + 1 < len(tokens) else ","
            if op == ",":
                requirements.append(_present(key))
                i += 1
            elif op in ("=", "==", "!="):
                if i + 2 >= len(tokens) or tokens[i + 2] == ",":
                    value = ""
                    i += 2
                else:
                    value = tokens[i + 2]
                    i += 3
                if op == "!=":
                    requirements.append(_not_equal(key, value))
                else:
                    requirements.append(_equal(key, value))
                    terms.append((key, frozenset((value,))))
            elif op in ("in", "notin"):
                if i + 2 >= len(tokens) or tokens[i + 2] != "(":
                    raise fail(f"expected '(' after {op}")
                j = i + 3
                values: set[str] = set()
                while j < len(tokens) and tokens[j] != ")":
                    if tokens[j] != ",":
                        values.add(tokens[j])
                    j += 1
                if j >= len(tokens):
                    raise fail("missing ')'")
                requirements.append(_among(key, frozenset(values), op == "in"))
                if op == "in":
                    terms.append((key, frozenset(values)))
                i = j + 1
            else:
                raise fail(f"unexpected {op!r}")
        if i < len(tokens):
            if tokens[i] != ",":
                raise fail(f"expected ',' but found {tokens[i]!r}")
            i += 1
    return (lambda obj: all(req(obj) for req in requirements)), tuple(terms)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def field_selector(text: str, rtype: types.ResourceType) -> Predicate | None:
    """Predicate of a fieldSelector; unsupported fields answer 400 as upstream."""
    if not text.strip():
        return None
    allowed = {"metadata.name", "metadata.namespace"} | catalog.FIELD_SELECTORS.get(
        (rtype.group, rtype.kind), frozenset()
    )
    requirements: list[Predicate] = []
    for term in text.split(","):
        term = term.strip()
        if not term:
            continue
        for op in ("!=", "==", "="):
            field, sep, value = term.partition(op)
            if sep:
                break
        else:
            raise validating.bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field = field.strip()
        if field not in allowed:
            raise validating.bad_request(f"field label not supported: {field}")
        requirements.append(_field_equal(field, value, op != "!="))
    if not requirements:
        return None
    return lambda obj: all(req(obj) for req in requirements)
