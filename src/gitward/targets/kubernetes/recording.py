"""The per-target record of which kinds and namespaces each Application used.

Called by :class:`KubernetesTarget`: ``prepare`` records the kinds and
namespaces of an Application's desired manifests, ``apply`` those it actually
applied, and ``inventory`` lists exactly the recorded kinds (plus any kinds the
caller adds). Listing every kind a cluster serves would cost hundreds of
requests per Application and cluster-wide list rights gitward may not have;
listing only the kinds in Git would miss a kind whose last object was just
removed from Git, which is exactly what prune must find. Entries are never
forgotten (a kind that has no objects left costs one cheap empty list).

With a ``path`` the record is kept in a JSON file (written atomically) so it
survives restarts; without one it lives in memory for the process's lifetime.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from gitward import errors


class KindRecord:
    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._kinds: dict[str, set[tuple[str, str]]] = {}
        self._namespaces: dict[str, set[str]] = {}
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
        if self._path is not None:
            self._save(self._path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
            for app, entry in data.get("apps", {}).items():
                self._kinds[app] = {(str(g), str(k)) for g, k in entry.get("kinds", ())}
                self._namespaces[app] = {str(ns) for ns in entry.get("namespaces", ())}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise errors.ConfigError(f"kind record {path} is unreadable: {exc}") from exc

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
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=1)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
