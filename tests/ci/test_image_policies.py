"""Issue 6 acceptance: a tag pushed to a real registry becomes a commit the agent applies.

The registry is Debian's docker-registry (CNCF Distribution) with tags pushed
through its API; the image policy loop (``engine.imaging.watch_images``) runs
in this process; the agent (``gitward serve``) runs as a real process
reconciling against the Kubernetes API test server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitward import errors
from gitward.config import images as images_config
from gitward.config import settings as config_settings
from gitward.engine import imaging, runtimes
from tests.ci.conftest import KUSTOMIZATION, log, show
from tests.e2e.test_agent import AgentProcess, application, eventually
from tests.fixtures import Git, create_namespace, kget
from tests.images import registry as registry_server
from tests.manifests import deployment

pytestmark = pytest.mark.slow


@pytest.fixture
def agent(tmp_path: Path, env: dict[str, str], cluster: Any, git: Git) -> Iterator[AgentProcess]:
    process = AgentProcess(tmp_path, env, cluster, git.url)
    yield process
    process.stop()


def _policy(registry: registry_server.Registry, git: Git, **extra: Any) -> Any:
    return images_config.ImagePolicy.model_validate(
        {
            "name": "web",
            "image": f"{registry.host}/org/web",
            "policy": {"semver": {"range": ">=1.0 <2"}},
            "interval": "0.3s",
            "registry": {"insecure": True},
            "update": {
                "repoURL": git.url,
                "branch": "main",
                "path": "web",
                "author": {"name": "gitward images", "email": "images@example.com"},
            },
            **extra,
        }
    )


def _image(cluster: Any) -> str | None:
    live = kget(cluster, "-n", "agent", "deployment", "web")
    return live["spec"]["template"]["spec"]["containers"][0]["image"] if live else None


async def test_pushed_tag_becomes_a_commit_the_agent_applies(
    registry: registry_server.Registry,
    git: Git,
    cluster: Any,
    agent: AgentProcess,
    tmp_path: Path,
) -> None:
    image = f"{registry.host}/org/web"
    create_namespace(cluster, "agent")
    git.commit(
        "web at 0.9.0",
        {
            "apps/web.yaml": application("web", git.url, "web"),
            "web/kustomization.yaml": KUSTOMIZATION.format(image=image, tag="0.9.0"),
            "web/deployment.yaml": deployment("web", image),
        },
    )
    registry.push("org/web", "1.0.0", "2.0.0", "1.1.0-rc.1")
    agent.start()
    await asyncio.to_thread(eventually, lambda: _image(cluster) == f"{image}:0.9.0", "first sync")

    statuses: dict[str, imaging.PolicyStatus] = {}
    commits: list[str] = []
    options = runtimes.RuntimeOptions(
        settings=config_settings.Settings(), cache_dir=tmp_path / "policy-cache"
    )
    async with runtimes.Runtime.open(options) as runtime:
        watcher = asyncio.create_task(
            imaging.watch_images(
                runtime,
                [_policy(registry, git)],
                statuses=statuses,
                on_commit=lambda name, pushed: commits.append(pushed.sha),
            )
        )
        try:
            await asyncio.to_thread(
                eventually, lambda: _image(cluster) == f"{image}:1.0.0", "1.0.0 applied", 60
            )
            assert statuses["web"].committed == "1.0.0"
            assert len(commits) == 1
            message = git.run("--git-dir", str(git.remote), "log", "-1", "--format=%B", "main")
            assert message.startswith(f"Set image {image} to 1.0.0 (was 0.9.0) in web")
            assert "CI-Run: image policy web" in message

            registry.push("org/web", "1.2.0", "1.10.0-beta")
            await asyncio.to_thread(
                eventually, lambda: _image(cluster) == f"{image}:1.2.0", "1.2.0 applied", 60
            )
            assert statuses["web"].latest == "1.2.0"
            assert len(commits) == 2
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    assert "newTag: 1.2.0" in show(git, "web/kustomization.yaml")
    assert len(log(git)) == 3  # seed + two policy commits: nothing committed twice


async def test_a_failing_policy_backs_off_and_records_why(
    git: Git, tmp_path: Path, registry: registry_server.Registry
) -> None:
    git.commit("seed", {"web/kustomization.yaml": KUSTOMIZATION.format(image="x", tag="1")})
    statuses: dict[str, imaging.PolicyStatus] = {}
    delays: list[float] = []
    done = asyncio.Event()

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) >= 3:
            done.set()
            await asyncio.Event().wait()

    options = runtimes.RuntimeOptions(settings=config_settings.Settings(), cache_dir=tmp_path / "c")
    async with runtimes.Runtime.open(options) as runtime:
        task = asyncio.create_task(
            imaging.watch_images(
                runtime,
                [_policy(registry, git, image=f"{registry.host}/org/missing")],
                statuses=statuses,
                sleep=sleep,
            )
        )
        await asyncio.wait_for(done.wait(), 30)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert statuses["web"].reason == "ImageNotFound"
    assert "org/missing" in statuses["web"].error
    assert delays == [0.3, 0.6, 1.2]  # the interval, doubled per further failure
    assert len(log(git)) == 1


async def test_invalid_policies_fail_before_anything_runs(tmp_path: Path, git: Git) -> None:
    registry = registry_server.Registry(host="127.0.0.1:1", mode="open")
    bad_range = _policy(registry, git, policy={"semver": {"range": "not a range"}})
    options = runtimes.RuntimeOptions(settings=config_settings.Settings(), cache_dir=tmp_path / "c")
    async with runtimes.Runtime.open(options) as runtime:
        with pytest.raises(errors.ConfigError, match=r"image policy web.*not a range"):
            await imaging.watch_images(runtime, [bad_range])
        twice = [_policy(registry, git), _policy(registry, git)]
        with pytest.raises(errors.ConfigError, match="declared twice: web"):
            await imaging.watch_images(runtime, twice)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"policy": {}}, "exactly one"),
        ({"policy": {"semver": {"range": "1"}, "numerical": {}}}, "exactly one"),
        ({"image": "ghcr.io/org/web:1.0"}, "must not carry a tag"),
        ({"exclude": ["("]}, "exclude pattern"),
        ({"filterTags": {"pattern": "[x"}}, "not a valid regular expression"),
        ({"name": "Not_A_Label"}, "DNS label"),
    ],
)
def test_policy_schema(document: dict[str, Any], message: str, git: Git) -> None:
    base = {
        "name": "web",
        "image": "ghcr.io/org/web",
        "policy": {"alphabetical": {}},
        "update": {"repoURL": git.url},
    }
    with pytest.raises(ValueError, match=message):
        images_config.ImagePolicy.model_validate(base | document)
