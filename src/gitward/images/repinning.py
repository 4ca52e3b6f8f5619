"""From a pin (``images.locating``) and a new version to the edits that set it.

A Kustomize ``images:`` entry gets ``newTag``/``digest`` placed after its
name (a stale digest is removed, as it would override the new tag); a value
holding a whole reference gets the reference with the new version; a value
holding a tag gets ``tag`` or ``tag@digest``. Called by ``engine.imaging``
and ``engine.promoting``; the edits are applied by ``images.rewriting``.
"""

from __future__ import annotations

from gitward.images import locating, rewriting


def changes_for(pin: locating.Pin, tag: str, digest: str = "") -> list[rewriting.Change]:
    """The edits that make ``pin`` say ``tag``/``digest``; [] when it already does."""
    if (pin.tag, pin.digest) == (tag, digest) or (
        pin.kind is locating.Kind.KUSTOMIZE and not tag and pin.digest == digest
    ):
        return []
    where = pin.describe()
    if pin.kind is locating.Kind.KUSTOMIZE:
        return _kustomize_changes(pin, tag, digest)
    if pin.holds is locating.Holds.REFERENCE:
        assert pin.image is not None
        return [
            rewriting.Change(pin.document, pin.path, pin.key, pin.image.with_version(tag, digest))
        ]
    if not tag:
        raise rewriting.RewriteError(f"{where}: holds a tag; a digest alone cannot be written")
    value = f"{tag}@{digest}" if digest else tag
    return [rewriting.Change(pin.document, pin.path, pin.key, value)]


def _kustomize_changes(pin: locating.Pin, tag: str, digest: str) -> list[rewriting.Change]:
    changes: list[rewriting.Change] = []
    keys = list(pin.entry_keys)
    anchor = "newName" if "newName" in keys else "name"
    if tag and tag != pin.tag:
        changes.append(rewriting.Change(0, pin.path, "newTag", tag, after=anchor))
    if "newTag" in keys:
        anchor = "newTag"
    if digest and digest != pin.digest:
        changes.append(rewriting.Change(0, pin.path, "digest", digest, after=anchor))
    elif not digest and "digest" in keys and tag:
        # A digest overrides the tag in Kustomize: the new tag would not take.
        changes.append(rewriting.Change(0, pin.path, "digest", None))
    return changes
