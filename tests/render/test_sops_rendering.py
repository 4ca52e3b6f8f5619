"""SOPS in the render pipeline: the directory transform, Kustomize's temp tree, the canary.

Files are encrypted by the real sops; repositories are real git repositories
(tests/render/conftest.py); Kustomize is the real `kubectl kustomize`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
import yaml

from gitward import errors
from gitward.model import resources
from gitward.render import base, caching, kustomize, rendering, sops
from tests.render.conftest import MakeRepo
from tests.render.test_sops import CANARY, GOLDEN, Key, Sops, make_key


@dataclasses.dataclass(frozen=True, slots=True)
class Request(base.RenderRequest):
    """A RenderRequest with the proposed ``decryption`` field (works whether or
    not base.RenderRequest has gained it)."""

    decryption: sops.Decryption | None = None


@pytest.fixture
def tool(tmp_path: Path) -> Sops:
    return Sops(tmp_path / "sops")


@pytest.fixture
def key(tmp_path: Path) -> Key:
    return make_key(tmp_path, "main")


@pytest.fixture
def transform() -> Iterator[None]:
    rendering.add_transform(sops.decrypt_rendered)
    yield
    rendering.remove_transform(sops.decrypt_rendered)


def render(tree: Any, path: str, decryption: sops.Decryption | None) -> resources.Rendered:
    request = Request(tree=tree, path=path, app="web", namespace="web", decryption=decryption)
    return rendering.render(request, render_cache=caching.RenderCache())


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()


SECRET_LIST = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata: {name: listed-a}
    stringData: {key: alpha}
  - apiVersion: v1
    kind: Secret
    metadata: {name: listed-b}
    stringData: {key: beta}
"""
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\ndata: {a: b}\n"


def test_directory_render_decrypts_in_place(
    tool: Sops, key: Key, make_repo: MakeRepo, transform: None
) -> None:
    files = {
        "apps/web/a-config.yaml": CONFIGMAP,
        "apps/web/b-list.yaml": tool.encrypt(
            "list.yaml", SECRET_LIST, [key.recipient], "--encrypted-regex", "^stringData$"
        ),
        "apps/web/c-multi.yaml": tool.encrypt("multi.yaml", golden("multi.yaml"), [key.recipient]),
        "apps/web/d-secret.yaml": tool.encrypt(
            "secret.yaml", golden("secret.yaml"), [key.recipient]
        ),
        "apps/web/e-config.json": tool.encrypt(
            "cm.json",
            json.dumps(yaml.safe_load(CONFIGMAP) | {"metadata": {"name": "j"}}),
            [key.recipient],
        ),
    }
    rendered = render(make_repo(files), "apps/web", key.decryption)
    names = [(m.key.kind, m.key.name, m.source) for m in rendered.manifests]
    assert names == [
        ("ConfigMap", "plain", "apps/web/a-config.yaml#0"),
        ("Secret", "listed-a", "apps/web/b-list.yaml#0"),
        ("Secret", "listed-b", "apps/web/b-list.yaml#0"),
        ("Secret", "first", "apps/web/c-multi.yaml#0"),
        ("ConfigMap", "second", "apps/web/c-multi.yaml#1"),
        ("Secret", "db-credentials", "apps/web/d-secret.yaml#0"),
        ("ConfigMap", "j", "apps/web/e-config.json#0"),
    ]
    bodies = {m.key.name: m.body for m in rendered.manifests}
    assert bodies["listed-b"]["stringData"] == {"key": "beta"}
    assert bodies["db-credentials"] == yaml.safe_load(golden("secret.yaml"))
    assert bodies["second"]["data"] == {"key": "two"}
    for manifest in rendered.manifests:
        assert "sops" not in manifest.body
        assert sops.ENCRYPTED_MARKER not in orjson.dumps(manifest.body)


def test_directory_render_without_keys_fails_and_caches_nothing(
    tool: Sops, key: Key, make_repo: MakeRepo, transform: None
) -> None:
    tree = make_repo(
        {"app/secret.yaml": tool.encrypt("secret.yaml", golden("secret.yaml"), [key.recipient])}
    )
    request = Request(tree=tree, path="app", app="web", namespace="web")
    cache = caching.RenderCache()
    with pytest.raises(errors.DecryptionError, match=r"app/secret\.yaml.*no decryption keys"):
        rendering.render(request, render_cache=cache)
    assert cache.stats().entries == 0
    with_keys = dataclasses.replace(request, decryption=key.decryption)
    assert rendering.render(with_keys, render_cache=cache).manifests[0].key.name == (
        "db-credentials"
    )


def test_plain_manifest_quoting_sealed_text_is_left_alone(make_repo: MakeRepo) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "docs"},
        "data": {"example": "ENC[AES256_GCM,data:Zg==,iv:AA==,tag:AA==,type:str]"},
    }
    tree = make_repo({"app/cm.yaml": yaml.safe_dump(body)})
    rendered = resources.Rendered(manifests=(resources.Manifest.from_body(body, "app/cm.yaml#0"),))
    request = Request(tree=tree, path="app", app="web", namespace="web")
    assert sops.decrypt_rendered(request, rendered) == rendered


@pytest.mark.parametrize("source", ["kustomize:apps/web", "helm:templates/secret.yaml"])
def test_encrypted_documents_out_of_a_tool_are_refused(
    tool: Sops, key: Key, make_repo: MakeRepo, source: str
) -> None:
    body = yaml.safe_load(tool.encrypt("secret.yaml", golden("secret.yaml"), [key.recipient]))
    rendered = resources.Rendered(manifests=(resources.Manifest.from_body(body, source),))
    request = Request(
        tree=make_repo({"x.txt": "x"}),
        path="",
        app="web",
        namespace="web",
        decryption=key.decryption,
    )
    with pytest.raises(errors.DecryptionError, match="reached the render output undecrypted"):
        sops.decrypt_rendered(request, rendered)


# --- Kustomize: decrypt_tree in the temporary directory ---------------------------------

KUSTOMIZATION = """\
resources: [secret.yaml]
secretGenerator:
  - name: from-env
    envs: [app.env]
  - name: from-file
    files: [config.json]
generatorOptions: {disableNameSuffixHash: true}
"""


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(kustomize.kubectl()), "kustomize", str(directory)],
        capture_output=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory)},
    )
    return list(yaml.safe_load_all(result.stdout))


def test_decrypt_tree_before_kustomize(tool: Sops, key: Key, make_repo: MakeRepo) -> None:
    files = {
        "web/kustomization.yaml": KUSTOMIZATION,
        "web/secret.yaml": tool.encrypt("secret.yaml", golden("secret.yaml"), [key.recipient]),
        "web/app.env": tool.encrypt("app.env", golden("app.env"), [key.recipient]),
        "web/config.json": tool.encrypt("config.json", golden("config.json"), [key.recipient]),
    }
    tree = make_repo(files)
    paths = list(files)
    with tempfile.TemporaryDirectory(prefix="gitward-test-") as temp:
        repo = Path(temp) / "repo"
        repo.mkdir()
        tree.materialize(paths, repo)
        done = sops.decrypt_tree(repo, paths, key.decryption, base.Limits())
        assert sorted(done) == ["web/app.env", "web/config.json", "web/secret.yaml"]
        for path in done:
            assert stat.S_IMODE((repo / path).stat().st_mode) == 0o600
        objects = {o["metadata"]["name"]: o for o in _kustomize(repo / "web")}
    # The repository itself is untouched: still encrypted.
    assert (tree.root / "web/secret.yaml").read_bytes() == files["web/secret.yaml"]
    assert objects["db-credentials"]["stringData"]["password"] == "correct-horse-battery-staple"
    env = {k: base64.b64decode(v).decode() for k, v in objects["from-env"]["data"].items()}
    assert env == {
        "DB_PASSWORD": "s3cr=et",
        "API_TOKEN": "abc123",
        "MULTI": "one\\ntwo",  # kustomize keeps the escape, as after `sops -d`
        "EMPTY": "",
    }
    config = json.loads(base64.b64decode(objects["from-file"]["data"]["config.json"]))
    assert config["database"]["password"] == "hunter2"


def test_decrypt_tree_without_keys_names_the_file(
    tool: Sops, key: Key, make_repo: MakeRepo, tmp_path: Path
) -> None:
    files = {"web/app.env": tool.encrypt("app.env", golden("app.env"), [key.recipient])}
    tree = make_repo(files)
    out = tmp_path / "out"
    out.mkdir()
    tree.materialize(list(files), out)
    with pytest.raises(errors.DecryptionError, match=r"web/app\.env"):
        sops.decrypt_tree(out, ["web"], None, base.Limits())
    assert (out / "web/app.env").read_bytes() == files["web/app.env"]


# --- canary through the render pipeline ----------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    else:
        yield str(value)


def test_canary_render_logs_warnings_and_failures(
    tool: Sops,
    key: Key,
    make_repo: MakeRepo,
    transform: None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: canary}\n"
        f"stringData: {{token: {CANARY}}}\n"
    )
    stranger = make_key(tmp_path, "stranger")
    files = {
        "app/canary.yaml": tool.encrypt("canary.yaml", secret, [key.recipient]),
        "app/values.yaml": "just: a document\n",  # not a manifest file
    }
    tree = make_repo(files)
    texts: list[str] = []
    with structlog.testing.capture_logs() as records, caplog.at_level("DEBUG"):
        rendered = render(tree, "app", key.decryption)
        (manifest,) = rendered.manifests
        assert manifest.body["stringData"]["token"] == CANARY
        for decryption in (stranger.decryption, None):
            with pytest.raises(errors.DecryptionError) as caught:
                render(tree, "app", decryption)
            texts += [str(caught.value), repr(caught.value)]
    texts += [*rendered.warnings, rendered.input_digest, manifest.source, str(manifest.key)]
    texts += [repr(record) for record in records] + [r.getMessage() for r in caplog.records]
    assert not [text for text in texts if CANARY in text]
    # Nothing decrypted reached the repository on disk.
    for path in tree.root.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes()
    assert CANARY not in list(_strings(yaml.safe_load(files["app/canary.yaml"])))


# --- the renderers' hooks (active once RenderRequest has its decryption field) -------------

HOOKED = "decryption" in {f.name for f in dataclasses.fields(base.RenderRequest)}
needs_hooks = pytest.mark.skipif(
    not HOOKED, reason="RenderRequest.decryption and the renderer hooks are not integrated yet"
)


@needs_hooks
def test_kustomize_renderer_decrypts_before_the_build(
    tool: Sops, key: Key, make_repo: MakeRepo
) -> None:
    tree = make_repo(
        {
            "web/kustomization.yaml": KUSTOMIZATION.replace(
                "generatorOptions", "namePrefix: p-\ngeneratorOptions"
            ),
            "web/secret.yaml": tool.encrypt("secret.yaml", golden("secret.yaml"), [key.recipient]),
            "web/app.env": tool.encrypt("app.env", golden("app.env"), [key.recipient]),
            "web/config.json": tool.encrypt("config.json", golden("config.json"), [key.recipient]),
        }
    )
    request = base.RenderRequest(  # type: ignore[call-arg]
        tree=tree, path="web", app="web", namespace="web", decryption=key.decryption
    )
    objects = {m.key.name: m.body for m in rendering.render(request, "kustomize").manifests}
    assert objects["p-db-credentials"]["stringData"]["username"] == "admin"
    assert base64.b64decode(objects["p-from-env"]["data"]["API_TOKEN"]) == b"abc123"
    without = dataclasses.replace(request, decryption=None)
    with pytest.raises(errors.DecryptionError):
        rendering.render(without, "kustomize")  # never served from the cache of the keyed render


@needs_hooks
def test_helm_renderer_reads_encrypted_values_files(
    tool: Sops, key: Key, make_repo: MakeRepo
) -> None:
    tree = make_repo(
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
            "chart/values.yaml": "password: default\n",
            "chart/secrets.yaml": tool.encrypt(
                "secrets.yaml", "password: from-sops\n", [key.recipient]
            ),
            "chart/templates/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
            "stringData: {p: {{ .Values.password | quote }}}\n",
        }
    )
    request = base.RenderRequest(  # type: ignore[call-arg]
        tree=tree,
        path="chart",
        app="web",
        namespace="web",
        options={"valueFiles": ["secrets.yaml"]},
        decryption=key.decryption,
    )
    (manifest,) = rendering.render(request, "helm").manifests
    assert manifest.body["stringData"] == {"p": "from-sops"}


@needs_hooks
def test_a_failed_kustomize_build_withholds_output_after_decrypting(
    tool: Sops, key: Key, make_repo: MakeRepo
) -> None:
    # A decrypted resource kustomize rejects (no kind): kustomize quotes the
    # object in its error, so the error must not carry its output.
    tree = make_repo(
        {
            "web/kustomization.yaml": "resources: [secret.yaml]\n",
            "web/secret.yaml": tool.encrypt(
                "secret.yaml",
                "apiVersion: v1\nmetadata: {name: s}\nstringData:\n"
                "  password: correct-horse-battery-staple\n",
                [key.recipient],
            ),
        }
    )
    request = base.RenderRequest(  # type: ignore[call-arg]
        tree=tree, path="web", app="web", namespace="web", decryption=key.decryption
    )
    with pytest.raises(errors.RenderError) as caught:
        rendering.render(request, "kustomize")
    assert "output withheld" in str(caught.value)
    assert "web/secret.yaml" in str(caught.value)
    assert "correct-horse-battery-staple" not in str(caught.value)
