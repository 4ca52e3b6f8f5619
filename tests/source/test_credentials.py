"""Credential references, URL cleaning and redaction, mirror naming."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitward import errors
from gitward.source import base, credentials, mirrors


@pytest.mark.parametrize(
    ("url", "clean", "user", "password", "redacted"),
    [
        ("https://host/org/r.git", "https://host/org/r.git", None, None, "https://host/org/r.git"),
        (
            "https://bob:p%40ss@host:8443/r.git",
            "https://host:8443/r.git",
            "bob",
            "p@ss",
            "https://bob:***@host:8443/r.git",
        ),
        ("https://tok@host/r", "https://host/r", "tok", None, "https://tok@host/r"),
        (
            "ssh://git@host:2222/r.git",
            "ssh://host:2222/r.git",
            "git",
            None,
            "ssh://git@host:2222/r.git",
        ),
        (
            "git@github.com:org/r.git",
            "github.com:org/r.git",
            "git",
            None,
            "git@github.com:org/r.git",
        ),
        ("file:///srv/r.git", "file:///srv/r.git", None, None, "file:///srv/r.git"),
    ],
)
def test_userinfo(
    url: str, clean: str, user: str | None, password: str | None, redacted: str
) -> None:
    assert credentials.strip_userinfo(url) == (clean, user, password)
    assert credentials.redact(url) == redacted


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://Git.Example.com/org/app.git", "https://git.example.com/org/app"),
        ("https://u:secret@git.example.com:443/org/app/", "https://git.example.com/org/app"),
        ("git@git.example.com:org/app.git", "ssh://git.example.com/org/app"),
        ("ssh://git@git.example.com:22/org/app", "ssh://git.example.com/org/app.git"),
    ],
)
def test_same_repository_same_mirror(a: str, b: str) -> None:
    assert mirrors.mirror_name(a) == mirrors.mirror_name(b)


def test_different_repositories_differ() -> None:
    names = {
        mirrors.mirror_name(u)
        for u in (
            "https://git.example.com/org/app",
            "https://git.example.com/org/app2",
            "https://git.example.com:8443/org/app",
            "http://git.example.com/org/app",
            "file:///srv/app",
        )
    }
    assert len(names) == 5
    assert "secret" not in mirrors.normalize_url("https://u:secret@h/r")


def test_secret_ref_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_VAR", "value-1")
    assert credentials.SecretRef(env="TOKEN_VAR").read() == "value-1"
    token = tmp_path / "token"
    token.write_text("value-2\n")
    assert credentials.SecretRef(file=token).read() == "value-2"
    assert "value" not in repr(credentials.SecretRef(file=token))

    with pytest.raises(errors.ConfigError, match="environment variable MISSING_VAR is not set"):
        credentials.SecretRef(env="MISSING_VAR").read()
    with pytest.raises(errors.ConfigError, match=f"cannot read file {tmp_path}/nope"):
        credentials.SecretRef(file=tmp_path / "nope").read()
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(errors.ConfigError, match="is empty"):
        credentials.SecretRef(file=tmp_path / "empty").read()
    with pytest.raises(errors.ConfigError, match="exactly one"):
        credentials.SecretRef()
    with pytest.raises(errors.ConfigError, match="exactly one"):
        credentials.SecretRef(env="A", file=token)


def test_resolved_secrets_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_VAR", "hidden-value")
    creds = credentials.HttpsCredentials(credentials.SecretRef(env="TOKEN_VAR"))
    resolved = credentials.resolve("https://h/r", creds)
    assert resolved.password == "hidden-value"
    assert "hidden-value" not in repr(resolved)
    from_url = credentials.resolve("https://u:url-pass@h/r", None)
    assert (from_url.username, from_url.password) == ("u", "url-pass")
    assert "url-pass" not in repr(from_url)
    with pytest.raises(errors.ConfigError, match="ssh private key file /nonexistent/key not found"):
        credentials.resolve("ssh://h/r", credentials.SshCredentials(Path("/nonexistent/key")))


def test_scrub_and_repo_repr() -> None:
    assert credentials.scrub("x pass123 y pass123", ("pass123",)) == "x *** y ***"
    spec = base.RepoSpec("https://u:pw-999@h/r")
    assert "pw-999" not in repr(spec)
    assert "pw-999" not in str(spec)
    assert spec.display_url == "https://u:***@h/r"
    with pytest.raises(errors.ConfigError):
        base.RepoSpec(" ")
    with pytest.raises(errors.ConfigError, match=r"https://u:\*\*\*@h/r"):
        base.RepoSpec("https://u:pw-999@h/r", timeout=0)
