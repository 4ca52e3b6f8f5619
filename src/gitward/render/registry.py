"""Renderers by name: the built-ins register here exactly as a user's plugin would.

``render.rendering`` and ``render.detection`` look renderers up here; a plugin
calls :func:`register` with any object satisfying ``base.Renderer``.
"""

from __future__ import annotations

import threading

from gitward import errors
from gitward.render import base

_lock = threading.Lock()
_renderers: dict[str, base.Renderer] = {}
_order: list[str] = []  # registration order: detection asks in this order


def register(renderer: base.Renderer, *, replace: bool = False) -> None:
    """Make ``renderer`` available under ``renderer.name``.

    Registering a second renderer under a taken name is an error unless
    ``replace`` is set (a plugin deliberately overriding a built-in).
    """
    name = renderer.name
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise errors.ConfigError(f"renderer name {name!r} is not a plain identifier")
    with _lock:
        if name in _renderers and not replace:
            raise errors.ConfigError(f"a renderer named {name!r} is already registered")
        if name not in _renderers:
            _order.append(name)
        _renderers[name] = renderer


def unregister(name: str) -> None:
    """Forget the renderer ``name`` (tests, plugin reloads)."""
    with _lock:
        _renderers.pop(name, None)
        if name in _order:
            _order.remove(name)


def get(name: str) -> base.Renderer:
    """The renderer registered as ``name``."""
    with _lock:
        renderer = _renderers.get(name)
        known = ", ".join(_order)
    if renderer is None:
        raise errors.RenderError(f"unknown renderer {name!r} (registered: {known})")
    return renderer


def names() -> list[str]:
    """Registered renderer names, in registration order."""
    with _lock:
        return list(_order)


def _register_builtins() -> None:
    # Imported here, not at the top: the built-ins import this package's
    # base, and plugins must be able to import the registry cheaply.
    from gitward.render import directory, helm, jsonnet, kustomize

    for renderer in (
        helm.HelmRenderer(),
        kustomize.KustomizeRenderer(),
        jsonnet.JsonnetRenderer(),
        directory.DirectoryRenderer(),
    ):
        if renderer.name not in _renderers:
            register(renderer)


_register_builtins()
