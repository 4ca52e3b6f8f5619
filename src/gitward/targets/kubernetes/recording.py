"""The per-target record of which kinds and namespaces each Application used.

Called by :class:`KubernetesTarget`: ``prepare`` records the kinds and
namespaces of an Application's desired manifests, ``apply`` those it actually
applied, and ``inventory`` lists exactly the recorded kinds (plus any kinds the
caller adds). Listing every kind a cluster serves would cost hundreds of
requests per Application and cluster-wide list rights gitward may not have;
listing only the kinds in Git would miss a kind whose last object was just
removed from Git, which is exactly what prune must find. Entries are never
forgotten (a kind that has no objects left costs one cheap empty list).

With a ``path`` the record is kept in a file so it survives restarts; without
one it lives in memory for the process's lifetime. The file is a journal of
JSON lines: what one Application added (``{"app": ..., "kinds": ...,
"namespaces": ...}``), appended as it happens, so recording costs the same for
the thousandth Application as for the first (rewriting the whole record each
time made a cold start of N Applications cost N²). When the journal has grown
to several lines per Application it is rewritten atomically as one snapshot
line (``{"apps": {...}}``), the format a record written whole always had, which
is still read. A last line cut short by a crash is ignored: it recorded
nothing the Application's next prepare does not record again.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitward import errors

# Rewrite the journal as one snapshot when it holds this many lines more than
# twice the number of Applications.
_SLACK = 64


class KindRecord:
    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._kinds: dict[str, set[tuple[str, str]]] = {}
        self._namespaces: dict[str, set[str]] = {}
        self._lines = 0
        # The file is not one JSON line per entry, each ended (a record written
        # whole and indented, or a line cut short): rewrite it before appending.
        self._rewrite = False
        if path is not None and path.exists():
            self._load(path)

    def apps(self) -> set[str]:
        return set(self._kinds) | set(self._namespaces)

    def kinds(self, app: str) -> set[tuple[str, str]]:
        return set(self._kinds.get(app, ()))

    def all_kinds(self) -> set[tuple[str, str]]:
        return {gk for kinds in self._kinds.values() for gk in kinds}

    def namespaces(self, app: str) -> set[str]:
        return set(self._namespaces.get(app, ()))

    def add(self, app: str, kinds: Iterable[tuple[str, str]], namespaces: Iterable[str]) -> None:
        known_kinds = self._kinds.setdefault(app, set())
        known_namespaces = self._namespaces.setdefault(app, set())
        new_kinds = set(kinds) - known_kinds
        new_namespaces = {ns for ns in namespaces if ns} - known_namespaces
        if not new_kinds and not new_namespaces:
            return
        known_kinds |= new_kinds
        known_namespaces |= new_namespaces
        if self._path is None:
            return
        if self._rewrite or self._lines > 2 * len(self.apps()) + _SLACK:
            self._save(self._path)
            return
        entry = {"app": app, "kinds": sorted(new_kinds), "namespaces": sorted(new_namespaces)}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._lines += 1

    def _load(self, path: Path) -> None:
        try:
            text = path.read_text()
            try:
                # A record written whole (one document, possibly indented).
                self._merge(json.loads(text))
                self._lines = 1
                self._rewrite = text.count("\n") != 1 or not text.endswith("\n")
                return
            except ValueError:
                pass
            lines = [line for line in text.splitlines() if line.strip()]
            for number, line in enumerate(lines, 1):
                try:
                    self._merge(json.loads(line))
                except ValueError:
                    if number == len(lines) and not text.endswith("\n"):
                        self._rewrite = True
                        break  # cut short by a crash while it was being appended
                    raise
            self._lines = len(lines)
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise errors.ConfigError(f"kind record {path} is unreadable: {exc}") from exc

    def _merge(self, data: Mapping[str, Any]) -> None:
        snapshot = "apps" in data
        entries = list(data["apps"].items()) if snapshot else [(str(data["app"]), data)]
        for app, entry in entries:
            self._kinds.setdefault(app, set()).update(
                (str(g), str(k)) for g, k in entry.get("kinds", ())
            )
            self._namespaces.setdefault(app, set()).update(
                str(ns) for ns in entry.get("namespaces", ())
            )

    def _save(self, path: Path) -> None:
        data = {
            "apps": {
                app: {
                    "kinds": sorted(self._kinds.get(app, ())),
                    "namespaces": sorted(self._namespaces.get(app, ())),
                }
                for app in sorted(set(self._kinds) | set(self._namespaces))
            }
        }
        text = json.dumps(data, separators=(",", ":")) + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._lines = 1
        self._rewrite = False
