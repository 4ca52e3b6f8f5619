"""Targets by ``type``: the runtime asks here, never a target package directly.

Each type has a factory, ``factory(request) -> Target``. The built-in ones
(``kubernetes``, ``host``) are named by module path and imported on first
use, so nothing that imports this module imports a target's code (the engine
stays free of every target package, see ``.importlinter``). A third target is
a plugin: a distribution declares an entry point in the ``gitward.targets``
group (``mytarget = "mypackage.gitward:create"``), or a program calls
:func:`register` before the agent starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, cast

from gitward import errors
from gitward.targets import base

GROUP = "gitward.targets"
_BUILTIN = {
    "kubernetes": "gitward.targets.kubernetes.factory:create",
    "host": "gitward.targets.host.factory:create",
}


@dataclass(frozen=True, slots=True)
class Request:
    """What a factory gets: the target's name and its entry in the configuration."""

    name: str
    type: str
    # The entry's options by field name (``in_cluster``, ``roots``...), labels left out.
    options: Mapping[str, Any] = field(default_factory=dict)
    # A directory the target may keep records in across restarts (created on demand).
    state_dir: Path = Path()


Factory = Callable[[Request], base.Target]
_registered: dict[str, Factory] = {}


def register(type_: str, factory: Factory) -> None:
    """Make ``type_`` known in this process (a plugin without an entry point)."""
    _registered[type_] = factory


def unregister(type_: str) -> None:
    _registered.pop(type_, None)


def known() -> list[str]:
    """Every target type this process can create."""
    found = set(_BUILTIN) | set(_registered)
    found.update(entry.name for entry in metadata.entry_points(group=GROUP))
    return sorted(found)


def factory(type_: str, *, target: str = "") -> Factory:
    """The factory of ``type_``; ConfigError naming the target when there is none."""
    if type_ in _registered:
        return _registered[type_]
    where = f"target {target!r}: " if target else ""
    if type_ in _BUILTIN:
        return _load(_BUILTIN[type_], f"{where}type {type_!r}")
    for entry in metadata.entry_points(group=GROUP):
        if entry.name == type_:
            return _load(entry.value, f"{where}type {type_!r} (entry point {entry.value})")
    raise errors.ConfigError(
        f"{where}no target type {type_!r} is installed (known: {', '.join(known())})"
    )


def create(request: Request) -> base.Target:
    """A target for ``request``, by its type's factory."""
    return factory(request.type, target=request.name)(request)


class ApiConnection(Protocol):
    """A connection to a Kubernetes API: its lightkube ``client`` and the
    namespace of its context (or of the pod's service account)."""

    @property
    def client(self) -> Any: ...

    @property
    def namespace(self) -> str: ...

    async def close(self) -> None: ...


def kubernetes_connection(request: Request) -> ApiConnection:
    """A Kubernetes API connection for ``request`` (a ``kubernetes`` entry; no
    options: in-cluster), for replica coordination's Leases."""
    where = f"target {request.name!r}" if request.name else "in-cluster API"
    connect = cast(
        Callable[[Request], ApiConnection],
        _load("gitward.targets.kubernetes.factory:connection", where),
    )
    return connect(request)


def _load(reference: str, where: str) -> Factory:
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
        found = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise errors.ConfigError(f"{where}: cannot load {reference}: {exc}") from None
    if not callable(found):
        raise errors.ConfigError(f"{where}: {reference} is not callable")
    return cast(Factory, found)
