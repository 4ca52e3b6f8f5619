"""Who is using the web UI: the login cookie, CSRF tokens and same-origin checks.

Called by ``gitward.web.pages`` and ``gitward.web.streaming`` on every request.
The UI accepts the same API tokens as the REST API and checks them the same
way (``gitward.api.auth.Authenticator``: the store keeps only their SHA-256),
so a token's role and Projects mean the same thing on both edges.

* Logging in stores the token in an ``HttpOnly``, ``SameSite=Strict`` cookie
  (``Secure`` when served over https): scripts cannot read it and no other site
  can make the browser send it.
* Every POST carries a CSRF token derived from the session (an HMAC of the
  token's hash under a per-process key) and must come from this origin
  (``Origin`` / ``Sec-Fetch-Site``), belt and braces beside SameSite.
* Without a cookie, ``auth.anonymous: read-only`` lets people read; actions
  always need a token with the ``admin`` role on the Application's Project.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.parse
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from gitward import errors
from gitward.api import auth
from gitward.config import settings as config_settings
from gitward.store import base as store_base

COOKIE = "gitward_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Session:
    """The caller of one request: who, and the CSRF token their forms carry.

    ``csrf`` is empty for anonymous readers: they have no form to post.
    """

    principal: auth.Principal
    csrf: str

    @property
    def anonymous(self) -> bool:
        return self.principal.name == auth.ANONYMOUS


class Sessions:
    """Login, logout and request identification for the UI (one per server)."""

    def __init__(self, store: store_base.Store, settings: config_settings.Settings) -> None:
        self._authenticator = auth.Authenticator(store, settings.auth)
        self._anonymous_reads = settings.auth.anonymous == "read-only"
        # Per-process: a restart invalidates open forms (reload and retry),
        # never the login itself.
        self._key = secrets.token_bytes(32)

    async def check_token(self, token: str) -> auth.Principal:
        """The principal of a token typed into the login form; raises
        :class:`gitward.api.auth.Unauthorized` when it is not valid."""
        token = token.strip()
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            raise auth.Unauthorized("the token is not valid")
        return await self._authenticator.identify({"authorization": f"Bearer {token}"})

    async def identify(self, request: Request) -> Session | None:
        """The session of ``request``; None when the caller must log in first."""
        token = request.cookies.get(COOKIE, "")
        if token:
            try:
                principal = await self.check_token(token)
            except auth.Unauthorized:
                return None  # revoked since login: log in again
            return Session(principal, self._csrf(token))
        if self._anonymous_reads:
            return Session(auth.Principal(auth.ANONYMOUS, auth.Role.READ_ONLY, ("*",)), "")
        return None

    def csrf_ok(self, request: Request, session: Session, submitted: str) -> bool:
        """True when ``submitted`` is this session's CSRF token and the request
        comes from this origin."""
        if session.anonymous or not same_origin(request):
            return False
        return hmac.compare_digest(session.csrf.encode(), submitted.encode())

    def _csrf(self, token: str) -> str:
        digest = auth.hash_token(token).encode()
        return hmac.new(self._key, b"csrf:" + digest, hashlib.sha256).hexdigest()

    @staticmethod
    def log_in(response: Response, request: Request, token: str) -> None:
        response.set_cookie(
            COOKIE,
            token.strip(),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )

    @staticmethod
    def log_out(response: Response, request: Request) -> None:
        response.delete_cookie(
            COOKIE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def same_origin(request: Request) -> bool:
    """Whether a state-changing request was made by a page of this server.

    Browsers send ``Sec-Fetch-Site`` and ``Origin`` on POSTs; when present they
    must say same-origin. A client that sends neither (curl, an old browser) is
    judged by the CSRF token alone.
    """
    fetch_site = request.headers.get("sec-fetch-site", "")
    if fetch_site and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin", "")
    if not origin:
        return True
    host = request.headers.get("host", "")
    return origin in (f"{request.url.scheme}://{host}", f"http://{host}", f"https://{host}")


def local_path(target: str) -> str:
    """``target`` when it is a path on this server, else ``/`` (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class FormTooLarge(errors.InputError):
    """A form post larger than the UI's forms can be (:data:`MAX_FORM_BYTES`)."""

    reason = "FormTooLarge"


# The UI's forms hold a token, a CSRF token and a revision: a few hundred
# bytes. Anything far larger is not one of them.
MAX_FORM_BYTES = 16 * 1024


async def read_form(request: Request) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` post (the only
    kind the UI sends; last value wins). Other bodies give no fields.

    Parsed here rather than by Starlette, whose form parser needs
    ``python-multipart``, a dependency for uploads the UI never takes.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge(f"form posted to {request.url.path} exceeds {MAX_FORM_BYTES} bytes")
    if kind != "application/x-www-form-urlencoded":
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, max_num_fields=32)
    return dict(pairs)
