"""A real HTTP server that records what it receives: the stand-in for webhook
receivers, chat services and forge APIs in notification tests.

``Receiver`` listens on 127.0.0.1 (a thread, so it runs beside any event
loop), records each request (method, path, headers, body) and answers from a
script: ``answers`` is consumed one status per request (then 200), so
"fails twice, then succeeds" is ``answers=[503, 503]``.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)
    # Wall-clock arrival, to compare with times other processes recorded.
    received: datetime = field(default_factory=lambda: datetime.now(UTC))

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")


class Receiver:
    def __init__(
        self,
        answers: list[int] | None = None,
        body: bytes = b"ok",
        content_type: str = "text/plain",
        delay: float = 0.0,
    ) -> None:
        self.answers = list(answers or [])
        self.body = body
        self.content_type = content_type
        self.delay = delay
        self.requests: list[Request] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._changed:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.requests.append(
                        Request(self.command, self.path, dict(self.headers.items()), body)
                    )
                    receiver._changed.notify_all()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", receiver.content_type)
                    self.send_header("Content-Length", str(len(receiver.body)))
                    self.end_headers()
                    self.wfile.write(receiver.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (a timeout under test)

            do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """The first ``count`` requests, waiting up to ``timeout`` seconds for them."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(
                    f"receiver got {len(self.requests)} request(s), expected {count}"
                )
            return list(self.requests[:count])
