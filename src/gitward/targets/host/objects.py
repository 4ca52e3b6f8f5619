"""The host target's kinds, read from rendered objects into checked values.

``apiVersion: host.gitward.dev/v1``; every path is confined to the target's
roots here, lexically (``confining.confine``), before anything touches the
disk; apply time confines again against symlinks (``confining.open_parent``).

* ``File``: ``path``, ``content`` (text; ``fromFile`` is resolved to content
  by the render stage), ``mode``, ``owner``, ``group``, ``secret`` (content
  masked wherever shown; set for SOPS-decrypted content), ``onChange`` (names
  of Commands run after the file changed);
* ``Directory``: ``path``, ``mode``, ``owner``, ``group``;
* ``Symlink``: ``path``, ``target`` (absolute, or relative to the link's
  directory; it must lead inside the roots), ``owner``, ``group``;
* ``Command``: ``command`` (argv list), ``timeout`` (seconds or ``30s``/``2m``),
  ``workingDir``, ``env``, ``secret`` (``env`` values masked wherever shown;
  set for a Command from a SOPS-encrypted manifest).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitward import errors
from gitward.model import hostobjects, resources
from gitward.targets.host import confining

DEFAULT_FILE_MODE = 0o644
DEFAULT_DIRECTORY_MODE = 0o755
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 3600.0
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class FileSpec:
    path: str
    content: str
    mode: int | None = None
    owner: str = ""
    group: str = ""
    secret: bool = False
    on_change: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DirectorySpec:
    path: str
    mode: int | None = None
    owner: str = ""
    group: str = ""


@dataclass(frozen=True, slots=True)
class SymlinkSpec:
    path: str
    target: str  # as declared
    resolved: str  # absolute, normalised: where it leads
    owner: str = ""
    group: str = ""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    command: tuple[str, ...]
    timeout: float = DEFAULT_TIMEOUT
    working_dir: str = ""
    env: Mapping[str, str] = field(default_factory=dict)


Spec = FileSpec | DirectorySpec | SymlinkSpec | CommandSpec


def describe(manifest: resources.Manifest) -> str:
    return f"{manifest.key}" + (f" ({manifest.source})" if manifest.source else "")


def parse(manifest: resources.Manifest, roots: Sequence[str]) -> Spec:
    """The checked spec of a host object; ApplyError naming it when it is wrong."""
    where = describe(manifest)
    body = manifest.body
    if body.get("apiVersion") != hostobjects.API_VERSION:
        raise errors.ApplyError(
            f"{where}: apiVersion {body.get('apiVersion')!r} is not served by a host target "
            f"(it serves {hostobjects.API_VERSION})"
        )
    kind = manifest.key.kind
    if kind not in hostobjects.KINDS:
        raise errors.ApplyError(
            f"{where}: kind {kind!r} is not served by a host target "
            f"(kinds: {', '.join(hostobjects.KINDS)})"
        )
    if not _NAME.match(manifest.key.name):
        raise errors.ApplyError(f"{where}: metadata.name must be a DNS subdomain name")
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        raise errors.ApplyError(f"{where}: spec is missing or not a mapping")
    allowed = _FIELDS[kind]
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise errors.ApplyError(
            f"{where}: unknown field(s) spec.{', spec.'.join(unknown)} "
            f"(a {kind} has {', '.join(sorted(allowed))})"
        )
    if kind == hostobjects.COMMAND:
        return _command(spec, where)
    path = confining.confine(_text(spec, "path", where, required=True), roots, what=where)
    owner, group = _text(spec, "owner", where), _text(spec, "group", where)
    if kind == hostobjects.FILE:
        if "fromFile" in spec:
            raise errors.ApplyError(
                f"{where}: spec.fromFile reached the target unresolved (the render resolves it)"
            )
        if path in roots:
            raise errors.ApplyError(f"{where}: path {path!r} is a root, not a file in one")
        on_change = spec.get("onChange", [])
        if not isinstance(on_change, list) or not all(isinstance(n, str) for n in on_change):
            raise errors.ApplyError(f"{where}: spec.onChange must be a list of Command names")
        secret = spec.get("secret", False)
        if not isinstance(secret, bool):
            raise errors.ApplyError(f"{where}: spec.secret must be true or false")
        content = spec.get("content", "")
        if not isinstance(content, str):
            raise errors.ApplyError(f"{where}: spec.content must be text")
        return FileSpec(
            path=path,
            content=content,
            mode=_mode(spec, where),
            owner=owner,
            group=group,
            secret=secret,
            on_change=tuple(dict.fromkeys(on_change)),
        )
    if kind == hostobjects.DIRECTORY:
        return DirectorySpec(path=path, mode=_mode(spec, where), owner=owner, group=group)
    if path in roots:
        raise errors.ApplyError(f"{where}: path {path!r} is a root, not a link in one")
    target = _text(spec, "target", where, required=True)
    joined = target if target.startswith("/") else posixpath.join(posixpath.dirname(path), target)
    resolved = confining.confine(
        posixpath.normpath(joined), roots, what=f"{where}: symlink target {target!r}"
    )
    return SymlinkSpec(path=path, target=target, resolved=resolved, owner=owner, group=group)


def mode_text(mode: int) -> str:
    return f"{mode:04o}"


def _text(spec: Mapping[str, Any], name: str, where: str, *, required: bool = False) -> str:
    value = spec.get(name, "")
    if isinstance(value, int) and not isinstance(value, bool) and name in ("owner", "group"):
        return str(value)
    if not isinstance(value, str):
        raise errors.ApplyError(f"{where}: spec.{name} must be text")
    if required and not value:
        raise errors.ApplyError(f"{where}: spec.{name} is required")
    return value


def _mode(spec: Mapping[str, Any], where: str) -> int | None:
    value = spec.get("mode")
    if value is None:
        return None
    if isinstance(value, bool):
        raise errors.ApplyError(f"{where}: spec.mode must be octal text such as '0644'")
    if isinstance(value, int):
        mode = value  # YAML 1.1 reads an unquoted 0644 as the number it means
    elif isinstance(value, str) and re.fullmatch(r"0?o?[0-7]{3,4}", value):
        mode = int(value.replace("o", ""), 8)
    else:
        raise errors.ApplyError(f"{where}: spec.mode {value!r} is not an octal mode like '0644'")
    if not 0 <= mode <= 0o7777:
        raise errors.ApplyError(f"{where}: spec.mode {value!r} is out of range")
    return mode


def _command(spec: Mapping[str, Any], where: str) -> CommandSpec:
    argv = spec.get("command")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise errors.ApplyError(f"{where}: spec.command must be a non-empty list of strings")
    env = spec.get("env", {})
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise errors.ApplyError(f"{where}: spec.env must map names to strings")
    if not isinstance(spec.get("secret", False), bool):
        raise errors.ApplyError(f"{where}: spec.secret must be true or false")
    working_dir = _text(spec, "workingDir", where)
    if working_dir and not working_dir.startswith("/"):
        raise errors.ApplyError(f"{where}: spec.workingDir {working_dir!r} is not absolute")
    return CommandSpec(
        command=tuple(argv),
        timeout=_timeout(spec.get("timeout", DEFAULT_TIMEOUT), where),
        working_dir=working_dir,
        env=dict(env),
    )


def _timeout(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise errors.ApplyError(f"{where}: spec.timeout must be seconds or a duration like '30s'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (found := _DURATION.match(value.strip())):
        seconds = float(found.group(1)) * _UNITS[found.group(2)]
    else:
        raise errors.ApplyError(f"{where}: spec.timeout {value!r} is not a duration like '30s'")
    if not 0 < seconds <= MAX_TIMEOUT:
        raise errors.ApplyError(
            f"{where}: spec.timeout must be above 0 and at most {MAX_TIMEOUT:g}s"
        )
    return seconds


_FIELDS: dict[str, frozenset[str]] = {
    hostobjects.FILE: frozenset(
        {"path", "content", "fromFile", "mode", "owner", "group", "secret", "onChange"}
    ),
    hostobjects.DIRECTORY: frozenset({"path", "mode", "owner", "group"}),
    hostobjects.SYMLINK: frozenset({"path", "target", "owner", "group"}),
    hostobjects.COMMAND: frozenset({"command", "timeout", "workingDir", "env", "secret"}),
}
