"""The host target's kinds read from rendered objects: every wrong field named."""

from __future__ import annotations

from typing import Any

import pytest

from gitward import errors
from gitward.model import resources
from gitward.targets.host import objects

ROOTS = ("/etc/myapp", "/srv/www")


def _parse(kind: str, spec: Any, **meta: Any) -> objects.Spec:
    body = {
        "apiVersion": "host.gitward.dev/v1",
        "kind": kind,
        "metadata": {"name": "x", **meta},
        "spec": spec,
    }
    return objects.parse(resources.Manifest.from_body(body, source="host.yaml#0"), ROOTS)


def test_a_file_is_read_with_its_defaults() -> None:
    spec = _parse("File", {"path": "/etc/myapp//a/./b.conf", "content": "x"})
    assert spec == objects.FileSpec(path="/etc/myapp/a/b.conf", content="x")


@pytest.mark.parametrize(
    ("value", "mode"), [("0644", 0o644), ("640", 0o640), (0o600, 0o600), ("0o755", 0o755)]
)
def test_modes_are_octal(value: Any, mode: int) -> None:
    spec = _parse("File", {"path": "/etc/myapp/a", "mode": value})
    assert isinstance(spec, objects.FileSpec) and spec.mode == mode


@pytest.mark.parametrize(
    ("kind", "spec", "message"),
    [
        ("File", {"path": "/etc/myapp/a", "mode": "rw-r--r--"}, "is not an octal mode"),
        ("File", {"path": "/etc/myapp/a", "mode": True}, "spec.mode must be octal"),
        ("File", {"path": "/etc/myapp/a", "size": 3}, r"unknown field\(s\) spec.size"),
        ("File", {"path": "/etc/myapp/a", "content": 3}, "spec.content must be text"),
        ("File", {"path": "/etc/myapp"}, "is a root, not a file in one"),
        ("File", {"content": "x"}, "spec.path is required"),
        ("File", {"path": "/etc/myapp/a", "onChange": "reload"}, "list of Command names"),
        ("Symlink", {"path": "/srv/www/l"}, "spec.target is required"),
        ("Symlink", {"path": "/srv/www/l", "target": "/etc/passwd"}, "outside the target's roots"),
        ("Command", {"command": "reload nginx"}, "non-empty list of strings"),
        ("Command", {"command": ["true"], "timeout": "soon"}, "is not a duration"),
        ("Command", {"command": ["true"], "timeout": 7200}, "at most 3600s"),
        ("Command", {"command": ["true"], "workingDir": "tmp"}, "is not absolute"),
        ("Service", {"path": "/etc/myapp/a"}, "kind 'Service' is not served"),
        ("File", "text", "spec is missing or not a mapping"),
    ],
)
def test_wrong_fields_are_named(kind: str, spec: Any, message: str) -> None:
    with pytest.raises(errors.ApplyError, match=message) as caught:
        _parse(kind, spec)
    assert str(caught.value).startswith(f"{kind}.host.gitward.dev x (host.yaml#0)")


def test_a_relative_symlink_target_is_resolved_from_its_directory() -> None:
    spec = _parse("Symlink", {"path": "/srv/www/current", "target": "../www/releases/3"})
    assert isinstance(spec, objects.SymlinkSpec)
    assert spec.resolved == "/srv/www/releases/3"


def test_durations_and_numbers_are_timeouts() -> None:
    spec = _parse("Command", {"command": ["true"], "timeout": "2m"})
    assert isinstance(spec, objects.CommandSpec) and spec.timeout == 120.0


def test_another_api_version_is_not_a_host_object() -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "spec": {}}
    with pytest.raises(errors.ApplyError, match="not served by a host target"):
        objects.parse(resources.Manifest.from_body(body), ROOTS)
