"""The test server's record of writes: who changed which object, and when.

Every successful write (create, update, patch, delete; not dry runs, not
reads) is appended with the request's ``User-Agent``, the verb, the object
and its labels, and the wall-clock times the request arrived and was
answered. Clients tell themselves apart by their user agent (gitward replicas
set ``gitward/<version> (replica <identity>; fence <token>)``), so a test can
prove that no object was written by two replicas in overlapping time.
Read it in process: ``server.writes.records()``; from another process, have it
appended to a file as JSON lines (:meth:`WriteLog.record_to`, or
``gitward testing kube-api --write-log FILE``) and read them back with
:func:`read_log`.

Beside it, :class:`RequestCounts` counts every request by verb (``get``,
``list``, ``watch``, ``patch``, ... with ``dry-run`` ones apart, and
``discovery`` for discovery and OpenAPI), so tests and benchmarks can tell
how many round trips a client needed: ``server.requests.snapshot()``.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Write:
    started: float  # time.time() when the request arrived
    finished: float  # time.time() when the answer was ready
    user_agent: str
    verb: str
    group: str
    kind: str
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


class WriteLog:
    """Append-only, bounded (the oldest records go first past ``limit``)."""

    def __init__(self, limit: int = 1_000_000) -> None:
        self.limit = limit
        self._records: list[Write] = []
        self._lock = threading.Lock()
        self._path: Path | None = None

    def record_to(self, path: Path) -> None:
        """Also append every write to ``path``, one JSON object a line (each
        written and closed before the answer is sent)."""
        with self._lock:
            self._path = path

    def add(self, write: Write) -> None:
        with self._lock:
            if self._path is not None:
                with self._path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(dataclasses.asdict(write), sort_keys=True) + "\n")
            self._records.append(write)
            if len(self._records) > self.limit:
                del self._records[: len(self._records) - self.limit]

    def records(self) -> list[Write]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


def read_log(path: Path) -> list[Write]:
    """The writes :meth:`WriteLog.record_to` appended to ``path``."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Write(**json.loads(line)) for line in lines if line.endswith("}")]


class RequestCounts:
    """How many requests of each verb the server answered (thread-safe)."""

    def __init__(self) -> None:
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def add(self, verb: str) -> None:
        with self._lock:
            self._counts[verb] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
