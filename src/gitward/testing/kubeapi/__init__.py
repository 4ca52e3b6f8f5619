"""The Kubernetes API test server: a real HTTP API with kube-apiserver's conventions.

No kube-apiserver can run on gitward's test machines, so this package serves
the API gitward and kubectl rely on (discovery, OpenAPI, CRUD, watch,
server-side apply, CRDs, finalizers, simulated workload status) from memory.
No containers run: workloads only report the status they would have.

Tests start it in their own event loop::

    async with kubeapi.KubeAPIServer() as server:
        server.write_kubeconfig(tmp_path / "kubeconfig")

or, for synchronous code and kubectl subprocesses, on a background thread::

    with kubeapi.running(token="t") as server:
        subprocess.run(["kubectl", "--kubeconfig", str(server.write_kubeconfig(path)), ...])

People run it with ``gitward testing kube-api``. See docs/testing-kube-api.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from gitward import errors
from gitward.testing.kubeapi import (
    auditing,
    auth,
    certificates,
    connections,
    crds,
    handling,
    kubeconfigs,
    serving,
    storing,
    types,
    workloads,
)

__all__ = ["KubeAPIServer", "ResourceType", "ServerStartError", "running"]

ResourceType = types.ResourceType

_SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class ServerStartError(errors.RetryableError):
    """The test server could not listen on the requested address."""

    reason = "ServerStartFailed"


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubeAPIServer:
    """One in-memory Kubernetes API server on an asyncio event loop.

    ``token`` makes every request need ``Authorization: Bearer <token>``
    (identity ``admin``); ``tokens`` maps more tokens to identities, and
    ``authorize`` limits an identity to namespaces
    (``{"user-a": {"namespaces": ["team-a"]}}``); identities not listed there
    may do anything. ``workload_delay`` is how long simulated workloads take
    to become ready, ``progress_deadline`` when a failing Deployment reports
    ProgressDeadlineExceeded. ``write_latency`` holds every write request
    (dry runs too) that many seconds before it is served, the way a distant or
    loaded API server answers. ``history_size`` bounds the per-resource event
    history that watches resume from (older resourceVersions get 410 Gone).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        tls: bool = False,
        workload_delay: float = 0.2,
        progress_deadline: float = 2.0,
        write_latency: float = 0.0,
        tokens: Mapping[str, str] | None = None,
        authorize: Mapping[str, Mapping[str, Any]] | None = None,
        history_size: int = 10_000,
        bookmark_interval: float = 5.0,
        clock: Callable[[], str] = _utc_now,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.tls = tls
        self.workload_delay = workload_delay
        self.write_latency = write_latency
        self.progress_deadline = progress_deadline
        all_tokens = dict(tokens or {})
        if token:
            all_tokens.setdefault(token, "admin")
        self._policy = auth.Policy(all_tokens, authorize)
        self._history_size = history_size
        self._bookmark_interval = bookmark_interval
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._connections: set[connections.Connection] = set()
        self._controllers: workloads.Controllers | None = None
        self._certificate: certificates.ServingCertificate | None = None
        self.store = storing.Store(history_size)
        self.registry = crds.Registry()
        self.api = handling.Api(self.store, self.registry, clock)
        # Every successful write, with the client's user agent (see auditing).
        self.writes = auditing.WriteLog()
        # Requests answered, by verb (see auditing.RequestCounts).
        self.requests = auditing.RequestCounts()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Kubernetes API test server is not started")
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def ca_pem(self) -> bytes | None:
        """The CA certificate clients should trust (TLS mode), PEM-encoded."""
        return None if self._certificate is None else self._certificate.ca_pem

    async def start(self) -> None:
        if self._server is not None:
            return
        self._controllers = workloads.Controllers(
            self.api, workload_delay=self.workload_delay, progress_deadline=self.progress_deadline
        )
        if not self.store.get("", "namespaces", ("", "default")):
            self._create_system_namespaces()
        context = None
        if self.tls:
            self._certificate = certificates.ServingCertificate(self.host)
            context = self._certificate.context
        settings = serving.Settings(
            server_address=f"{self.host}:{self.port}",
            bookmark_interval=self._bookmark_interval,
            policy=self._policy,
            writes=self.writes,
            requests=self.requests,
            write_latency=self.write_latency,
        )
        router = serving.Router(self.api, settings)
        try:
            self._server = await connections.start(
                router, self.host, self.port, context, self._connections
            )
        except OSError as exc:
            raise ServerStartError(
                f"cannot listen on {self.host}:{self.port} for the Kubernetes API test server: "
                f"{exc}"
            ) from exc
        self.port = self._server.sockets[0].getsockname()[1]
        settings.server_address = f"{self.host}:{self.port}"

    def _create_system_namespaces(self) -> None:
        ns_type = self.registry.lookup("", "v1", "namespaces")
        assert ns_type is not None
        opts = handling.WriteOptions("kube-apiserver")
        for name in _SYSTEM_NAMESPACES:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            self.api.create(ns_type, "", body, opts)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if self._controllers is not None:
            self._controllers.close()
            self._controllers = None
        if server is None:
            return
        server.close()
        busy = [task for conn in list(self._connections) if (task := conn.close()) is not None]
        if busy:
            # Open watches end once their connection is gone; let them finish cleanly.
            await asyncio.wait(busy, timeout=5)
        await server.wait_closed()

    async def __aenter__(self) -> KubeAPIServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def kubeconfig(self, *, context: str = "gitward-test", namespace: str = "default") -> str:
        """The kubeconfig text for this server (with the token and CA when set)."""
        return kubeconfigs.render(
            self.url, context=context, namespace=namespace, token=self.token, ca_pem=self.ca_pem
        )

    def write_kubeconfig(
        self, path: Path, *, context: str = "gitward-test", namespace: str = "default"
    ) -> Path:
        return kubeconfigs.write(Path(path), self.kubeconfig(context=context, namespace=namespace))


class _BackgroundServer(KubeAPIServer):
    """A KubeAPIServer whose event loop runs on its own thread (see :func:`running`)."""

    loop: asyncio.AbstractEventLoop

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop (the store is not thread-safe) and return its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result()


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[KubeAPIServer]:
    """Run a :class:`KubeAPIServer` on a background thread for the ``with`` block."""
    server = _BackgroundServer(**kwargs)
    started = threading.Event()
    failure: list[BaseException] = []
    stop_requested: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop_requested
        stop_requested = asyncio.Event()
        server.loop = asyncio.get_running_loop()
        try:
            await server.start()
        except BaseException as exc:
            failure.append(exc)
            started.set()
            return
        started.set()
        await stop_requested.wait()
        await server.stop()

    def thread_main() -> None:
        try:
            import uvloop

            runner: Callable[..., Any] = uvloop.run
        except ImportError:  # pragma: no cover - uvloop is a pinned dependency
            runner = asyncio.run
        runner(main())

    thread = threading.Thread(target=thread_main, name="gitward-kubeapi", daemon=True)
    thread.start()
    started.wait()
    if failure:
        thread.join()
        raise failure[0]
    try:
        yield server
    finally:
        assert stop_requested is not None
        server.loop.call_soon_threadsafe(stop_requested.set)
        thread.join(timeout=10)
