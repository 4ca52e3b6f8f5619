"""Who is calling the REST API, and what they may do.

Callers present ``Authorization: Bearer <token>``. The token itself is never
stored nor logged: the store keeps its SHA-256 hex digest
(``Store.find_token``), created by ``gitward token create``. A token carries a
:class:`Role` (``read-only`` or ``admin``) over a list of Projects, ``*``
meaning all of them; ``admin`` includes reading.

Without a token, the settings decide (``auth.anonymous``): ``none`` answers
401, ``read-only`` reads every Project. A token that is present but unknown is
always 401, so a typo never silently degrades to anonymous access.

Every route of ``gitward.api`` calls :meth:`Authenticator.identify`, then the
:class:`Principal`'s checks, which raise :class:`Unauthorized` (401) or
:class:`Forbidden` (403).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from gitward import errors
from gitward.config import applications
from gitward.config import settings as config_settings
from gitward.store import base as store_base

ALL_PROJECTS = "*"
ANONYMOUS = "anonymous"
# gw_ + 43 url-safe characters (256 bits): recognisable by secret scanners.
TOKEN_PREFIX = "gw_"  # noqa: S105 (a prefix, not a secret)
_MAX_TOKEN_LENGTH = 512


class Role(StrEnum):
    READ_ONLY = "read-only"
    ADMIN = "admin"


class Unauthorized(errors.InputError):
    """No credentials, or credentials that match no token (HTTP 401)."""

    reason = "Unauthorized"


class Forbidden(errors.InputError):
    """Known caller, but its role or Projects do not allow the request (HTTP 403)."""

    reason = "Forbidden"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a token's name, role and Projects."""

    name: str
    role: Role
    projects: tuple[str, ...]

    @property
    def all_projects(self) -> bool:
        return ALL_PROJECTS in self.projects

    def can_read(self, project: str) -> bool:
        return self.all_projects or project in self.projects

    def can_admin(self, project: str) -> bool:
        return self.role is Role.ADMIN and self.can_read(project)

    def require_read(self, project: str, what: str) -> None:
        if not self.can_read(project):
            raise Forbidden(f"{self.describe()} may not read {what} (Project {project!r})")

    def require_admin(self, project: str, what: str) -> None:
        self.require_read(project, what)
        if self.role is not Role.ADMIN:
            raise Forbidden(f"{self.describe()} has role {self.role.value}: may not {what}")

    def require_all_projects(self, what: str) -> None:
        if not self.all_projects:
            raise Forbidden(f"{self.describe()} may not read {what}: it needs every Project ('*')")

    def describe(self) -> str:
        return "anonymous access" if self.name == ANONYMOUS else f"token {self.name!r}"


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (shown once to its creator, stored only hashed)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise errors.ConfigError(f"unknown role {value!r} (known: {known})") from None


def check_projects(projects: Iterable[str]) -> tuple[str, ...]:
    """Validate a token's Project list: names or ``*``; at least one."""
    checked = tuple(dict.fromkeys(p.strip() for p in projects))
    if not checked:
        raise errors.ConfigError("a token needs at least one Project (or '*' for all)")
    for project in checked:
        if project == ALL_PROJECTS:
            continue
        try:
            applications.check_dns_label(project, "project")
        except ValueError as exc:
            raise errors.ConfigError(str(exc)) from None
    return checked


class Authenticator:
    """Turns request headers into a :class:`Principal` (one store lookup)."""

    def __init__(self, store: store_base.Store, settings: config_settings.AuthSettings) -> None:
        self._store = store
        self._anonymous = (
            Principal(ANONYMOUS, Role.READ_ONLY, (ALL_PROJECTS,))
            if settings.anonymous == "read-only"
            else None
        )

    async def identify(self, headers: Mapping[str, str]) -> Principal:
        header = headers.get("authorization", "")
        if not header:
            if self._anonymous is not None:
                return self._anonymous
            raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        if len(token) > _MAX_TOKEN_LENGTH:
            raise Unauthorized("the bearer token is not valid")
        found = await self._store.find_token(hash_token(token))
        if found is None:
            # Neither the token nor its hash is echoed: either may be a secret
            # pasted in the wrong place.
            raise Unauthorized("the bearer token is not valid (unknown or revoked)")
        try:
            role = Role(found.role)
        except ValueError:
            raise Unauthorized(f"token {found.name!r} has an unknown role") from None
        return Principal(found.name, role, tuple(found.projects))
