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
