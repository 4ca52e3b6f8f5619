"""Requests from the command line to a running agent's REST API.

Used by :mod:`gitward.cli.app_commands`. Built on the standard library's
``urllib.request`` (proxies from ``HTTP(S)_PROXY``/``NO_PROXY``, TLS with the
system's CAs or ``SSL_CERT_FILE``) rather than httpx: a CLI sends one or two
requests, and httpx's import alone costs more than the whole ``gitward app
list`` may take (``bench/cli_start.py``). Every failure becomes a message on
stderr and an exit code; the token travels only in the Authorization header
and is never printed.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any, NoReturn

import typer

from gitward.cli import consoles

EXIT_OK = 0
EXIT_NOT_READY = 1
EXIT_INPUT = 2
EXIT_UNAVAILABLE = 3
EXIT_DENIED = 4

DEFAULT_SERVER = "http://127.0.0.1:8080"

# How long a live stream may stay silent before it is reopened (the server
# sends keep-alive comments far more often).
_STREAM_READ_TIMEOUT = 60.0

_err = consoles.Lazy(stderr=True)


class Api:
    """Requests to the agent; every failure becomes a message and an exit code.

    One short-lived connection per request: a CLI sends few, and nothing is
    left open when a command returns (or runs in-process, as in tests).
    """

    def __init__(self, server: str, token: str, *, timeout: float = 30.0) -> None:
        self.server = (server or DEFAULT_SERVER).rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v})

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, body=body or {})

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        what = f"{method} {path}"
        with self._open(method, path, params, body, self._timeout, what) as response:
            return _json(response.read(), what)

    def stream(self, path: str, params: dict[str, Any], last_id: int | None) -> Iterator[Any]:
        """Server-sent events as (event, data, id); reconnects after a drop."""
        while True:
            headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
            what = f"GET {path}"
            try:
                with self._open(
                    "GET", path, params, None, _STREAM_READ_TIMEOUT, what, headers
                ) as response:
                    lines = (raw.decode("utf-8").rstrip("\r\n") for raw in response)
                    for event, data, id_ in _sse(lines):
                        if id_ is not None:
                            last_id = id_
                        if event == "error":
                            break  # dropped as a slow client: reconnect from last_id
                        yield event, data, id_
            except (OSError, http.client.HTTPException) as exc:
                _err.print(f"stream interrupted ({type(exc).__name__}); reconnecting")
            time.sleep(1.0)

    def _open(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        timeout: float,
        what: str,
        headers: dict[str, str] | None = None,
    ) -> Any:
        if urllib.parse.urlsplit(self.server).scheme not in ("http", "https"):
            fail(EXIT_INPUT, f"--server must be an http:// or https:// URL, not {self.server!r}")
        url = self.server + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            url, data=data, method=method, headers={**self._headers, **(headers or {})}
        )
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
        except urllib.error.HTTPError as exc:
            try:
                raw = exc.read()
            except OSError:
                raw = b""
            finally:
                exc.close()
            _check(exc.code, str(exc.reason), raw, what)
            raise  # not reached: _check exits for every status >= 400
        except TimeoutError:
            fail(EXIT_UNAVAILABLE, f"{self.server} did not answer {what} in time")
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                fail(EXIT_UNAVAILABLE, f"{self.server} did not answer {what} in time")
            name = type(reason).__name__ if isinstance(reason, BaseException) else str(reason)
            fail(EXIT_UNAVAILABLE, f"cannot reach {self.server}: {name}")
        except OSError as exc:
            fail(EXIT_UNAVAILABLE, f"cannot reach {self.server}: {type(exc).__name__}")


def fail(code: int, message: str) -> NoReturn:
    kind = "unavailable" if code == EXIT_UNAVAILABLE else "error"
    _err.line((f"{kind}:", "red"), f" {message}")
    raise typer.Exit(code)


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        fail(EXIT_UNAVAILABLE, f"{what}: the server's answer is not JSON")


def _check(status: int, reason: str, raw: bytes, what: str) -> None:
    try:
        message = str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = raw.decode("utf-8", "replace").strip()[:500] or reason
    if status in (401, 403):
        fail(EXIT_DENIED, f"{'unauthorized' if status == 401 else 'forbidden'}: {message}")
    if 400 <= status < 500 or status == 501:
        fail(EXIT_INPUT, f"{what}: {message}")
    fail(EXIT_UNAVAILABLE, f"{what}: server error {status}: {message}")


def _sse(lines: Iterator[str]) -> Iterator[tuple[str, Any, int | None]]:
    event, data, id_ = "", "", None
    for line in lines:
        if not line:
            if event:
                yield event, json.loads(data) if data else None, id_
            event, data, id_ = "", "", None
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line.startswith("id: "):
            id_ = int(line[4:])
