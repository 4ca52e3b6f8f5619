"""The host target: the Target Protocol over the files of the host the agent runs on.

Objects (``objects``) are confined to the roots, read from the disk as
Kubernetes-shaped dicts (``live``), written atomically (``disk``), recorded
in the inventory (``inventory``) so prune removes only what gitward
created; ``Command`` objects run when a File naming them in ``onChange``
changed, or as sync hooks (``commands``); ``watching`` turns hand edits into
watch events within a fraction of a second.
"""

from __future__ import annotations

import asyncio
import os
import platform
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gitward import errors
from gitward.model import directives, hostobjects, resources
from gitward.targets import base
from gitward.targets.host import commands, disk, inventory, live, objects, watching


class HostTarget:
    """Files, directories, symlinks and commands under ``roots`` of this host."""

    def __init__(
        self,
        name: str,
        roots: Sequence[str],
        state_dir: Path,
        *,
        rescan_interval: float = 5.0,
        output_limit: int = 4096,
        allow_commands: bool = False,
    ) -> None:
        self.name = name
        self.roots = tuple(roots)
        self._output_limit = output_limit
        self._allow_commands = allow_commands
        self._records = inventory.Inventory(state_dir / "inventory.json")
        # What the last prepare of each Application declared, by key.
        self._declared: dict[resources.ResourceKey, tuple[str, objects.Spec]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._writing: set[str] = set()
        self._watcher = watching.Watcher(
            self._records,
            self._read_entry,
            roots=self.roots,
            rescan=rescan_interval,
            busy=self._writing.__contains__,
        )

    # --- preparing and reading ----------------------------------------------------

    async def prepare(
        self, manifests: Sequence[resources.Manifest], *, app: str, namespace: str
    ) -> list[resources.Manifest]:
        """Check every object (kind, fields, paths in the roots, one object per
        path, onChange naming declared Commands) and stamp gitward's tracking."""
        specs: dict[resources.ResourceKey, objects.Spec] = {}
        paths: dict[str, resources.Manifest] = {}
        prepared: list[resources.Manifest] = []
        for manifest in manifests:
            spec = objects.parse(manifest, self.roots)
            if isinstance(spec, objects.CommandSpec) and not self._allow_commands:
                raise errors.ApplyError(
                    f"{objects.describe(manifest)}: target {self.name!r} does not run commands "
                    "(set allowCommands: true on it in gitward.yaml)"
                )
            path = getattr(spec, "path", "")
            if path:
                first = paths.setdefault(path, manifest)
                if first is not manifest:
                    raise errors.ApplyError(
                        f"{path} is declared twice: by {objects.describe(first)} and by "
                        f"{objects.describe(manifest)}"
                    )
                owner = self._records.owner_of_path(path)
                if owner is not None and owner[0] != app:
                    raise errors.ApplyError(
                        f"{objects.describe(manifest)}: {path} belongs to Application {owner[0]}"
                    )
            stamped = _stamped(manifest, app)
            specs[stamped.key] = spec
            prepared.append(stamped)
        declared_commands = {k.name for k, s in specs.items() if isinstance(s, objects.CommandSpec)}
        for key, spec in specs.items():
            if isinstance(spec, objects.FileSpec):
                for wanted in spec.on_change:
                    if wanted not in declared_commands:
                        raise errors.ApplyError(
                            f"{key}: onChange names Command {wanted!r}, which the Application "
                            "does not declare"
                        )
        for key in [k for k, (owner, _) in self._declared.items() if owner == app]:
            del self._declared[key]
        for key, spec in specs.items():
            taken = self._records.find(key.kind, key.name)
            if taken is not None and taken[0] != app:
                raise errors.ApplyError(f"{key} belongs to Application {taken[0]} on this host")
            self._declared[key] = (app, spec)
        return prepared

    async def read(
        self, keys: Sequence[resources.ResourceKey]
    ) -> dict[resources.ResourceKey, Mapping[str, Any] | None]:
        return {key: await self._read_key(key) for key in keys}

    async def _read_key(self, key: resources.ResourceKey) -> Mapping[str, Any] | None:
        found = self._records.find(key.kind, key.name)
        entry = found[1] if found is not None else None
        if key.kind == hostobjects.COMMAND:
            return live.command(key.name, entry) if entry is not None else None
        declared = self._declared.get(key)
        path = getattr(declared[1], "path", "") if declared is not None else ""
        path = path or (entry.path if entry is not None else "")
        if not path:
            return None
        if entry is not None and entry.path != path:
            entry = None  # declared elsewhere now: the old path is not this object's
        return await self._look(key.kind, key.name, path, entry)

    async def _look(
        self, kind: str, name: str, path: str, entry: inventory.Entry | None
    ) -> dict[str, Any] | None:
        found = await asyncio.to_thread(disk.look, path, self.roots, what=f"{kind} {name}")
        return live.on_disk(kind, name, path, found, entry)

    async def _read_entry(self, app: str, entry: inventory.Entry) -> Mapping[str, Any] | None:
        return await self._look(entry.kind, entry.name, entry.path, entry)

    async def inventory(
        self, app: str, *, kinds: Iterable[tuple[str, str]] = ()
    ) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        for entry in self._records.entries(app):
            if entry.kind == hostobjects.COMMAND:
                out.append(live.command(entry.name, entry))
                continue
            found = await self._read_entry(app, entry)
            if found is None:
                # Gone from the disk: what may appear at that path later is not gitward's.
                self._records.drop(app, entry.kind, entry.name)
                continue
            out.append(found)
        return out

    async def write_status(self, key: resources.ResourceKey, status: Mapping[str, Any]) -> bool:
        return False

    async def kinds(self) -> list[tuple[str, str]]:
        return [(hostobjects.GROUP, kind) for kind in hostobjects.KINDS]

    async def list_objects(
        self, group: str, kind: str, namespace: str, *, limit: int
    ) -> tuple[list[Mapping[str, Any]], bool]:
        return [], False

    async def dry_run(self, manifest: resources.Manifest, *, force: bool) -> Mapping[str, Any]:
        spec = objects.parse(manifest, self.roots)
        return live.predicted(manifest, spec, (await self.read([manifest.key]))[manifest.key])

    # --- writing ------------------------------------------------------------------

    async def apply(
        self, manifest: resources.Manifest, *, force: bool, seen_version: str | None = None
    ) -> base.ApplyResult:
        spec = objects.parse(manifest, self.roots)
        app = manifest.labels.get(resources.APP_LABEL, "")
        if not app:
            raise errors.ApplyError(f"{objects.describe(manifest)}: not prepared (no tracking)")
        if isinstance(spec, objects.CommandSpec):
            return await self._apply_command(manifest, spec, app)
        path = spec.path
        lock = self._locks.setdefault(path, asyncio.Lock())
        async with lock:
            self._writing.add(path)
            try:
                return await self._apply_path(manifest, spec, app)
            finally:
                self._writing.discard(path)

    async def _apply_path(
        self,
        manifest: resources.Manifest,
        spec: objects.FileSpec | objects.DirectorySpec | objects.SymlinkSpec,
        app: str,
    ) -> base.ApplyResult:
        key, where = manifest.key, objects.describe(manifest)
        before = (await self.read([key]))[key]
        wanted = live.predicted(manifest, spec, before)
        entry = self._records.get(app, key.kind, key.name)
        created = before is None if entry is None or entry.path != spec.path else entry.created
        record = inventory.Entry(
            kind=key.kind,
            name=key.name,
            path=spec.path,
            created=created,
            labels=dict(manifest.labels),
            annotations=dict(manifest.annotations),
            version=entry.version if entry is not None and entry.path == spec.path else "",
            secret=isinstance(spec, objects.FileSpec) and spec.secret,
            on_change=spec.on_change if isinstance(spec, objects.FileSpec) else (),
        )
        if before is not None and _same_on_disk(before, wanted):
            self._records.put(app, record)
            return base.ApplyResult(key, base.ApplyOutcome.UNCHANGED, before)
        self._records.put(app, record)  # before the write: a crash still knows it is ours
        uid = live.user_id(spec.owner, where)
        gid = live.group_id(spec.group, where)
        if isinstance(spec, objects.FileSpec):
            mode = int(str(wanted["spec"]["mode"]), 8)
            data = spec.content.encode("utf-8")
            await asyncio.to_thread(
                disk.write_file,
                spec.path,
                data,
                mode=mode,
                uid=uid,
                gid=gid,
                roots=self.roots,
                what=where,
            )
        elif isinstance(spec, objects.DirectorySpec):
            mode = int(str(wanted["spec"]["mode"]), 8)
            await asyncio.to_thread(
                disk.make_directory,
                spec.path,
                mode=mode,
                uid=uid,
                gid=gid,
                roots=self.roots,
                what=where,
            )
        else:
            await asyncio.to_thread(
                disk.make_symlink,
                spec.path,
                spec.target,
                uid=uid,
                gid=gid,
                roots=self.roots,
                what=where,
            )
        if entry is not None and entry.path != spec.path and entry.created:
            # The object moved: the path it had before is gitward's to remove.
            await asyncio.to_thread(
                disk.remove,
                entry.path,
                live.disk_type(key.kind),
                roots=self.roots,
                what=f"{where} (its former path)",
            )
        after = await self._look(key.kind, key.name, spec.path, record)
        digest = str(((after or {}).get("metadata") or {}).get("resourceVersion") or "")
        self._records.update(app, key.kind, key.name, version=digest)
        outcome = base.ApplyOutcome.CREATED if before is None else base.ApplyOutcome.CONFIGURED
        message = ""
        if isinstance(spec, objects.FileSpec) and spec.on_change:
            message = await self._on_change(app, key, spec.on_change)
        return base.ApplyResult(key, outcome, after or wanted, message=message)

    async def _on_change(self, app: str, key: resources.ResourceKey, names: Sequence[str]) -> str:
        said = []
        for name in names:
            command_key = resources.ResourceKey(hostobjects.GROUP, hostobjects.COMMAND, "", name)
            declared = self._declared.get(command_key)
            if declared is None or not isinstance(declared[1], objects.CommandSpec):
                raise errors.ApplyError(f"{key}: onChange Command {name!r} is not declared")
            run = await self._run(app, command_key, declared[1])
            tail = run.output.strip()
            if not run.succeeded:
                raise errors.ApplyError(
                    f"{key} changed; its onChange Command {name} {run.describe()}"
                    + (f": {tail}" if tail else "")
                )
            said.append(f"onChange {name} {run.describe()}" + (f": {tail}" if tail else ""))
        return "; ".join(said)

    async def _run(
        self, app: str, key: resources.ResourceKey, spec: objects.CommandSpec
    ) -> commands.Run:
        lock = self._locks.setdefault(f"command:{key.name}", asyncio.Lock())
        async with lock:
            run = await commands.run(spec, limit=self._output_limit)
        self._records.update(app, key.kind, key.name, run=run.status())
        return run

    async def _apply_command(
        self, manifest: resources.Manifest, spec: objects.CommandSpec, app: str
    ) -> base.ApplyResult:
        key = manifest.key
        entry = self._records.get(app, key.kind, key.name)
        declared = dict(manifest.body.get("spec") or {})
        record = inventory.Entry(
            kind=key.kind,
            name=key.name,
            created=True,
            labels=dict(manifest.labels),
            annotations=dict(manifest.annotations),
            spec=declared,
            run=entry.run if entry is not None else {},
        )
        self._records.put(app, record)
        if directives.is_hook(manifest.annotations):
            # A sync hook (PreSync, PostSync...): applying it runs it; its health says how it went.
            self._declared[key] = (app, spec)
            run = await self._run(app, key, spec)
            current = self._records.get(app, key.kind, key.name)
            assert current is not None
            return base.ApplyResult(
                key,
                base.ApplyOutcome.CREATED,
                live.command(key.name, current),
                message=f"{run.describe()}",
            )
        if entry is None:
            outcome = base.ApplyOutcome.CREATED
        elif dict(entry.spec) == declared and dict(entry.labels) == dict(manifest.labels):
            outcome = base.ApplyOutcome.UNCHANGED
        else:
            outcome = base.ApplyOutcome.CONFIGURED
        return base.ApplyResult(key, outcome, live.command(key.name, record))

    async def create(self, manifest: resources.Manifest) -> base.ApplyResult:
        if manifest.key.generated:
            raise errors.ApplyError(
                f"{objects.describe(manifest)}: a host object needs metadata.name "
                "(generateName is for objects an API server names)"
            )
        return await self.apply(manifest, force=True)

    async def replace(self, manifest: resources.Manifest) -> base.ApplyResult:
        return await self.apply(manifest, force=True)

    async def hook_runs(self, app: str, key: resources.ResourceKey) -> list[Mapping[str, Any]]:
        return []

    async def delete(self, key: resources.ResourceKey, *, uid: str = "") -> bool:
        """Remove what gitward created for ``key``; a path that was there before
        gitward adopted it is left on the disk, only forgotten."""
        found = self._records.find(key.kind, key.name)
        if found is None:
            return False
        app, entry = found
        if entry.path and entry.created:
            lock = self._locks.setdefault(entry.path, asyncio.Lock())
            async with lock:
                self._writing.add(entry.path)
                try:
                    await asyncio.to_thread(
                        disk.remove,
                        entry.path,
                        live.disk_type(entry.kind),
                        roots=self.roots,
                        what=f"{key}",
                    )
                finally:
                    self._writing.discard(entry.path)
        self._records.drop(app, key.kind, key.name)
        return True

    def watch(
        self, group: str, kind: str, *, namespaces: Sequence[str] = ()
    ) -> AsyncIterator[base.WatchEvent]:
        return self._watcher.subscribe(kind if group == hostobjects.GROUP else "")

    async def probe(self) -> base.Probe:
        unwritable = await asyncio.to_thread(_unwritable, self.roots)
        if unwritable:
            raise errors.TargetUnavailable(
                f"target {self.name}: root(s) {', '.join(unwritable)} not writable by the agent"
            )
        uname = platform.uname()
        return base.Probe(
            server=f"host {uname.node} (roots {', '.join(self.roots)})",
            version=f"{uname.system} {uname.release}",
        )

    async def close(self) -> None:
        await self._watcher.close()

    def describe_records(self, app: str) -> list[dict[str, Any]]:
        """The inventory entries of ``app`` (for tests and diagnostics; no content)."""
        return [asdict(entry) for entry in self._records.entries(app)]


def _unwritable(roots: Sequence[str]) -> list[str]:
    # A root that does not exist yet is created by the first write into it.
    return [r for r in roots if Path(r).is_dir() and not os.access(r, os.W_OK)]


def _stamped(manifest: resources.Manifest, app: str) -> resources.Manifest:
    body = dict(manifest.body)
    meta = dict(body.get("metadata") or {})
    meta.pop("namespace", None)
    meta["labels"] = {**(meta.get("labels") or {}), resources.APP_LABEL: app}
    key = resources.ResourceKey(hostobjects.GROUP, manifest.key.kind, "", manifest.key.name)
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        resources.TRACKING_ANNOTATION: f"{app}:{key.group}/{key.kind}:/{key.name}",
    }
    body["metadata"] = meta
    return resources.Manifest(key=key, body=body, source=manifest.source)


def _same_on_disk(before: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    have, want = before.get("spec") or {}, wanted.get("spec") or {}
    fields = ("path", "type", "content", "target", "mode", "owner", "group")
    return all(have.get(f) == want.get(f) for f in fields)
