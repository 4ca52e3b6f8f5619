"""Names of the host target's object kinds, shared by every stage that meets them.

A host target's objects are Kubernetes-shaped (``apiVersion``, ``kind``,
``metadata``, ``spec``) so the render, diff and engine stages treat them as
they treat any object: ``apiVersion: host.gitward.dev/v1``, kinds ``File``,
``Directory``, ``Symlink`` and ``Command``. A File whose content is secret
(decrypted from SOPS, or declared ``secret: true``) has its content masked
wherever objects are shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GROUP = "host.gitward.dev"
API_VERSION = f"{GROUP}/v1"
FILE = "File"
DIRECTORY = "Directory"
SYMLINK = "Symlink"
COMMAND = "Command"
KINDS = (FILE, DIRECTORY, SYMLINK, COMMAND)


def is_host_object(obj: Mapping[str, Any]) -> bool:
    return str(obj.get("apiVersion") or "").startswith(GROUP + "/")


def is_secret_file(obj: Mapping[str, Any]) -> bool:
    """A host File whose content must never be shown."""
    if not is_host_object(obj) or obj.get("kind") != FILE:
        return False
    spec = obj.get("spec")
    return isinstance(spec, Mapping) and spec.get("secret") is True
