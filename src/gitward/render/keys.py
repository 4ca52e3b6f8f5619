"""Decryption keys of an Application: age identities and the ``decryption``
block that names them.

The engine builds a :class:`Decryption` from the Application's configuration
(``engine.runtimes``) and sets it as ``RenderRequest.decryption``;
``render.sops`` decrypts with it. Kept apart from ``render.sops`` so the
render request (``render.base``) can name it without importing the decrypter.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyrage

from gitward import errors

_IDENTITY_PREFIX = "AGE-SECRET-KEY-1"
_DECRYPTION_OPTIONS = frozenset({"provider", "ageKeyFile", "ageKeyEnv"})


class AgeKeys:
    """age X25519 identities, parsed once; shows only their public recipients.

    The secret keys live in ``pyrage`` objects only: ``repr``, ``str`` and
    errors name where they came from and the public ``age1...`` recipients.
    """

    __slots__ = ("_identities", "origin", "recipients")

    def __init__(self, identities: Sequence[Any], recipients: Sequence[str], origin: str) -> None:
        self._identities = tuple(identities)
        self.recipients = tuple(recipients)
        self.origin = origin

    @classmethod
    def from_text(cls, text: str, origin: str) -> AgeKeys:
        """The ``AGE-SECRET-KEY-1...`` lines of an age keys file (``#`` comments
        and blank lines ignored). ``origin`` names the text in errors."""
        identities: list[Any] = []
        recipients: list[str] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not line.startswith(_IDENTITY_PREFIX):
                raise errors.ConfigError(
                    f"{origin}, line {number}: not an age identity (expected a line starting"
                    f" with {_IDENTITY_PREFIX})"
                )
            try:
                identity = pyrage.x25519.Identity.from_str(line)
            except pyrage.IdentityError:
                raise errors.ConfigError(
                    f"{origin}, line {number}: malformed age identity"
                ) from None
            identities.append(identity)
            recipients.append(str(identity.to_public()))
        if not identities:
            raise errors.ConfigError(f"{origin}: holds no age identity")
        return cls(identities, recipients, origin)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> AgeKeys:
        """The identities of the age keys file at ``path``."""
        origin = f"age keys file {os.fspath(path)!r}"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise errors.ConfigError(f"{origin}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise errors.ConfigError(f"{origin}: not UTF-8 text") from None
        return cls.from_text(text, origin)

    @classmethod
    def from_env(cls, name: str, environ: Mapping[str, str] | None = None) -> AgeKeys:
        """The identities in the environment variable ``name`` (one per line)."""
        origin = f"environment variable {name}"
        value = (os.environ if environ is None else environ).get(name)
        if not value:
            raise errors.ConfigError(f"{origin} is not set or empty")
        return cls.from_text(value, origin)

    def identities(self) -> list[Any]:
        """The pyrage identities (for ``pyrage.decrypt``)."""
        return list(self._identities)

    def __repr__(self) -> str:
        return f"AgeKeys(origin={self.origin!r}, recipients={list(self.recipients)!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("AgeKeys hold secret keys and are not pickled")


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class Decryption:
    """How an Application's SOPS files are decrypted: the age identities to use.

    Set as ``RenderRequest.decryption``; ``None`` there means encrypted files
    are an error (never silently rendered encrypted).
    """

    age: AgeKeys

    @property
    def fingerprint(self) -> str:
        """A digest of the public recipients: part of the render cache key, so
        changing the keys re-renders. Reveals nothing about the secret keys."""
        joined = "\n".join(sorted(self.age.recipients))
        return hashlib.sha256(joined.encode()).hexdigest()

    @classmethod
    def parse(
        cls, spec: Mapping[str, Any], where: str, environ: Mapping[str, str] | None = None
    ) -> Decryption:
        """From an Application's ``decryption`` block::

            decryption: {provider: sops, ageKeyFile: /etc/gitward/age.txt}
            decryption: {provider: sops, ageKeyEnv: GITWARD_AGE_KEYS}

        Both key sources may be given; their identities are all tried.
        """
        unknown = set(spec) - _DECRYPTION_OPTIONS
        if unknown:
            raise errors.ConfigError(
                f"{where}: unknown decryption option(s) {', '.join(sorted(unknown))}"
            )
        provider = spec.get("provider", "sops")
        if provider != "sops":
            raise errors.ConfigError(
                f"{where}: decryption provider {provider!r} is not supported (only sops)"
            )
        key_file, key_env = spec.get("ageKeyFile"), spec.get("ageKeyEnv")
        for name, value in (("ageKeyFile", key_file), ("ageKeyEnv", key_env)):
            if value is not None and (not isinstance(value, str) or not value):
                raise errors.ConfigError(f"{where}: decryption {name} must be a non-empty string")
        sources: list[AgeKeys] = []
        if key_file:
            sources.append(AgeKeys.from_file(key_file))
        if key_env:
            sources.append(AgeKeys.from_env(key_env, environ))
        if not sources:
            raise errors.ConfigError(f"{where}: decryption needs ageKeyFile or ageKeyEnv")
        if len(sources) == 1:
            return cls(age=sources[0])
        return cls(
            age=AgeKeys(
                [i for s in sources for i in s.identities()],
                [r for s in sources for r in s.recipients],
                " and ".join(s.origin for s in sources),
            )
        )

    def __repr__(self) -> str:
        return f"Decryption(age={self.age!r})"
