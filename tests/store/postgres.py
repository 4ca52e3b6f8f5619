"""A throw-away PostgreSQL 15 server for the store tests and ``bench/store.py``.

Debian's server binaries are used as they are installed; ``initdb`` refuses
to run as root, so as root everything runs as the ``postgres`` OS user, in a
fresh directory outside pytest's (root-private) temporary tree.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str], cwd: Path) -> list[str]:
    # initdb refuses to run as root; the tests usually do.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL server on 127.0.0.1 (trust authentication)."""

    bindir: Path
    root: Path
    port: int = field(default_factory=_free_port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def start(self, *, durable: bool = False) -> None:
        data = self.root / "data"
        sockets = self.root / "sockets"
        sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(sockets, "postgres", "postgres")
        run = {"cwd": self.root, "check": True, "capture_output": True, "timeout": 120}
        subprocess.run(
            _as_postgres(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                self.root,
            ),
            **run,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {sockets}"
        if not durable:
            # Test data is thrown away: skip the fsyncs.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            _as_postgres(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                self.root,
            ),
            **run,
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.root / "data"),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
                self.root,
            ),
            cwd=self.root,
            check=False,
            capture_output=True,
            timeout=60,
        )

    def execute(self, sql: str, database: str = "postgres") -> None:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        ) as conn:
            conn.execute(sql.encode())


@contextlib.contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[PostgresServer]:
    """Start a PostgreSQL server in a fresh directory; stop and delete it after."""
    # Not under pytest's tmp_path: its parents are private to root, and the
    # server runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="gitward-pg-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach the data dir
    server = PostgresServer(bindir=PG_BIN, root=root)
    try:
        server.start(durable=durable)
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
