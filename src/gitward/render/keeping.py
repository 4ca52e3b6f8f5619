"""Renders kept on disk between one-shot commands.

``gitward sync``, ``diff`` and ``render`` are separate processes: the
in-memory render cache (``render.caching``) dies with each, so running one
twice on the same commit would parse every file again (~30 ms for 500
objects of plain YAML, far more for Helm). :class:`KeptRenders` keeps the
output of a render under the cache directory by its cache key, which already
covers the renderer and its version, the options, the limits and the digest
of every input file.

Only a render that holds nothing but what the repository says is kept: the
caller keeps none that was decrypted (SOPS) or had variables substituted
(``rendering.render``), so nothing reaches the disk that the repository
mirror beside it does not hold already. Files are written whole (a temporary
file renamed into place), readable by the owner only; a file that cannot be
read back as a render is ignored (rendered again). At most ``max_entries``
renders and ``max_bytes`` are kept; the least recently used go first.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from gitward.model import resources

FORMAT = 1
"""Bump when the layout of a kept render changes: older files are then ignored."""


class KeptRenders:
    """Renders on disk under ``directory``, by render cache key."""

    def __init__(
        self, directory: Path, *, max_entries: int = 256, max_bytes: int = 256 * 1024 * 1024
    ) -> None:
        self.directory = directory / f"v{FORMAT}"
        self.max_entries = max_entries
        self.max_bytes = max_bytes

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def load(self, key: str) -> tuple[resources.Rendered, int] | None:
        """The render kept under ``key`` and its size, or None."""
        path = self._path(key)
        try:
            data = json.loads(path.read_bytes())
            kept = _rendered(data, key)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return kept

    def keep(self, key: str, rendered: resources.Rendered, size: int) -> None:
        """Write ``rendered`` under ``key``; a render that cannot be written
        (a full disk, a value JSON cannot hold) is simply not kept."""
        if size > self.max_bytes:
            return
        data = {
            "format": FORMAT,
            "key": key,
            "size": size,
            "manifests": [[m.source, m.body] for m in rendered.manifests],
            "warnings": list(rendered.warnings),
            "input_paths": None if rendered.input_paths is None else list(rendered.input_paths),
        }
        try:
            encoded = json.dumps(data, separators=(",", ":")).encode()
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(encoded)
                Path(temporary).replace(self._path(key))
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(temporary).unlink()
                raise
            self._evict()
        except (OSError, TypeError, ValueError):
            return

    def _evict(self) -> None:
        entries: list[tuple[float, int, Path]] = []
        with os.scandir(self.directory) as listing:
            for entry in listing:
                if not entry.name.endswith(".json"):
                    continue
                with contextlib.suppress(OSError):
                    found = entry.stat()
                    entries.append((found.st_mtime, found.st_size, Path(entry.path)))
        entries.sort()
        total = sum(size for _, size, _ in entries)
        while entries and (len(entries) > self.max_entries or total > self.max_bytes):
            _, size, path = entries.pop(0)
            with contextlib.suppress(OSError):
                path.unlink()
            total -= size


def _rendered(data: Any, key: str) -> tuple[resources.Rendered, int]:
    if data["format"] != FORMAT or data["key"] != key:
        raise ValueError("not this render")
    paths = data["input_paths"]
    rendered = resources.Rendered(
        manifests=tuple(
            resources.Manifest.from_body(body, str(source)) for source, body in data["manifests"]
        ),
        input_digest=key,
        warnings=tuple(str(w) for w in data["warnings"]),
        input_paths=None if paths is None else tuple(str(p) for p in paths),
    )
    return rendered, int(data["size"])
