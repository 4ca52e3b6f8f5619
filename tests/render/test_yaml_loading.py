"""render.loading: safe YAML/JSON loading, limits checked before anything can crash."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitward import errors
from gitward.render import base, loading

LIMITS = base.Limits()


def bodies(
    text: str | bytes, source: str = "app/x.yaml", limits: base.Limits = LIMITS
) -> list[Any]:
    return loading.load_documents(text, source, limits)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\n", [{"a": 1}]),
        ("---\na: 1\n---\n---\nb: [1, two]\n", [{"a": 1}, None, {"b": [1, "two"]}]),
        # Kubernetes keeps timestamps as text and converts non-string keys.
        (
            "created: 2024-01-02T03:04:05Z\nday: 2024-01-02\n",
            [{"created": "2024-01-02T03:04:05Z", "day": "2024-01-02"}],
        ),
        ("1: a\ntrue: b\n~: c\n", [{"1": "a", "true": "b", "null": "c"}]),
        ("data: !!binary |\n  aGVs\n  bG8=\n", [{"data": "aGVsbG8="}]),
        ("s: !!set {a, b}\n", [{"s": {"a": None, "b": None}}]),
        # Merge keys: explicit keys win over merged ones.
        (
            "b: &b {x: 1, y: 1}\nd:\n  <<: *b\n  x: 2\n",
            [{"b": {"x": 1, "y": 1}, "d": {"x": 2, "y": 1}}],
        ),
        ("", []),
        ("\ufeffa: 1\n", [{"a": 1}]),
    ],
)
def test_yaml_reads_like_kubernetes(text: str, expected: list[Any]) -> None:
    assert bodies(text) == expected


def test_bom_bytes_and_document_lines() -> None:
    documents = loading.load(b"\xef\xbb\xbfa: 1\n---\nb: 2\n", "x.yaml", LIMITS)
    assert [(d.index, d.line, d.body) for d in documents] == [(0, 1, {"a": 1}), (1, 3, {"b": 2})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", r"app/x\.yaml: document 0, line 3: duplicate key 'a'"),
        ("ok: 1\n---\nx:\n  1: a\n  '1': b\n", r"document 1, line 5: duplicate key '1'"),
        ("a: [1,\nb: c\n", r"app/x\.yaml: document 0, line 3: did not find expected ',' or ']'"),
        ("a: *missing\n", r"document 0, line 1: found undefined alias"),
        ("a: 1\n---\n\tb: 2\n", r"document 1, line 3"),
    ],
)
def test_yaml_errors_name_file_document_and_line(text: str, message: str) -> None:
    with pytest.raises(errors.RenderError, match=message) as caught:
        bodies(text)
    assert not isinstance(caught.value, errors.UnsafeInputError)


def test_not_utf8_is_refused() -> None:
    with pytest.raises(errors.RenderError, match=r"app/x\.yaml: not UTF-8"):
        bodies(b"a: \xff\xfe\n")


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "{" * 100_000,
        "{a: " * 100_000,
        "- " * 100_000 + "x\n",
        "".join(" " * i + "k:\n" for i in range(2_000)),  # block mappings by indentation
        "a:\n" + "".join("  " * i + "- \n" for i in range(1, 500)),
    ],
    ids=["flow-seq", "flow-map-open", "flow-map", "block-seq", "block-map", "block-mixed"],
)
def test_deep_nesting_is_refused_quickly_without_crashing(text: str) -> None:
    # libyaml's composer recurses in C: without the guard, 100,000 levels is a
    # segfault that takes the whole process down (and this test with it).
    start = time.perf_counter()
    with pytest.raises(errors.UnsafeInputError, match="nesting deeper than 100 levels"):
        bodies(text)
    assert time.perf_counter() - start < 2.0


def test_nesting_at_the_limit_loads() -> None:
    assert bodies("[" * 100 + "]" * 100) != []
    with pytest.raises(errors.UnsafeInputError, match="line 1: nesting"):
        bodies("[" * 101 + "]" * 101)


def test_brackets_in_strings_and_block_scalars_are_not_nesting() -> None:
    text = "a: '" + "[" * 500 + "'\nb: |\n  " + "{" * 500 + "\nc: x[[[[\n"
    assert bodies(text) == [{"a": "[" * 500, "b": "{" * 500 + "\n", "c": "x[[[["}]


BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{chr(ord('a') + i + 1)}: &{chr(ord('a') + i + 1)} ["
        + ",".join([f"*{chr(ord('a') + i)}"] * 9)
        + "]"
        for i in range(8)
    ]
)


def test_billion_laughs_is_refused() -> None:
    start = time.perf_counter()
    with pytest.raises(errors.UnsafeInputError, match=r"line \d+: expands to more than 1000000"):
        bodies(BILLION_LAUGHS)
    assert time.perf_counter() - start < 1.0


def test_alias_count_limit() -> None:
    text = "a: &a x\nb: [" + ",".join(["*a"] * 20) + "]\n"
    assert bodies(text, limits=base.Limits(max_aliases=20))[0]["b"] == ["x"] * 20
    with pytest.raises(errors.UnsafeInputError, match="more than 19 alias references"):
        bodies(text, limits=base.Limits(max_aliases=19))


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(errors.UnsafeInputError, match=r"alias \*a refers to a collection"):
        bodies("a: &a [x, *a]\n")


def test_size_and_document_limits() -> None:
    with pytest.raises(errors.UnsafeInputError, match=r"app/x\.yaml: 11 bytes is over the 10-byte"):
        bodies("a: 1234567\n", limits=base.Limits(max_file_bytes=10))
    with pytest.raises(errors.UnsafeInputError, match="more than 2 documents"):
        bodies("a: 1\n---\nb: 1\n---\nc: 1\n", limits=base.Limits(max_documents=2))
    with pytest.raises(errors.UnsafeInputError, match="more than 2 documents"):
        bodies('{"a":1}\n{"b":1}\n{"c":1}', "x.json", base.Limits(max_documents=2))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', [{"a": 1}]),
        ('{"a": 1}\n{"b": [true, null]}\n', [{"a": 1}, {"b": [True, None]}]),
        ("  \n", []),
    ],
)
def test_json(text: str, expected: list[Any]) -> None:
    assert bodies(text, "x.json") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', r"x\.json: document 0, line 1: duplicate key 'a'"),
        ('{"a": 1}\n{"b": }', r"x\.json: document 1, line 2: Expecting value"),
        ("[NaN]", "NaN is not valid JSON"),
    ],
)
def test_json_errors(text: str, message: str) -> None:
    with pytest.raises(errors.RenderError, match=message):
        bodies(text, "x.json")


@pytest.mark.parametrize("text", ["[" * 100_000, "[" * 101 + "]" * 101])
def test_json_depth(text: str) -> None:
    with pytest.raises(errors.UnsafeInputError, match="nesting deeper than 100 levels"):
        bodies(text, "x.json")


def test_as_json_overrides_the_extension() -> None:
    assert loading.load("a: 1\n", "helm:c/templates/x.json", LIMITS, as_json=False)[0].body == {
        "a": 1
    }


# --- properties --------------------------------------------------------------------

# YAML 1.1 line breaks (NEL, LS, PS) and control characters do not survive
# PyYAML's own emitter, which these properties use to write the input.
_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"
    ),
    max_size=20,
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    _text,
)
_json_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_text, children, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_json_values, min_size=1, max_size=3))
def test_yaml_round_trip(documents: list[Any]) -> None:
    text = yaml.safe_dump_all(documents, allow_unicode=True)
    assert bodies(text) == documents


@settings(max_examples=150, deadline=None)
@given(_json_values)
def test_json_round_trip(document: Any) -> None:
    assert bodies(json.dumps(document), "x.json") == [document]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("[]{}:,-&*!|>'\"#\n ab1"), max_size=200))
def test_arbitrary_text_is_data_or_a_render_error(text: str) -> None:
    try:
        result = bodies(text)
    except errors.RenderError:
        return
    assert isinstance(result, list)
    json.dumps(result)  # plain data, nothing a later stage cannot serialise


def _true_depth(text: str) -> int:
    depth = deepest = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            deepest = max(deepest, depth)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
    return deepest


_block_lines = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=12),
        st.sampled_from(
            ["- ", "- - ", "-\t-\t", "a: ", "b:", "- c: ", "? ", ": ", "x", "- [", "]", "{k: ", "}"]
        ),
        st.sampled_from(["", "v", "- w", "|", "\x85", "\u2028", "\r", "\n---\n", "\n...\n"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(_block_lines)
def test_depth_bound_is_an_upper_bound(lines: list[tuple[int, str, str]]) -> None:
    # The fast path skips the exact walk when this bound is within the limit:
    # it must never be below the real depth of a stream libyaml accepts.
    text = "\n".join(" " * indent + head + tail for indent, head, tail in lines) + "\n"
    try:
        depth = _true_depth(text)
    except yaml.YAMLError:
        return
    assert loading._depth_bound(text) >= depth


def test_depth_bound_with_compact_sequences_in_mappings() -> None:
    # Sequences at their key's column: two levels per two columns of indent.
    text = "a:\n- b:\n  - c:\n    - d\n"
    assert _true_depth(text) == 6
    assert loading._depth_bound(text) >= 6
