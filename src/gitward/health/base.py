"""The health check signature and the registry every check (built-in or plugin) joins.

A check takes a live object (a Kubernetes-shaped dict) and returns a
:class:`gitward.model.status.HealthResult`. Checks are pure: they read the
object and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gitward.model import status

Check = Callable[[Mapping[str, Any]], status.HealthResult]


class Registry:
    """Health checks by (API group, kind); built-ins and plugins register alike.

    ``assessing.REGISTRY`` holds the built-in checks; a plugin calls
    ``register`` on it (with ``replace=True`` to override a built-in, the way
    Argo CD's health customisations override its own checks).
    """

    def __init__(self) -> None:
        self._checks: dict[tuple[str, str], Check] = {}

    def register(self, group: str, kind: str, check: Check, *, replace: bool = False) -> None:
        key = (group, kind)
        if key in self._checks and not replace:
            shown = f"{kind}.{group}" if group else kind
            raise ValueError(f"a health check for {shown} is already registered")
        self._checks[key] = check

    def lookup(self, group: str, kind: str) -> Check | None:
        return self._checks.get((group, kind))

    def kinds(self) -> list[tuple[str, str]]:
        return sorted(self._checks)
