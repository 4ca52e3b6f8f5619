"""The ``host`` entry of the target registry: a configuration entry to a HostTarget."""

from __future__ import annotations

from pathlib import Path

from gitward import errors
from gitward.targets import registry
from gitward.targets.host.target import HostTarget


def create(request: registry.Request) -> HostTarget:
    """A host target; its inventory lives in ``stateDir`` (default
    ``<state_dir>/<name>``), beside the Kubernetes targets' records."""
    options = request.options
    roots = options.get("roots")
    if not isinstance(roots, list | tuple) or not roots:
        raise errors.ConfigError(f"target {request.name!r}: a host target needs roots")
    state = str(options.get("state_dir") or "")
    return HostTarget(
        request.name,
        [str(root) for root in roots],
        Path(state).expanduser() if state else request.state_dir / request.name,
        rescan_interval=float(options.get("rescan_interval") or 5.0),
        output_limit=int(options.get("output_limit") or 4096),
        allow_commands=bool(options.get("allow_commands", False)),
    )
