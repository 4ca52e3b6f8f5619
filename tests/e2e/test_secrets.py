"""SOPS end to end: an encrypted Secret in Git is applied decrypted, and its
value appears in no output of gitward (render, diff, sync, logs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyrage
import pytest

from tests.fixtures import Git, Gitward, create_namespace, kget

pytestmark = pytest.mark.slow

CANARY = "canary-7f3a9c1e-do-not-leak"
SOPS = str(Path(sys.executable).parent / "sops")


def encrypt(tmp_path: Path, recipient: str, plaintext: str) -> str:
    source = tmp_path / "secret.yaml"
    source.write_text(plaintext)
    done = subprocess.run(
        [
            SOPS,
            "--encrypt",
            "--age",
            recipient,
            "--encrypted-regex",
            "^(data|stringData)$",
            str(source),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"], "SOPS_DISABLE_VERSION_CHECK": "1", "HOME": str(tmp_path)},
    )
    source.unlink()
    return done.stdout


def test_encrypted_secret_is_applied_and_never_printed(
    gitward: Gitward, git: Git, cluster: Any, tmp_path: Path
) -> None:
    identity = pyrage.x25519.Identity.generate()
    keys = tmp_path / "age.txt"
    keys.write_text(f"# test key\n{identity}\n")
    keys.chmod(0o600)
    secret = encrypt(
        tmp_path,
        str(identity.to_public()),
        (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n"
            f"stringData:\n  password: {CANARY}\n"
        ),
    )
    assert CANARY not in secret
    git.commit(
        "encrypted secret",
        {
            "app/secret.yaml": secret,
            "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"
            "metadata: {name: plain}\ndata: {a: b}\n",
        },
    )
    create_namespace(cluster, "web")
    config = tmp_path / "gitward.yaml"
    config.write_text(
        f"targets:\n  test: {{kubeconfig: {cluster.kubeconfig}}}\n"
        f"decryptionKeys:\n  team: {{ageKeyFile: {keys}}}\n"
    )
    app = tmp_path / "app.yaml"
    app.write_text(
        "apiVersion: gitward.dev/v1\nkind: Application\nmetadata: {name: secrets}\n"
        f"spec:\n  source: {{repoURL: '{git.url}', ref: main, path: app}}\n"
        "  decryption: {keyRef: team}\n"
        "  destination: {target: test, namespace: web}\n"
    )
    outputs = []
    env = {"GITWARD_LOG_LEVEL": "debug"}
    outputs.append(gitward("render", str(app), "-c", str(config), env=env))
    outputs.append(gitward("diff", str(app), "-c", str(config), expect=1, env=env))
    outputs.append(gitward("diff", str(app), "-c", str(config), "-o", "json", expect=1, env=env))
    outputs.append(gitward("sync", str(app), "-c", str(config), "-o", "json", env=env))
    live = kget(cluster, "-n", "web", "secret", "db")
    import base64

    assert base64.b64decode(live["data"]["password"]).decode() == CANARY
    # Change the secret in the cluster: the diff shows the field, masked.
    subprocess.run(
        [
            str(Path(sys.executable).parent / "kubectl"),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "-n",
            "web",
            "patch",
            "secret",
            "db",
            "--type=merge",
            "-p",
            '{"stringData":{"password":"changed-by-hand"}}',
        ],
        check=True,
        capture_output=True,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
    )
    drift = gitward("diff", str(app), "-c", str(config), expect=1, env=env)
    outputs.append(drift)
    assert "/data/password" in drift.stdout
    for done in outputs:
        assert CANARY not in done.stdout and CANARY not in done.stderr
        assert base64.b64encode(CANARY.encode()).decode() not in done.stdout + done.stderr
        assert "changed-by-hand" not in done.stdout
    # A decrypted render is never kept on disk for the next command: no file
    # under the cache directory holds the value.
    cache = tmp_path / "cache" / "gitward"
    assert (cache / "repositories").is_dir()
    assert not list(cache.glob("renders/**/*.json"))
    for path in cache.rglob("*"):
        if path.is_file():
            held = path.read_bytes()
            assert CANARY.encode() not in held
            assert base64.b64encode(CANARY.encode()) not in held

    # Without the key reference the render fails, naming the file, not the value.
    app.write_text(app.read_text().replace("  decryption: {keyRef: team}\n", ""))
    failed = gitward("render", str(app), "-c", str(config), expect=2)
    assert "secret.yaml" in failed.stderr and CANARY not in failed.stderr
