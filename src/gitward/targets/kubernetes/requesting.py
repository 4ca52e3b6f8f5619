"""The one gateway through which the Kubernetes target sends raw requests.

Every module of ``targets.kubernetes`` that speaks HTTP (discovery, reading,
pruning, watching) goes through :class:`Api`, so transport failures and server
errors are translated into gitward's errors in one place: connection errors,
timeouts and 5xx answers become :class:`gitward.errors.TargetUnavailable`
naming the server URL; 401 becomes :class:`CredentialsRejected` whoever
asked; any other error status becomes :class:`StatusError`, which callers turn
into the error that names *their* object (an ApplyError for the manifest being
applied, a PruneError for the object being deleted).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2

from gitward import errors


@dataclass(frozen=True, slots=True)
class Status:
    """The parts of a ``meta/v1 Status`` answer gitward reads."""

    code: int
    reason: str
    message: str
    causes: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def of(cls, code: int, body: Any, fallback: str) -> Status:
        if isinstance(body, Mapping) and body.get("kind") == "Status":
            details = body.get("details") or {}
            causes = details.get("causes") or () if isinstance(details, Mapping) else ()
            return cls(
                code=int(body.get("code") or code),
                reason=str(body.get("reason") or ""),
                message=str(body.get("message") or fallback),
                causes=tuple(c for c in causes if isinstance(c, Mapping)),
            )
        return cls(code=code, reason="", message=fallback)


class CredentialsRejected(errors.ConfigError):
    """The API server answered 401: the target's credentials are wrong or expired."""


def rejected(server: str, what: str) -> CredentialsRejected:
    return CredentialsRejected(
        f"Kubernetes API {server} rejected the target's credentials (401 Unauthorized) while {what}"
    )


class StatusError(Exception):
    """The API answered with an error status below 500.

    Internal to ``targets.kubernetes``: it never crosses the Target seam, every
    caller translates it into an error naming the object involved.
    """

    def __init__(self, status: Status) -> None:
        super().__init__(f"{status.code} {status.reason}: {status.message}")
        self.status = status

    @property
    def code(self) -> int:
        return self.status.code


def _unavailable(server: str, what: str, exc: BaseException | str) -> errors.TargetUnavailable:
    detail = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
    return errors.TargetUnavailable(f"Kubernetes API {server} unavailable while {what}: {detail}")


def _decode(response: httpx2.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


class Api:
    """Raw JSON requests over the connection pool lightkube built from a kubeconfig.

    ``server`` is the API server URL as configured; it appears in every
    TargetUnavailable message so an operator knows which cluster failed.
    """

    def __init__(self, http: httpx2.AsyncClient, server: str) -> None:
        self._http = http
        self.server = server
        # httpx2 joins a relative path to the base URL and merges ``params``
        # by parsing and rebuilding the URL several times (~0.15 ms a
        # request, as much as the rest of the request's client work); the
        # absolute URL is built here, the way httpx2 would: the base URL's
        # path, ending in one ``/``, then the path without its leading ``/``.
        self._base = str(http.base_url).rstrip("/") + "/"

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        allow: frozenset[int] = frozenset(),
    ) -> tuple[int, Any, httpx2.Headers]:
        """Send one request; return (status code, decoded JSON body, headers).

        ``what`` describes the call for error messages ("listing Deployment.apps").
        Codes in ``allow`` are returned instead of raised (404 for a lookup).
        """
        headers = {"Accept": accept}
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        url = self._base + path.lstrip("/")
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            response = await self._http.request(method, url, content=content, headers=headers)
        except httpx2.TransportError as exc:
            raise _unavailable(self.server, what, exc) from exc
        decoded = _decode(response)
        code = response.status_code
        if code < 400 or code in allow:
            return code, decoded, response.headers
        fallback = response.text[:300] or response.reason_phrase
        if code == 401:
            raise rejected(self.server, what)
        if code >= 500 or code == 429:
            status = Status.of(code, decoded, fallback)
            raise _unavailable(self.server, what, f"{code} {status.message}")
        raise StatusError(Status.of(code, decoded, fallback))

    @asynccontextmanager
    async def stream(
        self, path: str, *, what: str, params: Mapping[str, str], read_timeout: float
    ) -> AsyncIterator[AsyncIterator[str]]:
        """Open a streaming GET (a watch) and yield its lines.

        ``read_timeout`` bounds the silence between two lines, so a connection
        that died without a FIN is noticed (watches ask the server for
        bookmarks and a server-side timeout shorter than this).
        """
        timeout = httpx2.Timeout(self._http.timeout.connect, read=read_timeout)
        request = self._http.build_request(
            "GET",
            path,
            params=dict(params),
            headers={"Accept": "application/json"},
            timeout=timeout,
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx2.TransportError as exc:
            raise _unavailable(self.server, what, exc) from exc
        try:
            if response.status_code >= 400:
                await response.aread()
                code = response.status_code
                if code == 401:
                    raise rejected(self.server, what)
                status = Status.of(code, _decode(response), response.text[:300])
                if code >= 500 or code == 429:
                    raise _unavailable(self.server, what, f"{code} {status.message}")
                raise StatusError(status)
            yield _lines(response, self.server, what)
        finally:
            await response.aclose()


async def _lines(response: httpx2.Response, server: str, what: str) -> AsyncIterator[str]:
    try:
        async for line in response.aiter_lines():
            if line.strip():
                yield line
    except httpx2.TransportError as exc:
        raise _unavailable(server, what, exc) from exc
