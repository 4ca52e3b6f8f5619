"""Image updates written to Git: ``gitward set-image`` (CI) and the agent's image policies.

:func:`set_image` finds where a path of a repository pins an image
(``images.locating``), rewrites only those values (``images.rewriting``) and
pushes one commit through ``source.committing.change_and_push``: when another
push lands first, the edit is made again on the new head, so two CI runs
bumping two images at once both land and neither loses the other's commit.

:func:`watch_images` is the agent side: per policy, list the image's tags in
its registry (``images.registries``), pick the newest (``images.policies``)
and, when it changed, :func:`set_image` it. It never applies anything: the
Applications reading the path sync the commit like any other. The agent
starts it as one task (``engine.triggers.images``); the CLI calls :func:`set_image`.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import httpx
import structlog

from gitward import errors
from gitward.config import images as images_config
from gitward.engine import policy_rounds, runtimes
from gitward.images import locating, policies, references, registries, repinning, rewriting
from gitward.source import committing, resolving

_log = structlog.get_logger(__name__)

DEFAULT_AUTHOR = committing.Author(name="gitward", email="gitward@localhost")

# Who commits: the CLI builds it from its options.
Author = committing.Author


@dataclass(frozen=True, slots=True)
class ImageChange:
    """What one set-image did (or would do): the pins it moved and the commit."""

    image: str
    new_version: str
    old_versions: tuple[str, ...]
    files: tuple[str, ...]
    message: str


# --- CI run information -------------------------------------------------------------------


def ci_run(environ: Mapping[str, str] | None = None) -> str:
    """A line naming the CI run, from the environment the CI system sets ('' outside CI).

    GitHub Actions (``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``/``GITHUB_RUN_ID``),
    GitLab CI and Woodpecker (``CI_PIPELINE_URL``, else ``CI_JOB_URL``), Jenkins
    (``BUILD_URL``), Buildkite (``BUILDKITE_BUILD_URL``), CircleCI
    (``CIRCLE_BUILD_URL``), Drone (``DRONE_BUILD_LINK``) and Azure Pipelines.
    """
    env = os.environ if environ is None else environ
    run_id = env.get("GITHUB_RUN_ID", "")
    if run_id:
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repository = env.get("GITHUB_REPOSITORY", "")
        attempt = env.get("GITHUB_RUN_ATTEMPT", "")
        url = f"{server}/{repository}/actions/runs/{run_id}" if repository else f"run {run_id}"
        return url + (f"/attempts/{attempt}" if attempt and attempt != "1" else "")
    for name in (
        "CI_PIPELINE_URL",
        "CI_JOB_URL",
        "BUILD_URL",
        "BUILDKITE_BUILD_URL",
        "CIRCLE_BUILD_URL",
        "DRONE_BUILD_LINK",
    ):
        if env.get(name):
            return env[name]
    azure = env.get("SYSTEM_COLLECTIONURI", "")
    if azure and env.get("BUILD_BUILDID"):
        project = env.get("SYSTEM_TEAMPROJECT", "")
        return f"{azure.rstrip('/')}/{project}/_build/results?buildId={env['BUILD_BUILDID']}"
    return ""


# --- set-image --------------------------------------------------------------------------------


def sparse_paths(path: str) -> list[str]:
    """The directory a sparse working copy needs for ``path`` ([] for the whole tree)."""
    clean = path.strip("/")
    if clean in ("", "."):
        return []
    pure = PurePosixPath(clean)
    if pure.suffix in (".yaml", ".yml"):
        parent = str(pure.parent)
        return [] if parent == "." else [parent]
    return [clean]


def edit_tree(
    root: Path, path: str, image: str, *, key: str = "", run_info: str = ""
) -> ImageChange | None:
    """Rewrite every pin of ``image``'s name under ``root/path`` to its tag/digest.

    None when every pin already says so. Raises
    :class:`gitward.images.locating.ImageNotInGit` when there is no pin, and
    :class:`gitward.images.rewriting.RewriteError` before writing anything
    when a file cannot be edited exactly.
    """
    wanted = references.parse(image)
    if not wanted.tag and not wanted.digest:
        raise references.InvalidReference(f"{image!r} names no tag or digest to set")
    found = locating.scan(root, [path], key=key, image=image)
    pins = locating.for_image(found, image)
    where = f"path {path or '/'!r}"
    if not pins:
        skipped = f" (not YAML, skipped: {'; '.join(found.skipped[:3])})" if found.skipped else ""
        raise locating.ImageNotInGit(
            f"image {wanted.name} is pinned nowhere under {where}: no Kustomize images entry, "
            f"marked or keyed Helm value, or container image names it{skipped}"
        )
    per_file: dict[str, list[rewriting.Change]] = defaultdict(list)
    old: list[str] = []
    for pin in pins:
        changes = repinning.changes_for(pin, wanted.tag, wanted.digest)
        if changes:
            per_file[pin.file].extend(changes)
            old.append(pin.version)
    if not per_file:
        return None
    edited: dict[str, str] = {}
    for file, changes in per_file.items():
        text = (root / file).read_bytes().decode("utf-8")
        edited[file] = rewriting.apply(text, list(dict.fromkeys(changes)), where=file)
    for file, text in edited.items():
        (root / file).write_bytes(text.encode("utf-8"))
    olds = tuple(dict.fromkeys(old))
    message = _message(wanted, olds, tuple(edited), path, run_info)
    return ImageChange(wanted.name, wanted.version, olds, tuple(edited), message)


def _message(
    wanted: references.Reference,
    olds: tuple[str, ...],
    files: tuple[str, ...],
    path: str,
    run_info: str,
) -> str:
    old = ", ".join(olds)
    lines = [
        f"Set image {wanted.name} to {wanted.version} (was {old}) in {path or '/'}",
        "",
        f"Image: {wanted.name}",
        f"Old: {old}",
        f"New: {wanted.version}",
        "Files:",
        *(f"  {file}" for file in files),
    ]
    if run_info:
        lines.append(f"CI-Run: {run_info}")
    return "\n".join(lines) + "\n"


async def set_image(
    runtime: runtimes.Runtime,
    repo_url: str,
    path: str,
    image_ref: str,
    *,
    branch: str,
    author: committing.Author = DEFAULT_AUTHOR,
    run_info: str = "",
    key: str = "",
    attempts: int = 5,
    on_change: Callable[[ImageChange], None] | None = None,
) -> committing.Pushed | None:
    """Commit ``image_ref``'s tag/digest wherever ``path`` pins that image, and push.

    Returns None when the branch already pins exactly that version. The
    commit message names the image, the old and new version, the files and
    the CI run. ``on_change`` receives what the landed commit changed.
    """
    references.parse(image_ref, where="set-image")
    repo = runtime.repo(repo_url)
    landed: list[ImageChange] = []

    def change(workdir: Path) -> str | None:
        result = edit_tree(workdir, path, image_ref, key=key, run_info=run_info)
        # Called again on a newer head after a lost race: only the last counts.
        landed[:] = [result] if result is not None else []
        return None if result is None else result.message

    pushed = await committing.change_and_push(
        repo,
        branch,
        change,
        author=author,
        attempts=attempts,
        cache_dir=runtime.sources.cache_dir,
        paths=sparse_paths(path) or None,
    )
    if pushed is not None and landed and on_change is not None:
        on_change(landed[0])
    return pushed


# --- image policies in the agent ---------------------------------------------------------------


@dataclass(slots=True)
class PolicyStatus:
    """What the agent last saw for one image policy (for the API and logs)."""

    latest: str = ""  # newest tag the policy chose
    committed: str = ""  # last tag known to be in Git (committed or already there)
    commit: str = ""  # sha of gitward's last commit for this policy
    error: str = ""
    reason: str = ""
    checked_at: datetime | None = None
    tags_seen: int = 0


@dataclass(frozen=True, slots=True)
class _Compiled:
    spec: images_config.ImagePolicy
    tags: policies.TagPolicy
    credentials: registries.Credentials | None
    ca_file: Path | None


def compile_policy(spec: images_config.ImagePolicy) -> _Compiled:
    """Validate one policy fully (range syntax, references); ConfigError naming it."""
    where = f"image policy {spec.name}"
    references.parse(spec.image, where=where)
    order = spec.policy.kind
    semver_range = None
    descending = False
    if spec.policy.semver is not None:
        semver_range = resolving.Constraint.parse(spec.policy.semver.range)
        if semver_range is None:
            raise errors.ConfigError(f"{where}: {spec.policy.semver.range!r} is not a semver range")
    else:
        chosen = spec.policy.numerical or spec.policy.alphabetical
        descending = chosen is not None and chosen.order == "desc"
    tags = policies.build(
        order,
        semver_range=semver_range,
        filter=spec.filter_tags.pattern if spec.filter_tags else "",
        exclude=spec.exclude,
        descending=descending,
        where=where,
    )
    access = spec.registry
    credentials = None
    if access.username or access.password_env or access.password_file:
        credentials = registries.Credentials(
            username=access.username,
            password_env=access.password_env,
            password_file=Path(access.password_file).expanduser() if access.password_file else None,
        )
    committing.Author(spec.update.author.name, spec.update.author.email)
    ca_file = Path(access.ca_file).expanduser() if access.ca_file else None
    return _Compiled(spec, tags, credentials, ca_file)


async def check_policy(
    runtime: runtimes.Runtime,
    compiled: _Compiled,
    status: PolicyStatus,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> committing.Pushed | None:
    """One round of one policy: list tags, choose, commit when the choice moved."""
    spec = compiled.spec
    access = spec.registry
    tags = await registries.list_tags(
        spec.image,
        credentials=compiled.credentials,
        insecure=access.insecure,
        ca_file=compiled.ca_file,
        timeout=access.timeout,
        transport=transport,
    )
    status.checked_at = clock()
    status.tags_seen = len(tags)
    chosen = policies.choose(compiled.tags, tags)
    if chosen is None:
        raise registries.ImageNotFound(
            f"image policy {spec.name}: none of the {len(tags)} tags of {spec.image} qualifies"
        )
    status.latest = chosen
    if chosen == status.committed:
        return None
    update = spec.update
    pushed = await set_image(
        runtime,
        update.repo_url,
        update.path,
        f"{spec.image}:{chosen}",
        branch=update.branch,
        author=committing.Author(update.author.name, update.author.email),
        run_info=f"image policy {spec.name}",
        key=update.key,
    )
    status.committed = chosen
    if pushed is not None:
        status.commit = pushed.sha
        _log.info(
            "image policy committed a new tag",
            policy=spec.name,
            image=spec.image,
            tag=chosen,
            commit=pushed.sha,
            branch=pushed.branch,
        )
    return pushed


async def watch_images(
    runtime: runtimes.Runtime,
    specs: Sequence[images_config.ImagePolicy],
    *,
    statuses: dict[str, PolicyStatus] | None = None,
    on_commit: Callable[[str, committing.Pushed], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_backoff: float = 600.0,
) -> None:
    """Run every image policy until cancelled (one task each).

    Every policy is validated first (:class:`gitward.errors.ConfigError`
    naming it, before anything runs). A failed round (registry down,
    credentials refused, a push refused) is logged and recorded in
    ``statuses[name]`` and retried with exponential backoff from the policy's
    interval up to ``max_backoff``; it never stops the other policies.
    ``on_commit(name, pushed)`` is called after each commit gitward pushed
    (the agent refreshes the Applications of that repository at once).
    """
    compiled = [compile_policy(spec) for spec in specs]
    await policy_rounds.run(
        "image",
        [
            policy_rounds.Policy(
                c.spec.name,
                c.spec.interval,
                functools.partial(check_policy, runtime, c, transport=transport),
            )
            for c in compiled
        ],
        PolicyStatus,
        statuses=statuses,
        on_commit=on_commit,
        sleep=sleep,
        max_backoff=max_backoff,
    )
