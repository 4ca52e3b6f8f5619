"""The host target's inventory: what gitward wrote, per Application.

A host has no labels to list objects by, so the target keeps the record a
Kubernetes API keeps in labels and annotations: for each object gitward
applied, its kind, name, path, the metadata it was applied with, whether
gitward created the path (prune removes only those) and the digest of what
it wrote. The record is one JSON file under the target's state directory,
replaced atomically (temporary file, fsync, rename, fsync of the directory)
on every change, so a crash leaves the previous record or the next one.

A path is recorded before gitward creates it (``created`` true, no digest):
killed between the two, the next run still knows the file is its own.
Secret content is never recorded, only its digest.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gitward import errors

_VERSION = 1


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    name: str
    path: str = ""  # '' for a Command
    created: bool = False  # gitward created the path: prune may remove it
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    version: str = ""  # the live digest after gitward's last write ('' before the first)
    secret: bool = False
    on_change: tuple[str, ...] = ()
    # A Command: its spec as applied, and its last run.
    spec: Mapping[str, Any] = field(default_factory=dict)
    run: Mapping[str, Any] = field(default_factory=dict)


class Inventory:
    """The record file of one host target; safe to use from several threads."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._apps: dict[str, dict[str, Entry]] = self._load()
        self.generation = 0  # bumped on every change (the watcher re-reads paths)

    def entries(self, app: str) -> list[Entry]:
        with self._lock:
            return list(self._apps.get(app, {}).values())

    def everything(self) -> list[tuple[str, Entry]]:
        with self._lock:
            return [(app, e) for app, entries in self._apps.items() for e in entries.values()]

    def get(self, app: str, kind: str, name: str) -> Entry | None:
        with self._lock:
            return self._apps.get(app, {}).get(f"{kind}/{name}")

    def find(self, kind: str, name: str) -> tuple[str, Entry] | None:
        """The Application holding the ``kind``/``name`` entry, and the entry."""
        with self._lock:
            for app, entries in self._apps.items():
                found = entries.get(f"{kind}/{name}")
                if found is not None:
                    return app, found
        return None

    def owner_of_path(self, path: str) -> tuple[str, Entry] | None:
        with self._lock:
            for app, entries in self._apps.items():
                for entry in entries.values():
                    if entry.path == path:
                        return app, entry
        return None

    def put(self, app: str, entry: Entry) -> None:
        with self._lock:
            self._apps.setdefault(app, {})[f"{entry.kind}/{entry.name}"] = entry
            self._save()

    def update(self, app: str, kind: str, name: str, **changes: Any) -> None:
        with self._lock:
            entries = self._apps.get(app, {})
            key = f"{kind}/{name}"
            if key in entries:
                entries[key] = replace(entries[key], **changes)
                self._save()

    def drop(self, app: str, kind: str, name: str) -> None:
        with self._lock:
            entries = self._apps.get(app, {})
            if entries.pop(f"{kind}/{name}", None) is not None:
                if not entries:
                    self._apps.pop(app, None)
                self._save()

    def _load(self) -> dict[str, dict[str, Entry]]:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise errors.ConfigError(
                f"the host target's inventory {self._path} cannot be read: {exc}"
            ) from None
        apps: dict[str, dict[str, Entry]] = {}
        for app, entries in (raw.get("apps") or {}).items():
            loaded = {}
            for key, value in entries.items():
                value["on_change"] = tuple(value.get("on_change") or ())
                loaded[key] = Entry(**value)
            apps[app] = loaded
        return apps

    def _save(self) -> None:
        self.generation += 1
        body = {
            "version": _VERSION,
            "apps": {
                app: {key: asdict(entry) for key, entry in sorted(entries.items())}
                for app, entries in sorted(self._apps.items())
            },
        }
        data = json.dumps(body, indent=1, sort_keys=True).encode()
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self._path.with_name(f".{self._path.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(self._path)
        with _directory(self._path.parent) as parent:
            os.fsync(parent)


@contextlib.contextmanager
def _directory(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield fd
    finally:
        os.close(fd)
