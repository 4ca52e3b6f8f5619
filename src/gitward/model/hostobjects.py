"""Names of the host target's object kinds, shared by every stage that meets them.

A host target's objects are Kubernetes-shaped (``apiVersion``, ``kind``,
``metadata``, ``spec``) so the render, diff and engine stages treat them as
they treat any object: ``apiVersion: host.gitward.dev/v1``, kinds ``File``,
``Directory``, ``Symlink`` and ``Command``. A File whose content is secret,
or a Command whose environment is (decrypted from SOPS, or declared
``secret: true``), has that content or those values masked wherever objects
are shown.
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


# What a secret host object may not show: a File's content, a Command's
# environment values.
SECRET_FIELDS = {FILE: "content", COMMAND: "env"}


def is_secret(obj: Mapping[str, Any]) -> bool:
    """A host File or Command marked secret: its SECRET_FIELDS never shown."""
    if not is_host_object(obj) or obj.get("kind") not in SECRET_FIELDS:
        return False
    spec = obj.get("spec")
    return isinstance(spec, Mapping) and spec.get("secret") is True
