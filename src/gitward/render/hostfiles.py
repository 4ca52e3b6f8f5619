"""The post-render transform for host Files and Commands: content from the repository, secrecy.

A ``host.gitward.dev/v1`` File may name a repository file instead of
holding its content: ``spec.fromFile: files/nginx.conf``, relative to the
Application's path and confined to it (the render is cached by the digest of
that directory, so a file outside it could change without a new render).
The transform reads it (a SOPS-encrypted file is decrypted with the
Application's keys, as a Secret's manifest is) and puts its text in
``spec.content``.

A File whose content was decrypted (from its own SOPS-encrypted manifest or
from an encrypted ``fromFile``) is marked ``spec.secret: true``, so every
view masks its content as it masks a Secret's data; so is a Command from an
encrypted manifest, whose environment values are then masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward import errors
from gitward.model import hostobjects, resources
from gitward.render import base, loading, paths, sops


def resolve_rendered(
    request: base.RenderRequest, rendered: resources.Rendered
) -> resources.Rendered:
    """``rendered`` with each host File's ``fromFile`` read and secret content marked."""
    if not any(_is_file(m.body) or _is_command(m.body) for m in rendered.manifests):
        return rendered
    encrypted_sources: dict[str, bool] = {}
    manifests = []
    for manifest in rendered.manifests:
        if _is_command(manifest.body):
            manifests.append(_command(request, manifest, encrypted_sources))
            continue
        if not _is_file(manifest.body):
            manifests.append(manifest)
            continue
        spec = dict(manifest.body.get("spec") or {})
        secret = spec.get("secret") is True or _from_encrypted(
            request, manifest.source, encrypted_sources
        )
        if "fromFile" in spec:
            if "content" in spec:
                raise errors.RenderError(
                    f"{manifest.source or manifest.key}: {manifest.key} has both content and "
                    "fromFile; give one"
                )
            text, decrypted = _read(request, spec.pop("fromFile"), manifest)
            spec["content"] = text
            secret = secret or decrypted
        if secret:
            spec["secret"] = True
        body = {**manifest.body, "spec": spec}
        manifests.append(resources.Manifest(key=manifest.key, body=body, source=manifest.source))
    return resources.Rendered(
        manifests=tuple(manifests),
        input_digest=rendered.input_digest,
        warnings=rendered.warnings,
    )


def _is_file(body: Mapping[str, Any]) -> bool:
    return hostobjects.is_host_object(body) and body.get("kind") == hostobjects.FILE


def _is_command(body: Mapping[str, Any]) -> bool:
    return hostobjects.is_host_object(body) and body.get("kind") == hostobjects.COMMAND


def _command(
    request: base.RenderRequest, manifest: resources.Manifest, seen: dict[str, bool]
) -> resources.Manifest:
    """A Command from an encrypted manifest has secret environment values."""
    spec = manifest.body.get("spec")
    if not isinstance(spec, Mapping) or spec.get("secret") is True:
        return manifest
    if not _from_encrypted(request, manifest.source, seen):
        return manifest
    body = {**manifest.body, "spec": {**spec, "secret": True}}
    return resources.Manifest(key=manifest.key, body=body, source=manifest.source)


def _read(
    request: base.RenderRequest, reference: Any, manifest: resources.Manifest
) -> tuple[str, bool]:
    where = manifest.source or str(manifest.key)
    if not isinstance(reference, str) or not reference:
        raise errors.RenderError(f"{where}: {manifest.key} spec.fromFile must be a path")
    what = f"{manifest.key} fromFile"
    root = paths.normalize(request.path, what="application path")
    path = paths.join(root, reference, what=what)
    if not paths.is_within(path, root):
        raise errors.UnsafeInputError(
            f"{what} {reference!r}: leaves the Application's path {request.path!r}"
        )
    kind = request.tree.kind(path)
    if kind not in (base.EntryKind.FILE, base.EntryKind.SYMLINK):
        raise errors.RenderError(f"{where}: {what} {reference!r} is not a file in the repository")
    data = request.tree.read(path, max_bytes=request.limits.max_file_bytes)
    plain = sops.decrypt_file(data, path, request.limits, sops.decryption_of(request))
    try:
        text = (plain if plain is not None else data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.RenderError(
            f"{where}: {what} {reference!r} is not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None
    return text, plain is not None


def _from_encrypted(request: base.RenderRequest, source: str, seen: dict[str, bool]) -> bool:
    """Whether the manifest came from a SOPS-encrypted repository file."""
    path, sep, index = source.rpartition("#")
    if not sep or not index.isdigit() or not path:
        return False
    if path not in seen:
        try:
            data = request.tree.read(path, max_bytes=request.limits.max_file_bytes)
            documents = loading.load(data, path, request.limits)
            seen[path] = any(sops.is_encrypted(d.body) for d in documents)
        except errors.GitwardError:
            seen[path] = False
    return seen[path]
