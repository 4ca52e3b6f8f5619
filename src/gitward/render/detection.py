"""Which renderer applies to an Application's path when none is declared.

``Chart.yaml`` means Helm, a kustomization file means Kustomize, ``.jsonnet``
files mean Jsonnet, anything else is a directory of manifests; an explicit
choice always wins. Each renderer answers for itself (``Renderer.detect``),
asked in a fixed order: the specific ones first, then plugins, ``directory``
last as the fallback.
Called by ``render.rendering``.
"""

from __future__ import annotations

from gitward import errors
from gitward.render import base, paths, registry

_FIRST = ("helm", "kustomize", "jsonnet")
_LAST = "directory"


def detect(tree: base.Tree, path: str, explicit: str | None = None) -> base.Renderer:
    """The renderer for ``path``: ``explicit`` if given, else the first that detects."""
    if explicit:
        return registry.get(explicit)
    root = paths.normalize(path, what="application path")
    if root and tree.kind(root) is None:
        raise errors.RenderError(f"application path {path!r} does not exist")
    names = registry.names()
    ordered = [n for n in _FIRST if n in names]
    ordered += [n for n in names if n not in _FIRST and n != _LAST]
    ordered += [_LAST] if _LAST in names else []
    for name in ordered:
        renderer = registry.get(name)
        if renderer.detect(tree, root):
            return renderer
    raise errors.RenderError(f"no renderer recognises application path {path!r}")
