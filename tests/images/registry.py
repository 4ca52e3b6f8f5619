"""A real OCI registry for tests: Debian's ``docker-registry`` (CNCF Distribution).

:func:`running` starts ``/usr/bin/docker-registry serve`` on 127.0.0.1 with
filesystem storage in a temporary directory and one of three access modes:
open, htpasswd basic auth (hashed with ``htpasswd -B`` from apache2-utils),
or token auth (a small token service in this process signs RS256 JWTs with a
self-signed certificate the registry trusts, as Docker Hub, GHCR and Harbor
do). Tags are pushed through the Distribution API itself: one config blob,
one layer blob and an OCI image manifest PUT under each tag.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

BINARY = "/usr/bin/docker-registry"
SERVICE = "gitward-test-registry"
ISSUER = "gitward-test-issuer"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def available() -> bool:
    return Path(BINARY).is_file()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenService:
    """Issues registry tokens to one user; counts the requests it answered."""

    key: rsa.RSAPrivateKey
    cert_der: bytes
    username: str
    password: str
    port: int = 0
    requests: int = 0
    _server: http.server.ThreadingHTTPServer | None = field(default=None, repr=False)

    def token(self, scope: str) -> str:
        access = []
        if scope:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {
            "iss": ISSUER,
            "sub": self.username,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        signature = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing + "." + _b64url(signature)

    def start(self) -> None:
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                expected = (
                    "Basic "
                    + base64.b64encode(f"{service.username}:{service.password}".encode()).decode()
                )
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                service.requests += 1
                query = dict(
                    part.split("=", 1)
                    for part in self.path.partition("?")[2].split("&")
                    if "=" in part
                )
                body = json.dumps(
                    {"token": service.token(unquote(query.get("scope", ""))), "expires_in": 300}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _self_signed() -> tuple[rsa.RSAPrivateKey, bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitward test token signer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        key,
        cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.DER),
    )


@dataclass
class Registry:
    host: str
    mode: str
    username: str = ""
    password: str = ""
    tokens: TokenService | None = None
    _blobs: dict[str, tuple[str, int, str, int]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def _auth(self, scope: str) -> dict[str, str]:
        if self.mode == "basic":
            pair = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        if self.mode == "token":
            assert self.tokens is not None
            return {"Authorization": f"Bearer {self.tokens.token(scope)}"}
        return {}

    def _upload(self, client: httpx.Client, repository: str, data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = client.post(f"/v2/{repository}/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = started.headers["location"]
        # The location carries the upload state in its query: add to it, never replace it.
        separator = "&" if "?" in location else "?"
        done = client.put(
            f"{location}{separator}digest={digest}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        return digest, len(data)

    def push(self, repository: str, *tags: str) -> None:
        """Push a tiny image under each of ``tags``."""
        scope = f"repository:{repository}:pull,push"
        with httpx.Client(base_url=self.url, headers=self._auth(scope), timeout=30) as client:
            if repository not in self._blobs:
                config = json.dumps(
                    {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}
                ).encode()
                layer = f"layer of {repository}".encode()
                self._blobs[repository] = (
                    *self._upload(client, repository, config),
                    *self._upload(client, repository, layer),
                )
            config_digest, config_size, layer_digest, layer_size = self._blobs[repository]
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": config_digest,
                        "size": config_size,
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": layer_digest,
                            "size": layer_size,
                        }
                    ],
                }
            ).encode()
            for tag in tags:
                put = client.put(
                    f"/v2/{repository}/manifests/{tag}",
                    content=manifest,
                    headers={"Content-Type": OCI_MANIFEST},
                )
                assert put.status_code == 201, put.text


@contextmanager
def running(tmp: Path, mode: str = "open") -> Iterator[Registry]:
    """A registry on 127.0.0.1 in ``mode``: open, basic or token."""
    root = tmp / f"registry-{mode}"
    root.mkdir(parents=True)
    port = free_port()
    registry = Registry(host=f"127.0.0.1:{port}", mode=mode)
    auth = ""
    if mode == "basic":
        registry.username, registry.password = "ci-bot", "s3cret-registry-password"
        htpasswd = shutil.which("htpasswd")
        assert htpasswd, "htpasswd (apache2-utils) is needed for basic auth tests"
        hashed = subprocess.run(
            [htpasswd, "-nbB", registry.username, registry.password],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        (root / "htpasswd").write_text(hashed + "\n")
        auth = f"auth:\n  htpasswd:\n    realm: gitward-test\n    path: {root / 'htpasswd'}\n"
    elif mode == "token":
        registry.username, registry.password = "ci-bot", "s3cret-token-password"
        key, pem, der = _self_signed()
        (root / "signer.pem").write_bytes(pem)
        registry.tokens = TokenService(key, der, registry.username, registry.password)
        registry.tokens.start()
        auth = (
            "auth:\n  token:\n"
            f"    realm: http://127.0.0.1:{registry.tokens.port}/token\n"
            f"    service: {SERVICE}\n    issuer: {ISSUER}\n"
            f"    rootcertbundle: {root / 'signer.pem'}\n"
        )
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: gitward-test-secret\n" + auth
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, (root / "registry.log").read_text()
            try:
                httpx.get(f"{registry.url}/v2/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "registry did not start:\n" + (root / "registry.log").read_text()
                    ) from None
                time.sleep(0.05)
        yield registry
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()
        if registry.tokens is not None:
            registry.tokens.stop()
