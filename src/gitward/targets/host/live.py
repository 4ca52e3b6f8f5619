"""Host objects as the engine sees them: Kubernetes-shaped dicts.

A live object is what is on the disk (content, mode, owner and group by
name, a symlink's target) plus what the inventory remembers of gitward's
last apply (labels, annotations, ``secret``, ``onChange``): the plan compares
the declared object with it field by field, as for any Kubernetes object. A
path holding another type of entry than declared shows ``spec.type``, so
the plan says what is in the way. ``metadata.resourceVersion`` is a digest
of everything on the disk: equal digests, nothing changed.

:func:`predicted` is the host target's dry run: the object as it will be once
applied (fields the declaration leaves out keep their live values).
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
from collections.abc import Mapping
from typing import Any

from gitward import errors
from gitward.model import hostobjects, resources
from gitward.targets.host import disk, inventory, objects

_TYPES = {
    hostobjects.FILE: "file",
    hostobjects.DIRECTORY: "directory",
    hostobjects.SYMLINK: "symlink",
}


def disk_type(kind: str) -> str:
    return _TYPES.get(kind, "")


def version(found: disk.Found) -> str:
    digest = hashlib.sha256()
    digest.update(f"{found.type}\0{found.mode}\0{found.uid}\0{found.gid}\0{found.link}\0".encode())
    digest.update(found.data)
    return digest.hexdigest()[:24]


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def user_id(owner: str, where: str) -> int:
    """The uid of ``owner`` (a name or a number); -1 for '' (left as it is)."""
    if not owner:
        return -1
    if owner.isdigit():
        return int(owner)
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise errors.ApplyError(f"{where}: no user {owner!r} on this host") from None


def group_id(group: str, where: str) -> int:
    if not group:
        return -1
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise errors.ApplyError(f"{where}: no group {group!r} on this host") from None


def canonical_owner(owner: str) -> str:
    return user_name(int(owner)) if owner.isdigit() else owner


def canonical_group(group: str) -> str:
    return group_name(int(group)) if group.isdigit() else group


def on_disk(
    kind: str, name: str, path: str, found: disk.Found | None, entry: inventory.Entry | None
) -> dict[str, Any] | None:
    """The live object of a File, Directory or Symlink (None when nothing is there)."""
    if found is None:
        return None
    spec: dict[str, Any] = {"path": path}
    if found.type != disk_type(kind):
        spec["type"] = found.type
    elif kind == hostobjects.SYMLINK:
        spec["target"] = found.link
    else:
        if kind == hostobjects.FILE:
            spec["content"] = found.data.decode("utf-8", errors="replace")
        spec["mode"] = objects.mode_text(found.mode)
    if found.type == disk_type(kind):
        spec["owner"] = user_name(found.uid)
        spec["group"] = group_name(found.gid)
    if entry is not None and kind == hostobjects.FILE:
        if entry.secret:
            spec["secret"] = True
        if entry.on_change:
            spec["onChange"] = list(entry.on_change)
    return _shaped(kind, name, version(found), entry, spec)


def command(name: str, entry: inventory.Entry) -> dict[str, Any]:
    """The live object of a Command: its recorded spec and its last run."""
    body = _shaped(hostobjects.COMMAND, name, "", entry, dict(entry.spec))
    if entry.run:
        body["status"] = dict(entry.run)
    stamp = json.dumps([entry.spec, entry.run], sort_keys=True, default=str)
    body["metadata"]["resourceVersion"] = hashlib.sha256(stamp.encode()).hexdigest()[:24]
    return body


def predicted(
    manifest: resources.Manifest, spec: objects.Spec, live: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The object as it will be after applying ``manifest`` over ``live``."""
    before: Mapping[str, Any] = (live or {}).get("spec") or {}
    out: dict[str, Any]
    if isinstance(spec, objects.CommandSpec):
        out = dict(manifest.body.get("spec") or {})
    elif isinstance(spec, objects.SymlinkSpec):
        out = {"path": spec.path, "target": spec.target}
    else:
        default = (
            objects.DEFAULT_FILE_MODE
            if isinstance(spec, objects.FileSpec)
            else objects.DEFAULT_DIRECTORY_MODE
        )
        kept_mode = before.get("mode") if "type" not in before else None
        out = {"path": spec.path}
        if isinstance(spec, objects.FileSpec):
            out["content"] = spec.content
        out["mode"] = (
            objects.mode_text(spec.mode) if spec.mode is not None else kept_mode
        ) or objects.mode_text(default)
    if not isinstance(spec, objects.CommandSpec):
        kept = "type" not in before
        out["owner"] = canonical_owner(spec.owner) or (
            before.get("owner") if kept and before.get("owner") else user_name(os.geteuid())
        )
        out["group"] = canonical_group(spec.group) or (
            before.get("group") if kept and before.get("group") else group_name(os.getegid())
        )
    if isinstance(spec, objects.FileSpec):
        if spec.secret:
            out["secret"] = True
        if spec.on_change:
            out["onChange"] = list(spec.on_change)
    meta = manifest.body.get("metadata") or {}
    body: dict[str, Any] = {
        "apiVersion": hostobjects.API_VERSION,
        "kind": manifest.key.kind,
        "metadata": {
            "name": manifest.key.name,
            "labels": dict(meta.get("labels") or {}),
            "annotations": dict(meta.get("annotations") or {}),
        },
        "spec": out,
    }
    live_meta = (live or {}).get("metadata") or {}
    if live_meta.get("resourceVersion"):
        body["metadata"]["resourceVersion"] = live_meta["resourceVersion"]
    if live is not None and "status" in live:
        body["status"] = live["status"]
    return body


def _shaped(
    kind: str, name: str, digest: str, entry: inventory.Entry | None, spec: dict[str, Any]
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "resourceVersion": digest}
    if entry is not None:
        if entry.labels:
            meta["labels"] = dict(entry.labels)
        if entry.annotations:
            meta["annotations"] = dict(entry.annotations)
    return {"apiVersion": hostobjects.API_VERSION, "kind": kind, "metadata": meta, "spec": spec}
