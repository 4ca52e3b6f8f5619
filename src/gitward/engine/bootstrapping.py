"""``gitward bootstrap``: install gitward into a cluster and hand it its installation in Git.

What is written under ``--path`` (say ``clusters/prod``) in one commit:

* ``clusters/prod/gitward/install.yaml``: gitward's chart rendered for this
  cluster (CRDs, Namespace, RBAC, the agent configuration as a ConfigMap,
  Deployment, Service, PodDisruptionBudget, NetworkPolicy); the agent
  configuration's ``root`` is ``clusters/prod/apps`` of the same repository;
* ``clusters/prod/apps/gitward.yaml``: the root Application ``gitward``, which
  keeps ``clusters/prod/gitward`` applied. From then on an upgrade is a commit
  (the image tag in install.yaml), and Applications are added under ``apps/``.

The sequence never leaves half of it behind:

1. render (a wrong value fails here, naming it);
2. read the cluster (an unreachable one fails here, naming its server) and
   the repository without pushing (an unreachable repository, or a path that
   holds files bootstrap did not write, fail here, naming them);
3. apply every object (server-side, field manager ``gitward``, stamped as the
   ``gitward`` Application's so the agent adopts them unchanged); if one is
   refused, the objects this run created are deleted again;
4. commit and push (nothing when Git already holds the same files); if the
   push fails, the objects this run created are deleted again;
5. wait until the Application object ``gitward`` reports Synced at that
   commit (the agent in the pod mirrors its Git-declared Applications into
   the cluster, see :mod:`gitward.engine.publishing`).

Run again, it changes nothing that is already right (no commit, every object
unchanged). Called by ``gitward bootstrap`` (``cli/bootstrap_commands``).
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitward import errors
from gitward.config import applications, crds
from gitward.engine import runtimes
from gitward.install import manifests
from gitward.model import resources
from gitward.source import committing
from gitward.targets import base as targets

APP = "gitward"
TARGET = "in-cluster"
MARKER = "# Written by gitward bootstrap"  # the first line of every file it writes
INSTALL_FILE = "gitward/install.yaml"
ROOT_APP_FILE = "apps/gitward.yaml"
NAMESPACE = manifests.NAMESPACE
DEFAULT_AUTHOR = committing.Author(name="gitward bootstrap", email="gitward@localhost")

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Request:
    """What to install where. ``image`` is ``repository:tag`` or ``repository@sha256:...``
    ('' keeps the chart's); ``values`` are more chart values (docs/configuration.md)."""

    repo_url: str
    path: str
    branch: str = "main"
    image: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)
    namespace: str = NAMESPACE

    def __post_init__(self) -> None:
        clean = posixpath.normpath(self.path.strip().strip("/")) if self.path.strip() else ""
        if not clean or clean == "." or clean.startswith("..") or self.path.startswith("/"):
            raise errors.ConfigError(
                f"--path {self.path!r} must be a directory inside the repository, "
                "such as clusters/production"
            )
        object.__setattr__(self, "path", clean)


@dataclass(frozen=True, slots=True)
class Layout:
    """The files bootstrap writes (repository path → text) and the objects it applies."""

    files: Mapping[str, str]
    objects: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Result:
    commit: str  # the commit now holding the install ('' when Git already held it)
    created: tuple[str, ...]  # objects this run created
    unchanged: bool  # nothing to commit, nothing changed in the cluster
    revision: str = ""  # what the in-cluster agent reported Synced


def _image_values(image: str) -> dict[str, Any]:
    if not image:
        return {}
    if "@" in image:
        repository, _, digest = image.partition("@")
        return {"image": {"repository": repository, "digest": digest}}
    head, sep, tag = image.rpartition(":")
    if sep and "/" not in tag:
        return {"image": {"repository": head, "tag": tag}}
    return {"image": {"repository": image}}


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def root_application(request: Request) -> dict[str, Any]:
    """The Application that keeps gitward's own installation applied."""
    document = {
        "apiVersion": applications.API_VERSION,
        "kind": "Application",
        "metadata": {"name": APP, "project": "default"},
        "spec": {
            "source": {
                "repoURL": request.repo_url,
                "ref": request.branch,
                "path": f"{request.path}/gitward",
            },
            "render": {"directory": {"recurse": False}},
            "destination": {"target": TARGET, "namespace": request.namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }
    applications.parse(document, "the root Application")  # our own output must be valid
    return document


def layout(request: Request) -> Layout:
    """The files and objects for ``request``; pure (renders the chart, reads nothing else)."""
    values = _merge(
        {
            "createNamespace": True,
            "config": {
                "root": {
                    "repoURL": request.repo_url,
                    "ref": request.branch,
                    "path": f"{request.path}/apps",
                }
            },
        },
        _merge(_image_values(request.image), request.values),
    )
    objects = manifests.render(values, namespace=request.namespace)
    header = (
        f"{MARKER.removeprefix('# ')}: gitward's installation, kept applied by the "
        f"Application {APP!r}\n"
        f"({request.path}/{ROOT_APP_FILE}). Upgrade by changing the image; "
        "re-run bootstrap to re-render."
    )
    install = manifests.to_yaml(objects, header)
    app = f"{MARKER}: the Application that keeps {request.path}/gitward applied.\n" + yaml.dump(
        root_application(request), sort_keys=False
    )
    return Layout(
        files={f"{request.path}/{INSTALL_FILE}": install, f"{request.path}/{ROOT_APP_FILE}": app},
        objects=tuple(objects),
    )


def check_path(workdir: Path, request: Request) -> None:
    """Refuse a path that holds files bootstrap did not write (its own install is fine)."""
    folder = workdir / request.path
    if folder.is_file() or folder.is_symlink():
        raise errors.SourcePathError(
            f"{request.path} in {request.repo_url} is a file, not a directory for the install"
        )
    if not folder.is_dir():
        return
    install = folder / INSTALL_FILE
    if install.is_file() and install.read_text(encoding="utf-8").startswith(MARKER):
        return  # a previous bootstrap: re-rendered in place
    held = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    if held:
        shown = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
        raise errors.SourcePathError(
            f"{request.path} in {request.repo_url} (branch {request.branch}) already holds "
            f"files gitward bootstrap did not write ({shown}); choose another --path"
        )


async def _git(
    runtime: runtimes.Runtime,
    request: Request,
    files: Mapping[str, str] | None,
    author: committing.Author,
) -> str | None:
    """Check the path (``files`` None) or write ``files``; the pushed sha or None."""
    repo = runtime.repo(request.repo_url)

    def change(workdir: Path) -> str | None:
        check_path(workdir, request)
        if files is None:
            return None
        for rel, text in files.items():
            target = workdir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return f"gitward bootstrap: install gitward under {request.path}"

    pushed = await committing.change_and_push(
        repo,
        request.branch,
        change,
        author=author,
        cache_dir=runtime.sources.cache_dir,
        paths=[request.path],
        orphan=True,
    )
    return pushed.sha if pushed is not None else None


async def _reachable(target: targets.Target, objects: Sequence[Mapping[str, Any]]) -> None:
    keys = [resources.ResourceKey.of(obj) for obj in objects if obj.get("kind") == "Namespace"]
    try:
        await target.read(keys or [resources.ResourceKey.of(objects[0])])
    except errors.TargetUnavailable as exc:
        raise errors.TargetUnavailable(
            f"cluster {getattr(target, 'server', target.name)} is unreachable: {exc}"
        ) from exc


async def _apply(
    target: targets.Target, request: Request, objects: Sequence[Mapping[str, Any]]
) -> tuple[list[resources.ResourceKey], bool]:
    """Apply ``objects`` in order; the keys this run created, and whether anything changed.

    On a refusal the created objects are deleted again (newest first) before
    the error propagates."""
    prepared = await target.prepare(
        [resources.Manifest.from_body(obj, "gitward bootstrap") for obj in objects],
        app=APP,
        namespace=request.namespace,
    )
    created: list[resources.ResourceKey] = []
    changed = False
    try:
        for manifest in prepared:
            result = await target.apply(manifest, force=False)
            if result.outcome is targets.ApplyOutcome.CREATED:
                created.append(manifest.key)
            changed = changed or result.outcome is not targets.ApplyOutcome.UNCHANGED
    except BaseException:
        await _undo(target, created)
        raise
    return created, changed


async def _undo(target: targets.Target, created: Sequence[resources.ResourceKey]) -> None:
    for key in reversed(created):
        try:
            await target.delete(key)
        except errors.GitwardError:
            continue  # reported by the caller's error; the rest still goes


async def wait_synced(
    target: targets.Target,
    namespace: str,
    commit: str,
    timeout: float,  # noqa: ASYNC109 (the whole wait, reported by name)
    progress: Progress,
) -> str:
    """Wait until the Application object ``gitward`` says Synced (at ``commit`` if given)."""
    key = resources.ResourceKey(crds.GROUP, "Application", namespace, APP)
    last = ""

    async def watch() -> str:
        nonlocal last
        async for event in target.watch(crds.GROUP, "Application"):
            if event.key != key:
                continue
            status = event.object.get("status") or {}
            seen = f"{status.get('sync', 'Unknown')}/{status.get('health', 'Unknown')}"
            if seen != last:
                progress(f"Application {namespace}/{APP}: {seen}")
                last = seen
            revision = str(status.get("revision") or "")
            if status.get("sync") == "Synced" and (not commit or revision.startswith(commit)):
                return revision
        raise errors.TargetUnavailable("the watch of Applications ended")

    try:
        return await asyncio.wait_for(watch(), timeout)
    except TimeoutError:
        raise errors.TargetUnavailable(
            f"the in-cluster gitward did not report Application {namespace}/{APP} Synced"
            + (f" at {commit[:12]}" if commit else "")
            + f" within {timeout:g}s (last seen: {last or 'no status'}); is its pod running? "
            f"kubectl -n {namespace} logs deploy/gitward"
        ) from None


async def bootstrap(
    request: Request,
    runtime: runtimes.Runtime,
    target: targets.Target,
    *,
    author: committing.Author = DEFAULT_AUTHOR,
    wait: float = 300.0,
    progress: Progress = lambda _: None,
) -> Result:
    """Carry out the sequence in the module docstring; ``wait`` 0 skips step 5."""
    planned = layout(request)
    progress(f"rendered {len(planned.objects)} objects for namespace {request.namespace}")
    await _reachable(target, planned.objects)
    await _git(runtime, request, None, author)
    progress(f"{request.repo_url}: {request.path} is free for the install")
    created, changed = await _apply(target, request, planned.objects)
    progress(f"applied {len(planned.objects)} objects ({len(created)} created)")
    try:
        commit = await _git(runtime, request, planned.files, author)
    except BaseException:
        await _undo(target, created)
        raise
    progress(f"pushed {commit[:12]}" if commit else "Git already holds this install")
    revision = ""
    if wait > 0:
        revision = await wait_synced(target, request.namespace, commit or "", wait, progress)
    return Result(
        commit=commit or "",
        created=tuple(str(k) for k in created),
        unchanged=commit is None and not changed,
        revision=revision,
    )
