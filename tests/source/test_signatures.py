"""Commit signature verification with the git CLI: GPG and SSH, good,
unsigned and signed by a key that is not allowed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitward import errors
from gitward.source import base, signatures

from .gitservers import Upstream


def _gpg_key(home: Path, uid: str) -> str:
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
        env=env,
        check=True,
        capture_output=True,
    )
    return subprocess.run(
        ["gpg", "--armor", "--export", uid], env=env, check=True, capture_output=True, text=True
    ).stdout


def _ssh_key(path: Path, comment: str) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True
    )
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("signing")
    alice_home, mallory_home = root / "alice-gnupg", root / "mallory-gnupg"
    alice_key = _gpg_key(alice_home, "Alice <alice@example.com>")
    _gpg_key(mallory_home, "Mallory <mallory@example.com>")
    bob_pub = _ssh_key(root / "bob", "bob")
    eve_pub = _ssh_key(root / "eve", "eve")
    upstream = Upstream(root, "repo")
    shas = {
        "gpg-alice": upstream.commit(
            {"a": "1"},
            sign=["-c", "user.signingkey=alice@example.com"],
            env={"GNUPGHOME": str(alice_home)},
        ),
        "gpg-mallory": upstream.commit(
            {"a": "2"},
            sign=["-c", "user.signingkey=mallory@example.com"],
            env={"GNUPGHOME": str(mallory_home)},
        ),
        "ssh-bob": upstream.commit(
            {"a": "3"},
            sign=["-c", "gpg.format=ssh", "-c", f"user.signingkey={root / 'bob'}.pub"],
        ),
        "ssh-eve": upstream.commit(
            {"a": "4"},
            sign=["-c", "gpg.format=ssh", "-c", f"user.signingkey={root / 'eve'}.pub"],
        ),
        "unsigned": upstream.commit({"a": "5"}),
    }
    for home in (alice_home, mallory_home):  # signing started an agent per keyring
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
    policy = signatures.SignaturePolicy(
        gpg_public_keys=(alice_key,),
        ssh_allowed_signers=(f"bob@example.com {bob_pub}",),
    )
    return {"upstream": upstream, "shas": shas, "policy": policy, "eve": eve_pub}


@pytest.fixture
async def repo(signed: dict[str, object], sources: base.Sources) -> base.RepoSpec:
    upstream = signed["upstream"]
    assert isinstance(upstream, Upstream)
    spec = base.RepoSpec(upstream.url)
    await sources.fetch(spec)
    return spec


async def test_good_gpg_and_ssh_signatures(
    signed: dict[str, object], sources: base.Sources, repo: base.RepoSpec
) -> None:
    shas, policy = signed["shas"], signed["policy"]
    assert isinstance(shas, dict)
    assert isinstance(policy, signatures.SignaturePolicy)
    gpg = await sources.verify(repo, shas["gpg-alice"], policy)
    assert gpg.kind is signatures.SignerKind.GPG
    assert gpg.identity == "Alice <alice@example.com>"
    assert len(gpg.fingerprint) == 40
    ssh = await sources.verify(repo, shas["ssh-bob"], policy)
    assert ssh.kind is signatures.SignerKind.SSH
    assert ssh.identity == "bob@example.com"
    assert ssh.fingerprint.startswith("SHA256:")


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("unsigned", "commit {sha} of file://.* is not signed"),
        (
            "gpg-mallory",
            "commit {sha} of file://.* is signed by GPG key [0-9A-F]+, which is not allowed",
        ),
        ("ssh-eve", "commit {sha} of file://.* is signed by an SSH key that is not allowed"),
    ],
)
async def test_refused_signatures(
    signed: dict[str, object],
    sources: base.Sources,
    repo: base.RepoSpec,
    which: str,
    message: str,
) -> None:
    shas, policy = signed["shas"], signed["policy"]
    assert isinstance(shas, dict)
    assert isinstance(policy, signatures.SignaturePolicy)
    with pytest.raises(errors.SignatureError, match=message.format(sha=shas[which])):
        await sources.verify(repo, shas[which], policy)


async def test_ssh_only_policy_refuses_gpg(
    signed: dict[str, object], sources: base.Sources, repo: base.RepoSpec
) -> None:
    shas = signed["shas"]
    assert isinstance(shas, dict)
    only_eve = signatures.SignaturePolicy(ssh_allowed_signers=(f"eve@example.com {signed['eve']}",))
    assert (await sources.verify(repo, shas["ssh-eve"], only_eve)).identity == "eve@example.com"
    with pytest.raises(errors.SignatureError, match="not allowed"):
        await sources.verify(repo, shas["gpg-alice"], only_eve)
    with pytest.raises(errors.SignatureError, match="not allowed"):
        await sources.verify(repo, shas["ssh-bob"], only_eve)


async def test_policy_and_input_validation(sources: base.Sources, repo: base.RepoSpec) -> None:
    with pytest.raises(errors.ConfigError, match="at least one"):
        signatures.SignaturePolicy()
    broken = signatures.SignaturePolicy(gpg_public_keys=("not a key",))
    with pytest.raises(errors.ConfigError, match=r"GPG public key #1 .* cannot be imported"):
        await sources.verify(repo, "a" * 40, broken)
    policy = signatures.SignaturePolicy(ssh_allowed_signers=("x ssh-ed25519 AAAA",))
    with pytest.raises(errors.RevisionNotFound, match="'--help' is not a commit id"):
        await sources.verify(repo, "--help", policy)
