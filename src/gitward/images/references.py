"""Image references: ``[registry[:port]/]repository[:tag][@digest]``.

The grammar is the Distribution project's (``distribution/reference``): the
first path component is a registry when it contains ``.`` or ``:`` or is
``localhost``; otherwise the image lives on Docker Hub (``docker.io``), where
a single-component repository is an official image under ``library/``. So
``nginx``, ``library/nginx`` and ``docker.io/library/nginx`` name the same
image, and :func:`same_image` says so. Called by every other module of
``gitward.images`` and by the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitward import errors

DEFAULT_REGISTRY = "docker.io"
# Docker Hub is served from another host than its name.
_REGISTRY_ALIASES = {"index.docker.io": DEFAULT_REGISTRY, "registry-1.docker.io": DEFAULT_REGISTRY}
_API_HOSTS = {DEFAULT_REGISTRY: "registry-1.docker.io"}
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
TAG = re.compile(r"[\w][\w.-]{0,127}")
DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_MAX_LENGTH = 255


class InvalidReference(errors.InputError):
    """Text that is not an image reference (named in the message)."""

    reason = "InvalidImage"


@dataclass(frozen=True, slots=True)
class Reference:
    """One parsed reference; ``written`` is the name exactly as it was given."""

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""
    written: str = ""

    @property
    def name(self) -> str:
        """The canonical name: ``docker.io/library/nginx``, ``ghcr.io/org/web``."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host serving the registry API (Docker Hub's differs from its name)."""
        return _API_HOSTS.get(self.registry, self.registry)

    @property
    def version(self) -> str:
        """What the reference pins, for people: ``1.2.3``, ``sha256:ab..``, ``1.2@sha256:..``."""
        if self.tag and self.digest:
            return f"{self.tag}@{self.digest}"
        return self.tag or self.digest

    def with_version(self, tag: str, digest: str = "") -> str:
        """The name as written with ``tag``/``digest`` instead of this reference's."""
        text = self.written or self.name
        if tag:
            text += f":{tag}"
        if digest:
            text += f"@{digest}"
        return text

    def __str__(self) -> str:
        return self.with_version(self.tag, self.digest)


def parse(text: str, *, where: str = "") -> Reference:
    """The reference ``text`` denotes; :class:`InvalidReference` naming it otherwise."""
    origin = f"{where}: " if where else ""

    def invalid(why: str) -> InvalidReference:
        return InvalidReference(f"{origin}{text!r} is not a valid image reference: {why}")

    if not isinstance(text, str) or not text or len(text) > _MAX_LENGTH:
        raise invalid(f"it must be 1 to {_MAX_LENGTH} characters")
    rest, _, digest = text.partition("@")
    if digest and not DIGEST.fullmatch(digest):
        raise invalid(f"digest {digest!r} is not algorithm:hex")
    name, tag = rest, ""
    head, sep, tail = rest.rpartition(":")
    if sep and "/" not in tail:
        name, tag = head, tail
        if not TAG.fullmatch(tag):
            raise invalid(f"tag {tag!r} is not valid")
    if not name:
        raise invalid("the name is empty")
    first, slash, remainder = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        if not _DOMAIN.fullmatch(first):
            raise invalid(f"registry {first!r} is not a host name")
        registry, repository = first, remainder
    else:
        registry, repository = DEFAULT_REGISTRY, name
    registry = _REGISTRY_ALIASES.get(registry, registry)
    components = repository.split("/")
    if not all(_COMPONENT.fullmatch(part) for part in components):
        raise invalid("repository path components must be lowercase letters, digits and separators")
    if registry == DEFAULT_REGISTRY and len(components) == 1:
        repository = f"library/{repository}"
    return Reference(registry=registry, repository=repository, tag=tag, digest=digest, written=name)


def canonical_name(text: str) -> str:
    """The canonical name of ``text`` (tag and digest dropped)."""
    return parse(text).name


def same_image(a: str, b: str) -> bool:
    """Whether two references name the same image (tags and digests ignored).

    Text that is not a reference names no image.
    """
    try:
        return parse(a).name == parse(b).name
    except InvalidReference:
        return False


def try_parse(text: object) -> Reference | None:
    """The reference ``text`` denotes, or None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return parse(text)
    except InvalidReference:
        return None
