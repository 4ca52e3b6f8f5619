"""Listing an image's tags over the OCI Distribution API (v2), with authentication.

``GET /v2/<name>/tags/list?n=<page>``, following the ``Link: <...>;
rel="next"`` header page by page (Distribution, Harbor, GHCR, ECR and Docker
Hub all paginate). A 401 answer's ``WWW-Authenticate`` header says how to
authenticate:

* ``Basic realm=...``: the request is repeated with the credentials;
* ``Bearer realm=...,service=...,scope=...``: a token is asked from the realm
  (with the credentials as basic auth when there are any, anonymously
  otherwise) for ``repository:<name>:pull`` and sent as ``Authorization:
  Bearer``; tokens are kept until shortly before they expire.

Credentials are references (an environment variable or a file holding the
password), read when a request needs them, and never logged nor put in a
message. Errors: :class:`RegistryAuthError` (credentials refused),
:class:`ImageNotFound` (no such repository), :class:`RegistryUnavailable`
(network, timeout, 5xx: retry later). Called by ``engine.imaging``.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gitward import errors
from gitward.images import references

_PAGE_SIZE = 1000
_MAX_PAGES = 1000
_MAX_TAGS = 200_000
_MAX_BODY = 32 * 1024 * 1024
_TOKEN_MARGIN = 10.0  # seconds before expiry a token is renewed
_DEFAULT_TOKEN_LIFETIME = 60.0  # what the token spec says to assume
_CHALLENGE_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))')
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?')


class RegistryUnavailable(errors.RetryableError):
    """The registry could not be reached, timed out or answered 5xx."""

    reason = "RegistryUnavailable"


class RegistryAuthError(errors.InputError):
    """The registry refused the credentials (or asks for some and none are set)."""

    reason = "RegistryAuthFailed"


class ResponseTooLarge(errors.InputError):
    """The registry's answer is over the size limit the caller set."""

    reason = "RegistryUnavailable"


class ImageNotFound(errors.InputError):
    """The registry has no such repository."""

    reason = "ImageNotFound"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and a reference to the password: ``password_env`` or ``password_file``."""

    username: str = ""
    password_env: str = ""
    password_file: Path | None = None

    def __post_init__(self) -> None:
        if self.password_env and self.password_file is not None:
            raise errors.ConfigError(
                f"registry credentials of {self.username or '(no user)'}: set passwordEnv or "
                "passwordFile, not both"
            )

    def password(self, where: str) -> str:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise errors.ConfigError(
                    f"{where}: environment variable {self.password_env} (registry password) "
                    "is not set"
                )
            return value
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise errors.ConfigError(
                    f"{where}: cannot read the registry password file {self.password_file}: "
                    f"{exc.strerror}"
                ) from None
        return ""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How to reach one registry host."""

    host: str
    # http only where asked (a registry on loopback, an in-cluster mirror).
    insecure: bool = False
    credentials: Credentials | None = None
    ca_file: Path | None = None
    timeout: float = 30.0

    @property
    def base_url(self) -> str:
        return f"{'http' if self.insecure else 'https'}://{self.host}"


@dataclass(slots=True)
class _Token:
    value: str
    expires: float


@dataclass(slots=True)
class RegistryClient:
    """A client for one registry; reuse it to keep connections and tokens.

    ``transport`` replaces the network (an ``httpx.MockTransport`` in tests
    of callers); ``clock`` is monotonic seconds.
    """

    endpoint: Endpoint
    transport: httpx.AsyncBaseTransport | None = None
    clock: Any = time.monotonic
    page_size: int = _PAGE_SIZE
    _client: httpx.AsyncClient | None = field(default=None, init=False)
    _tokens: dict[str, _Token] = field(default_factory=dict, init=False)

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            verify: ssl.SSLContext | bool = True
            if self.endpoint.ca_file is not None:
                verify = ssl.create_default_context(cafile=str(self.endpoint.ca_file))
            self._client = httpx.AsyncClient(
                base_url=self.endpoint.base_url,
                timeout=self.endpoint.timeout,
                verify=verify,
                transport=self.transport,
                follow_redirects=True,
                headers={"User-Agent": "gitward"},
            )
        return self._client

    async def tags(self, repository: str) -> list[str]:
        """Every tag of ``repository`` (a path on this registry, ``org/web``)."""
        where = f"image {self.endpoint.host}/{repository}"
        url: str | None = f"/v2/{repository}/tags/list?n={self.page_size}"
        found: list[str] = []
        seen_urls: set[str] = set()
        for _ in range(_MAX_PAGES):
            if url is None:
                return found
            if url in seen_urls:
                raise RegistryUnavailable(f"{where}: the registry's tag pages loop back")
            seen_urls.add(url)
            response = await self._get(url, repository, where)
            found.extend(_tag_page(response, where))
            if len(found) > _MAX_TAGS:
                raise RegistryUnavailable(f"{where}: more than {_MAX_TAGS} tags; refusing")
            url = _next_page(response)
        raise RegistryUnavailable(f"{where}: more than {_MAX_PAGES} pages of tags")

    async def _get(self, url: str, repository: str, where: str) -> httpx.Response:
        response = await self.get(url, repository, where)
        if response.status_code == 404:
            raise ImageNotFound(f"{where}: no such repository on the registry")
        return response

    async def get(
        self,
        url: str,
        repository: str,
        where: str,
        *,
        accept: str = "",
        max_bytes: int = _MAX_BODY,
    ) -> httpx.Response:
        """GET ``url`` (a ``/v2/...`` path) with pull access to ``repository``.

        Answers 200 or 404 (the caller says what is missing); raises for the
        rest. The body is read as a stream and refused past ``max_bytes``
        (:class:`ResponseTooLarge`), so a registry cannot make us hold more.
        Manifests (``accept`` their media types) and blobs (chart archives,
        for ``gitward.source``) come through here.
        """
        scope = f"repository:{repository}:pull"
        headers = self._auth_header(scope)
        if accept:
            headers["Accept"] = accept
        response = await self._send(url, headers, where, max_bytes)
        if response.status_code == 401:
            challenge = response.headers.get("www-authenticate", "")
            headers = {**headers, **await self._authenticate(challenge, scope, where)}
            response = await self._send(url, headers, where, max_bytes)
            if response.status_code == 401:
                raise RegistryAuthError(f"{where}: the registry refused the credentials")
        if response.status_code == 403:
            raise RegistryAuthError(f"{where}: access denied by the registry")
        if response.status_code == 429 or response.status_code >= 500:
            raise RegistryUnavailable(f"{where}: the registry answered {response.status_code}")
        if response.status_code not in (200, 404):
            raise RegistryUnavailable(
                f"{where}: unexpected answer {response.status_code} to GET {url.split('?')[0]}"
            )
        return response

    async def _send(
        self, url: str, headers: Mapping[str, str], where: str, max_bytes: int = _MAX_BODY
    ) -> httpx.Response:
        try:
            async with self._http().stream("GET", url, headers=dict(headers)) as streamed:
                declared = streamed.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise ResponseTooLarge(
                        f"{where}: answer of {declared} bytes is over the {max_bytes}-byte limit"
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in streamed.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise ResponseTooLarge(
                            f"{where}: answer larger than the {max_bytes}-byte limit"
                        )
                    chunks.append(chunk)
        except httpx.TimeoutException:
            raise RegistryUnavailable(
                f"{where}: no answer within {self.endpoint.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"{where}: {type(exc).__name__}: {_clean(exc)}") from None
        # The body is already decoded: drop what described its encoding.
        kept = [
            (name, value)
            for name, value in streamed.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            streamed.status_code,
            headers=kept,
            content=b"".join(chunks),
            request=streamed.request,
        )

    def _auth_header(self, scope: str) -> dict[str, str]:
        token = self._tokens.get(scope)
        if token is not None and token.expires > self.clock():
            return {"Authorization": f"Bearer {token.value}"}
        return {}

    def _basic(self, where: str) -> httpx.BasicAuth | None:
        creds = self.endpoint.credentials
        if creds is None or not creds.username:
            return None
        return httpx.BasicAuth(creds.username, creds.password(where))

    async def _authenticate(self, challenge: str, scope: str, where: str) -> dict[str, str]:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            creds = self.endpoint.credentials
            if creds is None or not creds.username:
                raise RegistryAuthError(
                    f"{where}: the registry asks for a username and password; none are set"
                )
            pair = f"{creds.username}:{creds.password(where)}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        if scheme != "bearer" or not params.get("realm"):
            raise RegistryAuthError(
                f"{where}: unsupported authentication challenge {scheme or '(none)'!r}"
            )
        token = await self._token(params, scope, where)
        self._tokens[scope] = token
        return {"Authorization": f"Bearer {token.value}"}

    async def _token(self, params: Mapping[str, str], scope: str, where: str) -> _Token:
        realm = params["realm"]
        parsed = urllib.parse.urlsplit(realm)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise RegistryAuthError(f"{where}: token realm {realm!r} is not an http(s) URL")
        if parsed.scheme == "http" and not self.endpoint.insecure:
            # Credentials never travel in clear to a realm an https registry names.
            raise RegistryAuthError(f"{where}: token realm {realm!r} is not https")
        query = {"scope": scope}
        if params.get("service"):
            query["service"] = params["service"]
        try:
            response = await self._http().get(realm, params=query, auth=self._basic(where))
        except httpx.TimeoutException:
            raise RegistryUnavailable(f"{where}: the token service {realm} timed out") from None
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(
                f"{where}: the token service {realm}: {type(exc).__name__}: {_clean(exc)}"
            ) from None
        if response.status_code in (401, 403):
            raise RegistryAuthError(f"{where}: the token service {realm} refused the credentials")
        if response.status_code != 200:
            raise RegistryUnavailable(
                f"{where}: the token service {realm} answered {response.status_code}"
            )
        try:
            body = response.json()
        except ValueError:
            raise RegistryUnavailable(
                f"{where}: the token service {realm} did not answer JSON"
            ) from None
        value = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise RegistryUnavailable(f"{where}: the token service {realm} sent no token")
        lifetime = body.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 0.0
        seconds = max(seconds, _DEFAULT_TOKEN_LIFETIME)
        return _Token(value=value, expires=self.clock() + seconds - _TOKEN_MARGIN)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` → ("bearer", {"realm": ..., ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for match in _CHALLENGE_PARAM.finditer(rest):
        quoted = match.group(2)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(3)
        params[match.group(1).lower()] = value
    return scheme.lower(), params


def _tag_page(response: httpx.Response, where: str) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        raise RegistryUnavailable(f"{where}: the tag list is not JSON") from None
    if not isinstance(body, dict):
        raise RegistryUnavailable(f"{where}: the tag list is not a JSON object")
    tags = body.get("tags") or []
    if not isinstance(tags, list):
        raise RegistryUnavailable(f"{where}: the tag list's `tags` is not a list")
    return [t for t in tags if isinstance(t, str) and references.TAG.fullmatch(t)]


def _next_page(response: httpx.Response) -> str | None:
    link = response.headers.get("link")
    if not link:
        return None
    match = _LINK_NEXT.search(link)
    if match is None:
        return None
    target = urllib.parse.urljoin(str(response.request.url), match.group(1))
    base = urllib.parse.urlsplit(str(response.request.url))
    nxt = urllib.parse.urlsplit(target)
    if (nxt.scheme, nxt.netloc) != (base.scheme, base.netloc):
        # A page on another host would get our token; registries never do that.
        return None
    return str(urllib.parse.urlunsplit(("", "", nxt.path, nxt.query, "")))


def _clean(exc: Exception) -> str:
    # httpx errors can repeat the URL; ours never carry userinfo, but be sure.
    return re.sub(r"//[^/@\s]*@", "//", str(exc))[:300]


async def list_tags(
    image: str,
    *,
    credentials: Credentials | None = None,
    insecure: bool = False,
    ca_file: Path | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 (bounds each request)
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[str]:
    """Every tag of ``image`` (a reference; its tag, if any, is ignored)."""
    reference = references.parse(image)
    endpoint = Endpoint(
        host=reference.api_host,
        insecure=insecure,
        credentials=credentials,
        ca_file=ca_file,
        timeout=timeout,
    )
    async with RegistryClient(endpoint, transport=transport) as client:
        return await client.tags(reference.repository)
