"""The render cache: equal inputs, equal output, no second render.

The key is a sha256 over the renderer's name and version, its options
(canonical JSON), the Application's name, path and namespace, the limits, and
the digest of every input path the renderer declares (``Renderer.inputs``), so
a monorepo commit that touches nothing under an Application's inputs costs no
render. The cache lives in memory, bounded by entry count and total bytes
(least recently used goes first): once SOPS decryption runs as a post-render
transform, rendered output holds secrets, and those must never reach disk
(``render.keeping`` keeps on disk, for one-shot commands, only renders with
nothing decrypted or substituted). Used by ``render.rendering``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from gitward.model import resources
from gitward.render import base


def key(renderer: base.Renderer, request: base.RenderRequest, inputs: Sequence[str]) -> str:
    """The cache key of rendering ``request`` with ``renderer`` (reads input digests)."""
    tree = request.tree
    payload = {
        "renderer": renderer.name,
        "version": renderer.version,
        "options": request.options,
        "app": request.app,
        "path": request.path,
        "namespace": request.namespace,
        "limits": dataclasses.asdict(request.limits),
        # Without this a request with no keys could be served another
        # request's decrypted render of the same path.
        "decryption": request.decryption.fingerprint if request.decryption else None,
        "variables": request.variables.fingerprint if request.variables else None,
        "inputs": [[path, tree.digest(path)] for path in sorted(set(inputs))],
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_unknown)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _unknown(value: Any) -> Any:
    # Options come from YAML and are JSON-shaped; anything else (a date a
    # plugin passed) is keyed by its text rather than refused.
    return repr(value)


@dataclasses.dataclass(frozen=True, slots=True)
class Stats:
    hits: int
    misses: int
    entries: int
    bytes: int


class RenderCache:
    """A thread-safe in-memory LRU of :class:`resources.Rendered` by key.

    Concurrent requests for the same key render once: later callers wait for
    the first and share its result (or render themselves if it failed).
    """

    def __init__(self, *, max_entries: int = 512, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[resources.Rendered, int]] = OrderedDict()
        self._inflight: dict[str, threading.Event] = {}
        self._bytes = 0
        self._hits = 0
        self._misses = 0

    def get(self, cache_key: str) -> resources.Rendered | None:
        with self._lock:
            found = self._entries.get(cache_key)
            if found is None:
                return None
            self._entries.move_to_end(cache_key)
            self._hits += 1
            return found[0]

    def put(self, cache_key: str, rendered: resources.Rendered, size: int) -> None:
        if size > self.max_bytes or self.max_entries <= 0:
            return
        with self._lock:
            previous = self._entries.pop(cache_key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[cache_key] = (rendered, size)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    def get_or_render(
        self, cache_key: str, render: Callable[[], tuple[resources.Rendered, int]]
    ) -> resources.Rendered:
        """The cached value of ``cache_key``, or ``render()``'s (value, size), stored."""
        while True:
            with self._lock:
                found = self._entries.get(cache_key)
                if found is not None:
                    self._entries.move_to_end(cache_key)
                    self._hits += 1
                    return found[0]
                waiting = self._inflight.get(cache_key)
                if waiting is None:
                    done = self._inflight[cache_key] = threading.Event()
                    self._misses += 1
                    break
            waiting.wait()
        try:
            rendered, size = render()
            self.put(cache_key, rendered, size)
            return rendered
        finally:
            with self._lock:
                del self._inflight[cache_key]
            done.set()

    def clear(self) -> None:
        """Drop every entry and reset the statistics."""
        with self._lock:
            self._entries.clear()
            self._bytes = self._hits = self._misses = 0

    def stats(self) -> Stats:
        with self._lock:
            return Stats(self._hits, self._misses, len(self._entries), self._bytes)
