"""Renderers by name: the built-ins register here exactly as a user's plugin would.

``render.rendering`` and ``render.detection`` look renderers up here; a plugin
calls :func:`register` with any object satisfying ``base.Renderer``. A
built-in is imported when it is first asked for: an Application that names
its renderer (``render: {directory: {}}``) imports no other.
"""

from __future__ import annotations

import importlib
import threading

from gitward import errors
from gitward.render import base

_lock = threading.Lock()
# A renderer, or where a built-in lives ("module:Class") until it is first used.
_renderers: dict[str, base.Renderer | str] = {}
_order: list[str] = []  # registration order: detection asks in this order
_BUILTINS = {
    "helm": "gitward.render.helm:HelmRenderer",
    "kustomize": "gitward.render.kustomize:KustomizeRenderer",
    "jsonnet": "gitward.render.jsonnet:JsonnetRenderer",
    "directory": "gitward.render.directory:DirectoryRenderer",
}


def register(renderer: base.Renderer, *, replace: bool = False) -> None:
    """Make ``renderer`` available under ``renderer.name``.

    Registering a second renderer under a taken name is an error unless
    ``replace`` is set (a plugin deliberately overriding a built-in).
    """
    _add(renderer.name, renderer, replace=replace)


def _add(name: str, renderer: base.Renderer | str, *, replace: bool) -> None:
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
    if isinstance(renderer, str):
        return _load(name, renderer)
    return renderer


def _load(name: str, reference: str) -> base.Renderer:
    module_name, _, attribute = reference.partition(":")
    made: base.Renderer = getattr(importlib.import_module(module_name), attribute)()
    with _lock:
        current = _renderers.get(name)
        if current == reference:
            _renderers[name] = made
        elif current is not None and not isinstance(current, str):
            return current  # loaded by another thread, or replaced meanwhile
    return made


def names() -> list[str]:
    """Registered renderer names, in registration order."""
    with _lock:
        return list(_order)


def _register_builtins() -> None:
    for name, reference in _BUILTINS.items():
        if name not in _renderers:
            _add(name, reference, replace=False)


_register_builtins()
