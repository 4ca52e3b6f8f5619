"""Host Files in the render: fromFile read from the repository, SOPS content marked secret."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from gitward import errors
from gitward.diff import masking
from gitward.model import plans, resources
from gitward.render import base, caching, rendering, sops
from tests.render.conftest import MakeRepo
from tests.render.test_sops import Key, Sops, make_key


@dataclasses.dataclass(frozen=True, slots=True)
class Request(base.RenderRequest):
    decryption: sops.Decryption | None = None


def _file(name: str, **spec: Any) -> str:
    lines = [
        "apiVersion: host.gitward.dev/v1",
        "kind: File",
        f"metadata: {{name: {name}}}",
        "spec:",
        *(f"  {k}: {v}" for k, v in spec.items()),
    ]
    return "\n".join(lines) + "\n"


def _render(
    tree: Any, path: str = "app", decryption: sops.Decryption | None = None
) -> resources.Rendered:
    request = Request(tree=tree, path=path, app="web", namespace="", decryption=decryption)
    return rendering.render(request, render_cache=caching.RenderCache())


def _spec(rendered: resources.Rendered, name: str) -> dict[str, Any]:
    found = next(m for m in rendered.manifests if m.key.name == name)
    return dict(found.body["spec"])


def test_from_file_becomes_the_content(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {
            "app/host.yaml": _file(
                "nginx", path="/etc/nginx/nginx.conf", fromFile="files/nginx.conf"
            ),
            "app/files/nginx.conf": "worker_processes 2;\n",
        }
    )
    spec = _spec(_render(tree), "nginx")
    assert spec == {"path": "/etc/nginx/nginx.conf", "content": "worker_processes 2;\n"}


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("../outside.conf", "leaves the Application's path 'app'"),
        ("../../etc/passwd", "escapes the repository"),
        ("/etc/passwd", "absolute paths are refused"),
        ("files/missing.conf", "'files/missing.conf' is not a file in the repository"),
    ],
)
def test_from_file_stays_in_the_application(
    make_repo: MakeRepo, reference: str, message: str
) -> None:
    tree = make_repo(
        {
            "app/host.yaml": _file("x", path="/etc/x", fromFile=reference),
            "outside.conf": "not yours\n",
        }
    )
    with pytest.raises(errors.RenderError, match=message):
        _render(tree)


def test_content_and_from_file_together_are_refused(make_repo: MakeRepo) -> None:
    tree = make_repo(
        {"app/host.yaml": _file("x", path="/etc/x", content="a", fromFile="f"), "app/f": "b"}
    )
    with pytest.raises(errors.RenderError, match="both content and fromFile"):
        _render(tree)


def test_sops_content_is_decrypted_and_masked(make_repo: MakeRepo, tmp_path: Path) -> None:
    key: Key = make_key(tmp_path, "k")
    tool = Sops(tmp_path / "sops")
    encrypted_manifest = tool.encrypt(
        "token.yaml",
        _file("token", path="/etc/myapp/token", content="hunter2-manifest"),
        [key.recipient],
        "--encrypted-regex",
        "^content$",
    )
    encrypted_file = tool.encrypt("db.env", "PASSWORD=hunter2-file\n", [key.recipient])
    tree = make_repo(
        {
            "app/token.yaml": encrypted_manifest,
            "app/db.yaml": _file("db", path="/etc/myapp/db.env", fromFile="secrets/db.env"),
            "app/secrets/db.env": encrypted_file,
            "app/plain.yaml": _file("plain", path="/etc/myapp/plain", content="visible"),
        }
    )
    rendered = _render(tree, decryption=key.decryption)
    token, db, plain = (_spec(rendered, n) for n in ("token", "db", "plain"))
    assert (token["content"], token["secret"]) == ("hunter2-manifest", True)
    assert (db["content"], db["secret"]) == ("PASSWORD=hunter2-file\n", True)
    assert "secret" not in plain
    shown = [masking.mask_object(m.body) for m in rendered.manifests]
    assert "hunter2" not in str(shown)
    assert plans.MASK in str(shown) and "visible" in str(shown)


def test_an_encrypted_from_file_without_keys_is_refused(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    key = make_key(tmp_path, "k")
    encrypted = Sops(tmp_path / "sops").encrypt("db.env", "A=b\n", [key.recipient])
    tree = make_repo(
        {"app/db.yaml": _file("db", path="/etc/db", fromFile="db.env"), "app/db.env": encrypted}
    )
    with pytest.raises(errors.DecryptionError, match=r"db\.env"):
        _render(tree)


def test_a_command_from_an_encrypted_manifest_has_its_environment_masked(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    key: Key = make_key(tmp_path, "k")
    command = (
        "apiVersion: host.gitward.dev/v1\nkind: Command\nmetadata: {name: migrate}\n"
        "spec:\n  command: [/usr/local/bin/migrate]\n"
        "  env: {DB_PASSWORD: hunter2-env, LC_ALL: C}\n"
    )
    encrypted = Sops(tmp_path / "sops").encrypt(
        "migrate.yaml", command, [key.recipient], "--encrypted-regex", "^env$"
    )
    plain = command.replace("migrate", "status").replace("hunter2-env", "visible-env")
    tree = make_repo({"app/migrate.yaml": encrypted, "app/status.yaml": plain})
    rendered = _render(tree, decryption=key.decryption)
    migrate, status = _spec(rendered, "migrate"), _spec(rendered, "status")
    assert (migrate["env"]["DB_PASSWORD"], migrate["secret"]) == ("hunter2-env", True)
    assert "secret" not in status
    shown = [masking.mask_object(m.body) for m in rendered.manifests]
    assert "hunter2" not in str(shown)
    masked = next(s for s in shown if s["metadata"]["name"] == "migrate")
    assert masked["spec"]["env"] == {"DB_PASSWORD": plans.MASK, "LC_ALL": plans.MASK}
    assert "visible-env" in str(shown)
    changes = masking.mask_changes(
        next(m.key for m in rendered.manifests if m.key.name == "migrate"),
        [
            plans.FieldChange("/spec/env/DB_PASSWORD", "old-pass", "hunter2-env"),
            plans.FieldChange("/spec/env", None, {"DB_PASSWORD": "hunter2-env"}),
            plans.FieldChange("/spec/command", ["a"], ["b"]),
        ],
        secret=True,
    )
    assert "hunter2" not in str(changes) and "old-pass" not in str(changes)
    assert changes[2].after == ["b"]
