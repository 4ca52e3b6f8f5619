"""``gitward uninstall``: remove what ``gitward bootstrap`` installed.

What goes, in this order:

1. the Deployment (first, so the agent cannot re-apply anything while the
   rest goes);
2. with ``delete_workloads``, every object each Application object in the
   cluster manages (found by gitward's tracking label; objects annotated
   ``Delete=false`` stay);
3. the Application objects gitward mirrored from Git (label
   ``gitward.dev/declared-in=git``);
4. the rest of the install: Service, PDB, NetworkPolicy, ConfigMap, RBAC,
   ServiceAccount; then, unless ``keep_crds``, the CRDs (and with them
   Application/Project objects people applied) and the Namespace;
5. with ``repo_url`` and ``path``, the files bootstrap wrote, in one commit.

Without ``delete_workloads`` the Applications' workloads keep running,
unmanaged. Every install object is found by the ``gitward`` Application's
tracking label, so a re-run finds nothing left and succeeds. Called by
``gitward uninstall`` (``cli/bootstrap_commands``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitward import errors
from gitward.config import crds
from gitward.engine import bootstrapping, runtimes
from gitward.install import manifests
from gitward.model import resources
from gitward.source import committing
from gitward.targets import base as targets

DECLARED_IN = "gitward.dev/declared-in"

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Removed:
    deleted: tuple[str, ...]
    workloads: tuple[str, ...]
    commit: str


def install_kinds() -> set[tuple[str, str]]:
    """Every (group, kind) the chart can install, in either RBAC mode."""
    found: set[tuple[str, str]] = set()
    for values in ({"createNamespace": True}, {"rbac": {"scope": "namespaced"}}):
        for obj in manifests.render(values):
            key = resources.ResourceKey.of(obj)
            found.add((key.group, key.kind))
    return found


def _keep(obj: Mapping[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return "Delete=false" in str(annotations.get("gitward.dev/sync-options", ""))


async def _delete(target: targets.Target, obj: Mapping[str, Any], deleted: list[str]) -> None:
    key = resources.ResourceKey.of(obj)
    uid = str((obj.get("metadata") or {}).get("uid") or "")
    if await target.delete(key, uid=uid):
        deleted.append(str(key))


async def _applications(target: targets.Target) -> list[Mapping[str, Any]]:
    try:
        found, _ = await target.list_objects(crds.GROUP, "Application", "", limit=100_000)
    except errors.ApplyError:
        return []
    return found


async def uninstall(
    runtime: runtimes.Runtime,
    target: targets.Target,
    *,
    namespace: str = manifests.NAMESPACE,
    delete_workloads: bool = False,
    keep_crds: bool = False,
    repo_url: str = "",
    path: str = "",
    branch: str = "main",
    author: committing.Author = bootstrapping.DEFAULT_AUTHOR,
    progress: Progress = lambda _: None,
) -> Removed:
    installed = await target.inventory(bootstrapping.APP, kinds=install_kinds())
    # Namespaced objects of another installation (another namespace) stay.
    installed = [
        o for o in installed if (o.get("metadata") or {}).get("namespace", "") in ("", namespace)
    ]
    progress(f"found {len(installed)} objects of the gitward installation")
    deleted: list[str] = []
    for obj in installed:
        if obj.get("kind") == "Deployment":
            await _delete(target, obj, deleted)
    workloads: list[str] = []
    apps = await _applications(target)
    if delete_workloads:
        kinds = await target.kinds()
        for app in apps:
            name = str(app["metadata"]["name"])
            if name == bootstrapping.APP:
                continue
            managed = await target.inventory(name, kinds=kinds)
            # A Namespace holding an object marked Delete=false stays, with it.
            holding = {
                str((o.get("metadata") or {}).get("namespace") or "") for o in managed if _keep(o)
            }
            for obj in reversed(managed):
                held = obj.get("kind") == "Namespace" and obj["metadata"]["name"] in holding
                if not _keep(obj) and not held:
                    await _delete(target, obj, workloads)
        progress(f"deleted {len(workloads)} objects the Applications managed")
    for app in apps:
        if ((app.get("metadata") or {}).get("labels") or {}).get(DECLARED_IN) == "git":
            await _delete(target, app, deleted)
    last = {"CustomResourceDefinition", "Namespace"}
    for obj in reversed(installed):
        if obj.get("kind") not in last | {"Deployment"}:
            await _delete(target, obj, deleted)
    if not keep_crds:
        for obj in reversed(installed):
            if obj.get("kind") in last:
                await _delete(target, obj, deleted)
    progress(f"deleted {len(deleted)} objects of the installation")
    commit = ""
    if repo_url and path:
        commit = await _remove_files(runtime, repo_url, path, branch, author)
    return Removed(deleted=tuple(deleted), workloads=tuple(workloads), commit=commit)


async def _remove_files(
    runtime: runtimes.Runtime, repo_url: str, path: str, branch: str, author: committing.Author
) -> str:
    request = bootstrapping.Request(repo_url=repo_url, path=path, branch=branch)

    def change(workdir: Path) -> str | None:
        # Only files carrying bootstrap's marker go: Applications people added
        # under apps/ stay, and a second uninstall finds nothing to do.
        removed = False
        install = workdir / request.path / bootstrapping.INSTALL_FILE
        if install.is_file() and install.read_text(encoding="utf-8").startswith(
            bootstrapping.MARKER
        ):
            shutil.rmtree(install.parent)
            removed = True
        app = workdir / request.path / bootstrapping.ROOT_APP_FILE
        if app.is_file() and app.read_text(encoding="utf-8").startswith(bootstrapping.MARKER):
            app.unlink()
            removed = True
        return f"gitward uninstall: remove gitward from {request.path}" if removed else None

    pushed = await committing.change_and_push(
        runtime.repo(repo_url),
        branch,
        change,
        author=author,
        cache_dir=runtime.sources.cache_dir,
        paths=[request.path],
    )
    return pushed.sha if pushed is not None else ""
