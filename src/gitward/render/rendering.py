"""The render stage's one entry point: :func:`render`. Called by the engine.

Detects the renderer (an explicit choice wins), computes the digest of its
inputs, and returns the cached result or renders; then enforces the object
count and total size limits, checks every object's identity
(``render.validating``), warns on an empty render, and runs the
post-render transforms (the seam where SOPS decryption and variable
substitution plug in). Whatever comes out is cached in memory by input digest
(and, for one-shot commands, kept on disk when it holds nothing decrypted or
substituted: ``render.keeping``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence

import orjson

from gitward import errors
from gitward.model import resources
from gitward.render import (
    base,
    caching,
    detection,
    directory,
    hostfiles,
    keeping,
    paths,
    sops,
    substituting,
    validating,
)

Transform = Callable[[base.RenderRequest, resources.Rendered], resources.Rendered]
"""A post-render step (decrypt, substitute): takes and returns a render."""

_transforms: list[Transform] = [
    sops.decrypt_rendered,
    substituting.substitute_rendered,
    hostfiles.resolve_rendered,
]
_transforms_lock = threading.Lock()

cache = caching.RenderCache()
"""The process-wide render cache; replace it or call ``cache.clear()`` as needed."""


def add_transform(transform: Transform) -> None:
    """Run ``transform`` after every render, in the order added."""
    with _transforms_lock:
        _transforms.append(transform)


def remove_transform(transform: Transform) -> None:
    with _transforms_lock:
        if transform in _transforms:
            _transforms.remove(transform)


def _size(rendered: resources.Rendered) -> int:
    return sum(len(orjson.dumps(m.body)) for m in rendered.manifests)


def _finish(
    request: base.RenderRequest, rendered: resources.Rendered
) -> tuple[resources.Rendered, int]:
    limits = request.limits
    where = f"application {request.app} (path {request.path!r})"
    if len(rendered.manifests) > limits.max_documents:
        raise errors.UnsafeInputError(
            f"{where}: renders {len(rendered.manifests)} objects, over the"
            f" {limits.max_documents}-object limit"
        )
    with _transforms_lock:
        transforms = list(_transforms)
    for transform in transforms:
        rendered = transform(request, rendered)
    # Renderers of ours validate each document where its line is known; this
    # also covers users' renderers and transforms.
    for manifest in rendered.manifests:
        validating.check_object(manifest.body, manifest.source or where)
    try:
        size = _size(rendered)
    except TypeError as exc:
        raise errors.RenderError(f"{where}: an object is not JSON-serializable: {exc}") from None
    if size > limits.max_total_bytes:
        raise errors.UnsafeInputError(
            f"{where}: renders {size} bytes, over the {limits.max_total_bytes}-byte limit"
        )
    if not rendered.manifests:
        rendered = resources.Rendered(
            manifests=(),
            warnings=(*rendered.warnings, f"{where}: the render produced no objects"),
        )
    return rendered, size


def render(
    request: base.RenderRequest,
    kind: str | None = None,
    *,
    render_cache: caching.RenderCache | None = None,
    kept: keeping.KeptRenders | None = None,
) -> resources.Rendered:
    """Render ``request`` with the renderer ``kind`` (auto-detected when None).

    With ``kept``, a render missing from the in-memory cache is looked up
    there before it is made, and kept there once made, unless it was
    decrypted or had variables substituted (those never reach the disk)."""
    renderer = detection.detect(request.tree, request.path, kind)
    inputs = renderer.inputs(request)
    key = caching.key(renderer, request, inputs)
    store = cache if render_cache is None else render_cache
    if request.decryption is not None or request.variables is not None:
        kept = None

    def produce() -> tuple[resources.Rendered, int]:
        found = kept.load(key) if kept is not None else None
        if found is not None:
            return found
        rendered, size = _finish(request, renderer.render(request))
        made = resources.Rendered(
            manifests=rendered.manifests,
            input_digest=key,
            warnings=rendered.warnings,
            input_paths=read_paths(renderer, request, inputs),
        )
        if kept is not None:
            kept.keep(key, made, size)
        return made, size

    return store.get_or_render(key, produce)


def read_paths(
    renderer: base.Renderer, request: base.RenderRequest, inputs: Sequence[str]
) -> tuple[str, ...] | None:
    """What ``Rendered.input_paths`` says: the Application's path and the
    renderer's inputs, or None when they cannot be vouched for: the renderer
    does not declare itself ``confined`` to them, or a symlink lies on the way
    to one of them or below one (a change to its target shows under another
    path than the one read)."""
    confined = getattr(renderer, "confined", None)
    if confined is None or not confined(request):
        return None
    tree = request.tree
    found = tuple(
        dict.fromkeys(
            paths.normalize(path, what="render input") for path in (request.path, *inputs)
        )
    )
    if "" in found:
        return found  # the whole repository: every commit touches it
    looked: set[str] = set()
    for path in found:
        parts = path.split("/")
        for end in range(1, len(parts) + 1):
            prefix = "/".join(parts[:end])
            if prefix in looked:
                continue
            looked.add(prefix)
            if tree.kind(prefix) == base.EntryKind.SYMLINK:
                return None
        if tree.kind(path) == base.EntryKind.DIRECTORY and directory.symlinks_under(tree, path):
            return None
    return found


def combine(app: str, renders: list[resources.Rendered]) -> resources.Rendered:
    """The renders of an Application's several sources as one, in source order.

    The same object from two sources is an error naming both places: which
    one should win is not ours to guess.
    """
    seen: dict[resources.ResourceKey, str] = {}
    manifests: list[resources.Manifest] = []
    for rendered in renders:
        for manifest in rendered.manifests:
            other = seen.get(manifest.key)
            if other is not None:
                raise errors.RenderError(
                    f"application {app}: {manifest.key} is rendered by two sources "
                    f"({other} and {manifest.source or 'another source'})"
                )
            seen[manifest.key] = manifest.source or "a source"
            manifests.append(manifest)
    digest = hashlib.sha256("+".join(r.input_digest for r in renders).encode()).hexdigest()
    return resources.Rendered(
        manifests=tuple(manifests),
        input_digest=digest,
        warnings=tuple(w for r in renders for w in r.warnings),
    )
