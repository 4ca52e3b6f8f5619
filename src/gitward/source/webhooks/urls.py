"""Repository URL normalisation: one comparison key for every way of writing
the address of the same repository.

A push payload names its repository in several forms (HTTPS clone URL, SSH,
``git://``, the web page) and an Application's ``repoURL`` may use any other;
the agent's webhook endpoint compares :func:`normalise_url` of both (through
:meth:`gitward.source.webhooks.events.PushEvent.matches`).

The key is ``host[:port]/path``, deliberately without a scheme, so that
``https://github.com/Org/Repo.git``, ``https://github.com/org/repo``,
``git@github.com:org/repo.git`` and ``ssh://git@github.com/org/repo.git`` all
become ``github.com/org/repo``:

* the scheme and any ``user[:password]@`` are dropped; scp-like addresses
  (``[user@]host:path``) are read as SSH;
* the host is lowercased; a port is kept unless it is the scheme's default
  (80 http, 443 https, 22 ssh, 9418 git). A self-hosted forge whose SSH port
  differs from its HTTPS port is still matched, because the payload gives both
  of its clone URLs;
* query and fragment are dropped; repeated slashes collapse; trailing ``/`` and
  ``.git`` are removed;
* the path keeps its case, except on hosts whose repository paths are
  case-insensitive: github.com, gitlab.com and bitbucket.org (``Org/Repo`` and
  ``org/repo`` are one repository there; on a self-hosted Gitea or GitLab they
  may not be, and a wrong match would refresh the wrong Application);
* ``file://`` URLs and absolute local paths become the cleaned path.

The function is idempotent: a key normalises to itself. A scheme-less key with
a port (``git.example.com:2222/org/repo``) is read back as host and port;
consequently an scp-like address whose first path segment is all digits must
carry its user (``git@host:1234/repo.git``), as every forge displays them.
"""

from __future__ import annotations

import fnmatch
import re

from gitward import errors

CASE_INSENSITIVE_HOSTS = frozenset({"github.com", "www.github.com", "gitlab.com", "bitbucket.org"})

_DEFAULT_PORTS = {
    "http": "80",
    "https": "443",
    "ssh": "22",
    "git+ssh": "22",
    "ssh+git": "22",
    "git": "9418",
}

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", re.DOTALL)
# An already normalised key that carries a port: host:port[/path], no user.
_KEY_WITH_PORT = re.compile(r"([^@/:\[\]]+|\[[^\]/]*\]):([0-9]{1,5})(/.*)?", re.DOTALL)
# scp-like ssh address: [user@]host:path, the colon before any slash (git's rule).
_SCP_LIKE = re.compile(r"(?:[^@/]*@)?([^@/:\[\]]+|\[[^\]/]*\]):(.*)", re.DOTALL)
_PORT = re.compile(r"[0-9]{1,5}")
_SLASHES = re.compile(r"/{2,}")


def normalise_url(url: str) -> str:
    """The comparison key of a repository URL (see the module docstring).

    Raises :class:`gitward.errors.InputError` for an empty URL, one with no
    host, or one whose port is not a number.
    """
    text = url.strip()
    if not text:
        raise errors.InputError("repository URL is empty")
    scheme_match = _SCHEME.fullmatch(text)
    if scheme_match is not None:
        return _from_url(scheme_match.group(1).lower(), scheme_match.group(2), url)
    if text.startswith("/"):
        return _clean_local(text)
    key_match = _KEY_WITH_PORT.fullmatch(text)
    if key_match is not None:
        host, port, path = key_match.group(1), key_match.group(2), key_match.group(3) or ""
        return _key(host, str(int(port)), path)
    scp_match = _SCP_LIKE.fullmatch(text)
    if scp_match is not None:
        return _key(scp_match.group(1), "", "/" + scp_match.group(2))
    if text.startswith("["):
        host, _, path = text.partition("]")
        return _key(host + "]", "", path)
    host, slash, path = text.partition("/")
    return _key(host, "", slash + path)


def _from_url(scheme: str, rest: str, original: str) -> str:
    for mark in ("?", "#"):
        rest = rest.partition(mark)[0]
    authority, slash, path = rest.partition("/")
    if scheme == "file":
        return _clean_local("/" + path if slash else "/")
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        host, _, after = hostport.partition("]")
        host += "]"
        port = after[1:] if after.startswith(":") else after
    else:
        host, _, port = hostport.partition(":")
    if not host:
        raise errors.InputError(f"repository URL {_describe(original)} has no host")
    if port and not _PORT.fullmatch(port):
        raise errors.InputError(f"repository URL {_describe(original)} has an invalid port")
    port = str(int(port)) if port else ""
    if port == _DEFAULT_PORTS.get(scheme):
        port = ""
    return _key(host, port, slash + path)


def _key(host: str, port: str, path: str) -> str:
    # Trailing blanks go too (``0\r/``): a key normalises to itself.
    host = host.strip().lower()
    path = _SLASHES.sub("/", path).rstrip()
    while path.endswith(("/", ".git")):
        path = (path[:-1] if path.endswith("/") else path[:-4]).rstrip()
    if host in CASE_INSENSITIVE_HOSTS:
        path = path.lower()
    return f"{host}:{port}{path}" if port else f"{host}{path}"


def _clean_local(path: str) -> str:
    path = _SLASHES.sub("/", path)
    while len(path) > 1 and path.endswith(("/", ".git")):
        path = path[:-1] if path.endswith("/") else path[:-4]
    return path or "/"


def _describe(url: str) -> str:
    # Only the scheme and host part, without any userinfo: a pasted URL may
    # carry a password.
    scheme, _, rest = url.strip().partition("://")
    authority = rest.partition("/")[0].rpartition("@")[2]
    return f"{scheme}://{authority}/..."


def _transport(url: str) -> str:
    """How a URL is fetched: 'http', 'ssh', 'git', 'file' ('' when unsaid)."""
    text = url.strip()
    match = _SCHEME.fullmatch(text)
    if match is not None:
        scheme = match.group(1).lower()
        if scheme in ("http", "https"):
            return "http"
        if scheme in ("ssh", "git+ssh", "ssh+git"):
            return "ssh"
        return scheme
    if text.startswith("/"):
        return "file"
    if _SCP_LIKE.fullmatch(text) is not None and "@" in text.partition(":")[0]:
        return "ssh"
    return ""


def glob_matches(pattern: str, url: str, *, same_transport: bool = False) -> bool:
    """Whether the repository URL glob ``pattern`` (as written in gitward.yaml,
    e.g. ``https://git.example.com/org/*``) matches ``url``.

    Both sides are normalised (see :func:`normalise_url`), so the documented
    form matches the scheme-less keys webhook payloads are compared by, and a
    URL written with a user, another case of host or without ``.git``.
    ``same_transport``: the pattern's scheme must also agree with the URL's
    (https vs ssh), where it decides which kind of credentials is used.
    """
    if fnmatch.fnmatchcase(url, pattern):
        return True
    if same_transport:
        wanted, got = _transport(pattern), _transport(url)
        if wanted and got and wanted != got:
            return False
    try:
        key, pattern_key = normalise_url(url), normalise_url(pattern)
    except errors.InputError:
        return False
    return fnmatch.fnmatchcase(key, pattern_key)
