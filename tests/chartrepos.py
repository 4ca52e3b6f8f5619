"""Charts made by the Helm SDK, served by a real HTTP Helm repository on 127.0.0.1.

:func:`package` writes a chart directory and packages it with
``helm_python.package`` (what ``helm package`` does); :class:`HelmRepo` keeps
archives in a directory, indexes it with ``helm_python.repo_index_generate``
(``helm repo index``) and serves it over HTTP with ETags, optional basic
auth, and a log of requests (so tests see the conditional requests).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import io
import ipaddress
import ssl
import tarfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  chart: {{ .Chart.Name }}
  version: {{ .Chart.Version }}
  greeting: {{ .Values.greeting | quote }}
"""


def package(
    work: Path,
    name: str,
    version: str,
    *,
    templates: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    dependencies: list[dict[str, str]] | None = None,
    destination: Path,
) -> Path:
    """A chart archive ``<name>-<version>.tgz`` in ``destination``, made by the Helm SDK."""
    chart = work / f"{name}-{version}-src" / name
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    metadata: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version}
    (chart / "Chart.yaml").write_text(yaml.safe_dump(metadata))
    (chart / "values.yaml").write_text(yaml.safe_dump(dict(values or {"greeting": "hello"})))
    for file_name, text in (templates or {"configmap.yaml": CONFIGMAP}).items():
        (chart / "templates" / file_name).write_text(text)
    destination.mkdir(parents=True, exist_ok=True)
    archive = Path(helm_python.package(chart, destination=destination))
    if dependencies:
        # `helm package` insists on vendored dependencies; an archive that
        # declares them unvendored is made by adding them to its Chart.yaml.
        _rewrite(
            archive,
            f"{name}/Chart.yaml",
            yaml.safe_dump({**metadata, "dependencies": dependencies}),
        )
    return archive


def _rewrite(archive: Path, member_name: str, text: str) -> None:
    members: list[tuple[tarfile.TarInfo, bytes]] = []
    with tarfile.open(archive, "r:gz") as source:
        for member in source.getmembers():
            handle = source.extractfile(member)
            data = (
                text.encode() if member.name == member_name else (handle.read() if handle else b"")
            )
            member.size = len(data)
            members.append((member, data))
    with tarfile.open(archive, "w:gz") as target:
        for member, data in members:
            target.addfile(member, io.BytesIO(data))


def evil_archive(name: str, version: str, entry: str) -> bytes:
    """A chart archive with one extra entry named ``entry`` (``mychart/../../x``)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in (
            (f"{name}/Chart.yaml", f"apiVersion: v2\nname: {name}\nversion: {version}\n"),
            (entry, "planted\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class HelmRepo:
    root: Path
    port: int = 0
    username: str = ""
    password: str = ""
    requests: list[tuple[str, int]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)  # Authorization headers seen
    token: str = ""  # a bearer token required instead of basic auth
    tls: tuple[Path, Path] | None = None  # (certificate, key) PEM files: serve https
    _server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def add(self, archive: Path) -> None:
        (self.root / archive.name).write_bytes(archive.read_bytes())
        self.reindex()

    def add_unchecked(
        self, name: str, version: str, data: bytes, *, url: str = "", store: bool = True
    ) -> None:
        """An archive Helm would not index (a bad one, or one served elsewhere: ``url``),
        listed by hand with its digest."""
        file_name = f"{name}-{version}.tgz"
        if store:
            (self.root / file_name).write_bytes(data)
        index_file = self.root / "index.yaml"
        index = yaml.safe_load(index_file.read_text())
        index.setdefault("entries", {}).setdefault(name, []).append(
            {
                "apiVersion": "v2",
                "name": name,
                "version": version,
                "digest": hashlib.sha256(data).hexdigest(),
                "urls": [url or file_name],
            }
        )
        index_file.write_text(yaml.safe_dump(index))

    def reindex(self) -> None:
        helm_python.repo_index_generate(self.root)

    def tamper_digest(self, name: str, version: str) -> None:
        """Make the index name another digest for ``name`` ``version``."""
        index_file = self.root / "index.yaml"
        index = yaml.safe_load(index_file.read_text())
        for entry in index["entries"][name]:
            if entry["version"] == version:
                entry["digest"] = hashlib.sha256(b"something else").hexdigest()
        index_file.write_text(yaml.safe_dump(index))

    def start(self) -> None:
        repo = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                repo.authorizations.append(self.headers.get("Authorization", ""))
                if repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
                    repo.requests.append((self.path, 401))
                    self.send_response(401)
                    self.end_headers()
                    return
                if repo.username:
                    pair = f"{repo.username}:{repo.password}".encode()
                    expected = "Basic " + base64.b64encode(pair).decode()
                    if self.headers.get("Authorization") != expected:
                        repo.requests.append((self.path, 401))
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                        self.end_headers()
                        return
                path = repo.root / self.path.lstrip("/").split("?")[0]
                if not path.is_file() or not path.resolve().is_relative_to(repo.root.resolve()):
                    repo.requests.append((self.path, 404))
                    self.send_response(404)
                    self.end_headers()
                    return
                data = path.read_bytes()
                etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    repo.requests.append((self.path, 304))
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                repo.requests.append((self.path, 200))
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitward test charts")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def serving(
    root: Path,
    *,
    username: str = "",
    password: str = "",
    token: str = "",
    tls: tuple[Path, Path] | None = None,
) -> Iterator[HelmRepo]:
    root.mkdir(parents=True, exist_ok=True)
    repo = HelmRepo(root, username=username, password=password, token=token, tls=tls)
    repo.reindex()
    repo.start()
    try:
        yield repo
    finally:
        repo.stop()
