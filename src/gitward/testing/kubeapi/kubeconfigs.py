"""Kubeconfig files that point kubectl, lightkube or gitward at a test server.

Called by :meth:`KubeAPIServer.write_kubeconfig` and the ``gitward testing
kube-api`` command. The file holds the bearer token when one is set, so it is
written with mode 0600.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml


def render(
    url: str,
    *,
    context: str,
    namespace: str,
    token: str | None,
    ca_pem: bytes | None,
) -> str:
    cluster: dict[str, str] = {"server": url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    user: dict[str, str] = {"token": token} if token else {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": user}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": context, "namespace": namespace},
            }
        ],
        "current-context": context,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
