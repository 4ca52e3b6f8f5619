"""The variables an Application's ``postBuild`` substitutes, gathered from where they live.

Lowest precedence first: the destination target's name and labels
(``${target_name}``, ``${target_<label>}``, the label key with every character
outside ``[A-Za-z0-9_]`` made ``_``), then each ``substituteFrom`` entry in
order (a ConfigMap's or Secret's entries, read from the cluster named by the
agent's ``variables`` setting: a repository never chooses which Secret is
read), then the Application's own ``substitute`` map. Entries of a Secret are
marked secret (see ``render.substituting``). Called by ``engine.reconciling``;
the values go into the render request and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import re

from gitward import errors
from gitward.config import applications
from gitward.engine import runtimes
from gitward.model import resources
from gitward.render import base as render_base

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def label_variable(key: str) -> str:
    return "target_" + _UNSAFE.sub("_", key)


async def variables(
    runtime: runtimes.Runtime, app: applications.Application
) -> render_base.Variables | None:
    post_build = app.spec.post_build
    if post_build is None:
        return None
    target = app.spec.destination.target
    values: dict[str, str] = {"target_name": target}
    declared = runtime.settings.targets.get(target)
    if declared is not None:
        values.update({label_variable(k): v for k, v in declared.labels.items()})
    secret: set[str] = set()
    for ref in post_build.substitute_from:
        entries, is_secret = await _read(runtime, app, ref)
        values.update(entries)
        secret = (secret | set(entries)) if is_secret else (secret - set(entries))
    values.update(post_build.substitute)
    secret -= set(post_build.substitute)
    return render_base.Variables(values=values, secret=frozenset(secret))


async def _read(
    runtime: runtimes.Runtime, app: applications.Application, ref: str
) -> tuple[dict[str, str], bool]:
    source = runtime.settings.variables.get(ref)
    if source is None:
        known = ", ".join(sorted(runtime.settings.variables)) or "none"
        raise errors.ConfigError(
            f"Application {app.name}: postBuild.substituteFrom names {ref!r}, which is not "
            f"declared in the agent's `variables` (declared: {known})"
        )
    where = f"variables {ref!r} ({source.kind} {source.namespace}/{source.name})"
    key = resources.ResourceKey("", source.kind, source.namespace, source.name)
    live = (await runtime.target(source.target).read([key])).get(key)
    if live is None:
        raise errors.ConfigError(f"Application {app.name}: {where} does not exist")
    is_secret = source.kind == "Secret"
    entries: dict[str, str] = {}
    for name, value in (live.get("data") or {}).items():
        if is_secret:
            try:
                entries[str(name)] = base64.b64decode(str(value), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise errors.ConfigError(
                    f"Application {app.name}: {where}: entry {name!r} is not base64 UTF-8 text"
                ) from None
        else:
            entries[str(name)] = str(value)
    return entries, is_secret
