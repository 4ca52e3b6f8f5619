"""Field-level comparison: table-driven cases and hypothesis properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitward.diff import comparing, normalising
from gitward.model import plans

FC = plans.FieldChange


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": 2}, [FC("/a", 1, 2)]),
        ({"a": 1}, {"a": 1.0}, []),
        ({"a": 1}, {"a": True}, [FC("/a", 1, True)]),
        ({"a": "1"}, {"a": 1}, [FC("/a", "1", 1)]),
        ({}, {"b": {"c": 1}}, [FC("/b", None, {"c": 1})]),
        ({"b": {"c": 1}}, {}, [FC("/b", {"c": 1}, None)]),
        ({"z": 1, "a": 1}, {"z": 2, "a": 2}, [FC("/a", 1, 2), FC("/z", 1, 2)]),
        # RFC 6901 escapes in keys.
        (
            {"m": {"a/b": 1, "c~d": 1}},
            {"m": {"a/b": 2, "c~d": 2}},
            [FC("/m/a~1b", 1, 2), FC("/m/c~0d", 1, 2)],
        ),
        # Positional lists.
        ([1, 2], [1, 3], [FC("/1", 2, 3)]),
        ([1, 2], [1, 2, 3], [FC("", [1, 2], [1, 2, 3])]),
        # Named lists: matched by name, path uses the desired (after) index.
        (
            {"c": [{"name": "a", "v": 1}, {"name": "b", "v": 1}]},
            {"c": [{"name": "a", "v": 1}, {"name": "new", "v": 0}, {"name": "b", "v": 2}]},
            [FC("/c/1", None, {"name": "new", "v": 0}), FC("/c/2/v", 1, 2)],
        ),
        # An item only on the live side uses its live index.
        (
            {"c": [{"name": "a"}, {"name": "gone"}, {"name": "b"}]},
            {"c": [{"name": "a"}, {"name": "b"}]},
            [FC("/c/1", {"name": "gone"}, None)],
        ),
        # Reordered named items: order matters, the whole list is one change.
        (
            {"c": [{"name": "a"}, {"name": "b"}]},
            {"c": [{"name": "b"}, {"name": "a"}]},
            [FC("/c", [{"name": "a"}, {"name": "b"}], [{"name": "b"}, {"name": "a"}])],
        ),
        ({"a": {"b": 1}}, {"a": [1]}, [FC("/a", {"b": 1}, [1])]),
    ],
)
def test_diff(before: Any, after: Any, expected: list[plans.FieldChange]) -> None:
    assert comparing.diff(before, after) == expected


@pytest.mark.parametrize(
    ("live", "desired", "expected"),
    [
        # Fields only live has (server defaults, other managers) are not drift.
        ({"a": 1, "defaulted": "x"}, {"a": 1}, []),
        ({"a": 1}, {"a": 2}, [FC("/a", 1, 2)]),
        ({}, {"a": {"b": 1}}, [FC("/a", None, {"b": 1})]),
        # Empty declared values match absent ones (the server omits them).
        ({}, {"annotations": {}, "args": []}, []),
        # Named lists: live items keep their extra defaulted fields.
        (
            {"containers": [{"name": "web", "image": "a", "imagePullPolicy": "Always"}]},
            {"containers": [{"name": "web", "image": "b"}]},
            [FC("/containers/0/image", "a", "b")],
        ),
        (
            {"containers": [{"name": "sidecar"}, {"name": "web", "image": "a"}]},
            {"containers": [{"name": "web", "image": "a"}]},
            [],
        ),
        # Positional lists of maps compare item by item, as subsets.
        ({"ports": [{"port": 80, "protocol": "TCP"}]}, {"ports": [{"port": 80}]}, []),
        ({"args": ["a", "b"]}, {"args": ["a"]}, [FC("/args", ["a", "b"], ["a"])]),
        # Quantities under resource maps compare by value.
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, {"limits": {"cpu": 1, "memory": "1024Mi"}}, []),
        ({"requests": {"cpu": "500m"}}, {"requests": {"cpu": 0.5}}, []),
        (
            {"requests": {"cpu": "500m"}},
            {"requests": {"cpu": "1"}},
            [FC("/requests/cpu", "500m", "1")],
        ),
        # ...but not elsewhere.
        ({"labels": {"cpu": "1"}}, {"labels": {"cpu": 1}}, [FC("/labels/cpu", "1", 1)]),
        ({"a": True}, {"a": 1}, [FC("/a", True, 1)]),
    ],
)
def test_diff_declared(live: Any, desired: Any, expected: list[plans.FieldChange]) -> None:
    assert comparing.diff_declared(live, desired) == expected


_scalars = st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "a", "b", "1"])
_names = st.sampled_from(["a", "b", "c"])
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["name", "x", "y", "a/b", "~"]), inner, max_size=3)
        | st.lists(st.fixed_dictionaries({"name": _names}, optional={"v": inner}), max_size=3)
    ),
    max_leaves=15,
)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _resolve(doc: Any, pointer: str) -> Any:
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        doc = doc[int(token)] if isinstance(doc, list) else doc[token]
    return doc


@settings(max_examples=400, deadline=None)
@given(_json)
def test_diff_with_itself_is_empty(value: Any) -> None:
    assert comparing.diff(value, value) == []
    assert comparing.diff_declared(value, value) == []


@settings(max_examples=600, deadline=None)
@given(_json, _json)
def test_diff_is_empty_iff_equal_after_normalisation(a: Any, b: Any) -> None:
    a_obj = normalising.normalise({"kind": "X", "spec": a})
    b_obj = normalising.normalise({"kind": "X", "spec": b})
    changes = comparing.diff(a_obj, b_obj)
    assert (changes == []) == (_canonical(a_obj) == _canonical(b_obj))
    # Deterministic, and every pointer resolves to its ``after`` value.
    assert comparing.diff(a_obj, b_obj) == changes
    for change in changes:
        if change.after is not None:
            assert _canonical(_resolve(b_obj, change.path)) == _canonical(change.after)


@settings(max_examples=300, deadline=None)
@given(_json, _json)
def test_declared_fields_of_a_merge_never_differ(a: Any, b: Any) -> None:
    # Live = desired plus extra fields → no drift on the structural path.
    if isinstance(a, dict) and isinstance(b, dict):
        live = {**b, **a}
        assert comparing.diff_declared(live, a) == []
