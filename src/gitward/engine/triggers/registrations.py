"""Targets registered as Secrets in a management cluster (``targetSecrets``).

With the in-cluster install, adding a cluster to the fleet is applying one
Secret beside gitward (``kubectl create secret generic eu-1
--from-file=kubeconfig=... `` labelled ``gitward.dev/secret-type=target`` and
``env=prod``), no edit of the agent's configuration. Every ``interval`` this
trigger lists the Secrets of the configured namespace, and for each labelled
one writes its kubeconfig to a file only gitward reads (mode 0600, under the
cache directory) and declares the target with the Secret's other labels. A
Secret that changed reconnects its target; one removed unregisters it. Then
it wakes the root trigger, whose ApplicationSets select targets by label.

A target declared in ``gitward.yaml`` wins over a Secret of the same name (an
event says so). The kubeconfig's content never reaches a log, an event or the
API; a malformed Secret is an event naming the Secret, not a crash.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog

from gitward import errors
from gitward.config import applications
from gitward.config import settings as config_settings
from gitward.engine import context

_log = structlog.get_logger(__name__)
TYPE_LABEL = "gitward.dev/secret-type"
TYPE_VALUE = "target"
_MAX_SECRETS = 1000


class Registrations:
    def __init__(
        self,
        ctx: context.Context,
        spec: config_settings.TargetSecretsSettings,
        *,
        on_targets: Callable[[config_settings.Settings], None],
    ) -> None:
        """``on_targets(settings)`` is called after the registered targets changed."""
        self._ctx = ctx
        self._spec = spec
        self._on_targets = on_targets
        self._dir = ctx.runtime.cache_dir / "targets" / "registered"
        self._registered: dict[str, tuple[config_settings.TargetSettings, str]] = {}
        self._problems: dict[str, str] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except errors.GitwardError as exc:
                _log.warning("target Secrets not read", error=str(exc))
            await asyncio.sleep(self._spec.interval)

    async def refresh(self) -> None:
        """Read the Secrets now and apply what changed."""
        ctx = self._ctx
        spec = self._spec
        found, more = await ctx.runtime.target(spec.target).list_objects(
            "", "Secret", spec.namespace, limit=_MAX_SECRETS
        )
        if more:
            await self._problem(
                "", f"more than {_MAX_SECRETS} Secrets in {spec.namespace}: some were not read"
            )
        wanted: dict[str, tuple[config_settings.TargetSettings, str]] = {}
        for secret in found:
            labels = (secret.get("metadata") or {}).get("labels") or {}
            if labels.get(TYPE_LABEL) != TYPE_VALUE:
                continue
            try:
                name, target, digest = self._parse(secret)
            except errors.ConfigError as exc:
                await self._problem(_name(secret), str(exc))
                continue
            if name in wanted:
                await self._problem(name, f"target {name!r} is registered by two Secrets")
                continue
            wanted[name] = (target, digest)
        await self._apply(wanted)

    def _parse(self, secret: Mapping[str, Any]) -> tuple[str, config_settings.TargetSettings, str]:
        meta = secret.get("metadata") or {}
        where = f"Secret {self._spec.namespace}/{meta.get('name', '?')}"
        data = secret.get("data") or {}
        if not isinstance(data, Mapping):
            raise errors.ConfigError(f"{where}: data is not a mapping")
        kubeconfig = _decoded(data, "kubeconfig", where)
        if not kubeconfig:
            raise errors.ConfigError(f"{where}: data.kubeconfig is missing or empty")
        name = _decoded(data, "name", where) or str(meta.get("name") or "")
        try:
            applications.check_dns_label(name, f"{where}: target name")
        except ValueError as exc:
            raise errors.ConfigError(str(exc)) from None
        digest = hashlib.sha256(kubeconfig.encode()).hexdigest()
        path = self._write(name, kubeconfig, digest)
        labels = {
            str(k): str(v)
            for k, v in (meta.get("labels") or {}).items()
            if not str(k).startswith("gitward.dev/")
        }
        target = config_settings.KubernetesTargetSettings.model_validate(
            {
                "kubeconfig": str(path),
                "context": _decoded(data, "context", where),
                "allowExec": self._spec.allow_exec,
                "timeout": self._spec.timeout,
                "labels": labels,
            }
        )
        return name, target, digest

    def _write(self, name: str, kubeconfig: str, digest: str) -> Path:
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._dir / f"{name}.kubeconfig"
        current = self._registered.get(name)
        if current is not None and current[1] == digest and path.exists():
            return path
        partial = path.with_suffix(".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(kubeconfig)
        partial.replace(path)
        return path

    async def _apply(self, wanted: dict[str, tuple[config_settings.TargetSettings, str]]) -> None:
        ctx = self._ctx
        declared = {n: t for n, t in ctx.settings.targets.items() if n not in self._registered}
        for name in sorted(set(wanted) & set(declared)):
            await self._problem(
                name, f"target {name!r} is declared in the configuration, which wins"
            )
            del wanted[name]
        if wanted == self._registered:
            return
        for name, (_, digest) in self._registered.items():
            if name not in wanted or wanted[name][1] != digest:
                await ctx.runtime.forget(name)  # reconnect with the new kubeconfig
        added = sorted(set(wanted) - set(self._registered))
        removed = sorted(set(self._registered) - set(wanted))
        for name in removed:
            with contextlib.suppress(OSError):
                (self._dir / f"{name}.kubeconfig").unlink()
        self._registered = wanted
        targets = {**declared, **{name: target for name, (target, _) in wanted.items()}}
        updated = ctx.settings.model_copy(update={"targets": targets})
        ctx.settings = updated
        ctx.runtime.settings = updated
        await ctx.event(
            "",
            "Normal",
            "TargetsChanged",
            "targets registered as Secrets"
            + (f": added {', '.join(added)}" if added else "")
            + (f"; removed {', '.join(removed)}" if removed else "")
            + ("" if added or removed else ": labels or connection changed"),
        )
        self._on_targets(updated)
        ctx.root_wakeup.set()

    async def _problem(self, name: str, message: str) -> None:
        if self._problems.get(name) == message:
            return  # said once; not again every interval
        self._problems[name] = message
        _log.warning("target Secret refused", problem=message)
        await self._ctx.event("", "Warning", "InvalidTargetSecret", message)


def _decoded(data: Mapping[str, Any], key: str, where: str) -> str:
    raw = data.get(key)
    if raw is None:
        return ""
    try:
        return base64.b64decode(str(raw), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise errors.ConfigError(f"{where}: data.{key} is not base64 text") from None


def _name(secret: Mapping[str, Any]) -> str:
    return str((secret.get("metadata") or {}).get("name") or "?")
