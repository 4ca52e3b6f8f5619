"""Dotenv files as sops reads them (private to ``render.sops``).

A sops dotenv file is ``KEY=value`` lines (``\\n`` escapes a newline, ``#``
lines are comments outside the MAC); its metadata rides along as
``sops_*`` lines whose keys flatten the metadata tree
(``sops_age__list_0__map_enc``). :func:`branch` splits the two,
:func:`unflatten` rebuilds the tree the YAML and JSON formats carry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gitward import errors


def branch(text: str, source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values, flattened sops metadata) of a dotenv file, as sops reads it."""
    values: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line or line.startswith("#"):
            continue  # comments are never part of the MAC
        name, sep, value = line.partition("=")
        if not sep:
            raise errors.DecryptionError(f"{source}, line {number}: not a KEY=value line")
        value = value.replace("\\n", "\n")
        if name.startswith("sops_"):
            meta[name[len("sops_") :]] = value
        elif name in values:
            raise errors.DecryptionError(f"{source}, line {number}: duplicate key {name!r}")
        else:
            values[name] = value
    return values, meta


def unflatten(flat: Mapping[str, Any], source: str) -> dict[str, Any]:
    """sops's flattened metadata keys (``age__list_0__map_enc``) back to a tree."""
    root: dict[str, Any] = {}
    for flat_key, value in flat.items():
        tokens = re.split(r"(__map_|__list_)", flat_key)
        node: Any = root
        steps: list[str | int] = [tokens[0]]
        for marker, token in zip(tokens[1::2], tokens[2::2], strict=True):
            if marker == "__list_":
                if not token.isdigit():
                    raise errors.DecryptionError(
                        f"{source}: malformed metadata key sops_{flat_key}"
                    )
                steps.append(int(token))
            else:
                steps.append(token)
        for step, following in zip(steps, [*steps[1:], None], strict=True):
            container: Any = [] if isinstance(following, int) else {}
            if isinstance(step, int):
                if not isinstance(node, list):
                    raise errors.DecryptionError(
                        f"{source}: malformed metadata key sops_{flat_key}"
                    )
                while len(node) <= step:
                    node.append(None)
                if following is None:
                    node[step] = value
                elif node[step] is None:
                    node[step] = container
                node = node[step]
            else:
                if not isinstance(node, dict):
                    raise errors.DecryptionError(
                        f"{source}: malformed metadata key sops_{flat_key}"
                    )
                if following is None:
                    node[step] = value
                else:
                    node = node.setdefault(step, container)
    return root
