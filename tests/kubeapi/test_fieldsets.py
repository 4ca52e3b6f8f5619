"""FieldsV1 encoding, set algebra and field sets of values (pure, no server)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitward.testing.kubeapi import fieldsets, schemas, types

DEPLOYMENT = types.ResourceType(
    "apps", "v1", "Deployment", "deployments", "deployment", True, subresources=("status", "scale")
)
SERVICE = types.ResourceType("", "v1", "Service", "services", "service", True)
WIDGET = types.ResourceType(
    "example.com",
    "v1",
    "Widget",
    "widgets",
    "widget",
    True,
    crd_schema={
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "tags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "x-kubernetes-list-type": "set",
                    },
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "port"],
                        "items": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                        },
                    },
                    "selector": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "x-kubernetes-map-type": "atomic",
                    },
                    "args": {"type": "array", "items": {"type": "string"}},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    },
)


def _v1(fs: fieldsets.FieldSet) -> dict[str, Any]:
    return fieldsets.to_fields_v1(fs)


def _paths(fs: fieldsets.FieldSet) -> list[str]:
    return [fieldsets.path_string(p) for p in fs.paths()]


VALUE_CASES = [
    pytest.param(
        DEPLOYMENT,
        {
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}
                        ]
                    }
                },
            },
        },
        {
            "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
            "f:spec": {
                "f:replicas": {},
                # LabelSelector is an atomic struct: owned whole.
                "f:selector": {},
                "f:template": {
                    "f:spec": {
                        "f:containers": {
                            'k:{"name":"web"}': {
                                ".": {},
                                "f:image": {},
                                "f:name": {},
                                "f:ports": {
                                    # The protocol key defaults to TCP.
                                    'k:{"containerPort":80,"protocol":"TCP"}': {
                                        ".": {},
                                        "f:containerPort": {},
                                    }
                                },
                            }
                        }
                    }
                },
            },
        },
        id="deployment",
    ),
    pytest.param(
        SERVICE,
        {"spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "UDP"}]}},
        {
            "f:spec": {
                "f:ports": {
                    'k:{"port":80,"protocol":"UDP"}': {".": {}, "f:port": {}, "f:protocol": {}}
                },
                "f:selector": {},
            }
        },
        id="service-atomic-selector",
    ),
    pytest.param(
        WIDGET,
        {
            "spec": {
                "tags": ["a", "b"],
                "ports": [{"name": "http", "port": 80}],
                "selector": {"x": "y"},
                "args": ["--v"],
                "extra": {"deep": {"x": 1}, "list": [1]},
                "empty": {},
            }
        },
        {
            "f:spec": {
                "f:args": {},
                "f:empty": {},
                "f:extra": {"f:deep": {".": {}, "f:x": {}}, "f:list": {}},
                "f:ports": {'k:{"name":"http","port":80}': {".": {}, "f:name": {}, "f:port": {}}},
                "f:selector": {},
                "f:tags": {'v:"a"': {}, 'v:"b"': {}},
            }
        },
        id="crd-list-and-map-types",
    ),
    pytest.param(
        DEPLOYMENT,
        {"metadata": {"finalizers": ["a/b"], "annotations": {}}, "spec": {"paused": None}},
        {
            "f:metadata": {"f:annotations": {}, "f:finalizers": {'v:"a/b"': {}}},
            "f:spec": {"f:paused": {}},
        },
        id="empty-map-null-and-set",
    ),
]


@pytest.mark.parametrize(("rtype", "value", "expected"), VALUE_CASES)
def test_from_value(
    rtype: types.ResourceType, value: dict[str, Any], expected: dict[str, Any]
) -> None:
    fs = fieldsets.from_value(value, schemas.node_for(rtype))
    assert _v1(fs) == expected
    # FieldsV1 round-trips.
    assert fieldsets.from_fields_v1(expected) == fs


def test_keyed_item_without_keys_is_an_error() -> None:
    node = schemas.node_for(DEPLOYMENT)
    bad = {"spec": {"template": {"spec": {"containers": [{"image": "nginx"}]}}}}
    with pytest.raises(fieldsets.FieldSetError, match="omits all key fields"):
        fieldsets.from_value(bad, node)


A = fieldsets.from_paths(("f:a",), ("f:b", "f:c"), ("f:b", "f:d"), ("f:l", 'k:{"name":"x"}'))
B = fieldsets.from_paths(("f:b",), ("f:b", "f:c"), ("f:l", 'k:{"name":"x"}', "f:image"))

ALGEBRA = [
    (
        "union",
        fieldsets.union(A, B),
        [".a", ".b", ".b.c", ".b.d", '.l[name="x"]', '.l[name="x"].image'],
    ),
    ("intersection", fieldsets.intersection(A, B), [".b.c"]),
    ("difference", fieldsets.difference(A, B), [".a", ".b.d", '.l[name="x"]']),
    # .b is a member of B, so everything under it goes too.
    ("recursive_difference", fieldsets.recursive_difference(A, B), [".a", '.l[name="x"]']),
    ("difference-reverse", fieldsets.difference(B, A), [".b", '.l[name="x"].image']),
]


@pytest.mark.parametrize(("name", "result", "expected"), ALGEBRA, ids=[a[0] for a in ALGEBRA])
def test_set_algebra(name: str, result: fieldsets.FieldSet, expected: list[str]) -> None:
    assert _paths(result) == expected


def test_has_and_size() -> None:
    assert A.has(("f:b", "f:c"))
    assert not A.has(("f:b",))
    assert not A.has(("f:l",))
    assert A.size() == 4
    assert fieldsets.empty().empty()
    assert not fieldsets.intersection(A, fieldsets.from_paths(("f:z",)))


PATH_STRINGS = [
    (("f:spec", "f:replicas"), ".spec.replicas"),
    (
        ("f:spec", "f:containers", 'k:{"name":"web"}', "f:image"),
        '.spec.containers[name="web"].image',
    ),
    (
        ("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}'),
        '.ports[containerPort=80,protocol="TCP"]',
    ),
    (("f:metadata", "f:finalizers", 'v:"x"'), '.metadata.finalizers[="x"]'),
    (("f:args", "i:2"), ".args[2]"),
]


@pytest.mark.parametrize(("path", "printed"), PATH_STRINGS)
def test_path_string(path: tuple[str, ...], printed: str) -> None:
    assert fieldsets.path_string(path) == printed


def test_ensure_named_fields_are_members() -> None:
    node = schemas.node_for(DEPLOYMENT)
    fs = fieldsets.from_paths(
        ("f:spec", "f:strategy", "f:type"), ("f:metadata", "f:labels", "f:app")
    )
    ensured = fieldsets.ensure_named_fields_are_members(fs, node)
    # Struct fields become members; the labels map entry was one already, the
    # labels field itself is a struct field of ObjectMeta.
    assert _paths(ensured) == [
        ".metadata",
        ".metadata.labels",
        ".metadata.labels.app",
        ".spec",
        ".spec.strategy",
        ".spec.strategy.type",
    ]


def test_remove_items() -> None:
    node = schemas.node_for(DEPLOYMENT)
    value = {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}
            }
        },
    }
    remove = fieldsets.from_paths(
        ("f:metadata", "f:labels", "f:a"),
        ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"b"}'),
        ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"a"}', "f:image"),
    )
    out = fieldsets.remove_items(value, remove, node)
    assert out == {
        "metadata": {"labels": {"b": "2"}},
        "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}},
    }
    assert value["metadata"]["labels"] == {"a": "1", "b": "2"}  # input untouched


@pytest.mark.parametrize(
    "bad",
    [{"f:a": []}, {"x:a": {}}, []],
)
def test_from_fields_v1_rejects_garbage(bad: Any) -> None:
    with pytest.raises(fieldsets.FieldSetError):
        fieldsets.from_fields_v1(bad)


_ELEMENTS = st.sampled_from(
    ["f:a", "f:b", "f:spec", 'k:{"name":"x"}', 'k:{"name":"y"}', 'v:"s"', "v:1", "i:0"]
)
_PATHS = st.lists(st.lists(_ELEMENTS, min_size=1, max_size=4).map(tuple), max_size=12)


def _members(fs: fieldsets.FieldSet) -> set[tuple[str, ...]]:
    return set(fs.paths())


@settings(max_examples=150, deadline=None)
@given(_PATHS, _PATHS)
def test_algebra_matches_sets_of_paths(
    a_paths: list[tuple[str, ...]], b_paths: list[tuple[str, ...]]
) -> None:
    a, b = fieldsets.from_paths(*a_paths), fieldsets.from_paths(*b_paths)
    sa, sb = set(a_paths), set(b_paths)
    assert _members(a) == sa
    assert fieldsets.from_fields_v1(fieldsets.to_fields_v1(a)) == a
    assert _members(fieldsets.union(a, b)) == sa | sb
    assert _members(fieldsets.intersection(a, b)) == sa & sb
    assert _members(fieldsets.difference(a, b)) == sa - sb
    assert _members(fieldsets.recursive_difference(a, b)) == {
        p for p in sa if not any(p[: len(q)] == q for q in sb)
    }
    assert all(a.has(p) for p in sa)
