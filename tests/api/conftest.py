"""An agent in the test process behind a real uvicorn server on loopback.

Real git repository (a bare remote in tmp_path), the Kubernetes API test
server, the in-memory store fake, the agent's own reconcile loop, and the API
served by uvicorn on 127.0.0.1 with an ephemeral port. Tokens for every role
are stored hashed, as ``gitward token create`` does.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from gitward.api import app as api_app
from gitward.api import auth
from gitward.config import settings as config_settings
from gitward.engine import loop, runtimes
from gitward.testing import kubeapi, stores
from tests.fixtures import Git
from tests.manifests import configmap, deployment, secret

# A value that must never appear in any API answer, in clear or base64.
CANARY = "CANARY-7f3a9c-do-not-leak"
CANARY_2 = "CANARY-b41e07-second-value"
FORBIDDEN_TEXTS = (
    CANARY,
    CANARY_2,
    base64.b64encode(CANARY.encode()).decode(),
    base64.b64encode(CANARY_2.encode()).decode(),
)

# name -> (role, projects); the token secret is derived from the name.
TOKENS: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin-all": ("admin", ("*",)),
    "reader-all": ("read-only", ("*",)),
    "team-admin": ("admin", ("team",)),
    "team-reader": ("read-only", ("team",)),
}


def secret_of(token_name: str) -> str:
    return f"gw_test_{token_name}_secret"


def application(
    name: str, url: str, path: str, *, project: str = "default", automated: bool = True
) -> str:
    policy = (
        "  syncPolicy:\n    automated: {prune: true, selfHeal: true}\n"
        if automated
        else "  syncPolicy: {}\n"
    )
    return f"""\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}, project: {project}, labels: {{tier: {path}}}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: {path}}}
  destination: {{target: test, namespace: default}}
{policy}"""


PROJECT = """\
apiVersion: gitward.dev/v1
kind: Project
metadata: {name: team}
spec: {description: the team}
"""


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    values = {
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Ada Author",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Author",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return {"PATH": os.environ["PATH"], **values}


@pytest.fixture
def git(tmp_path: Path, git_env: dict[str, str]) -> Git:
    repo = Git(tmp_path, git_env)
    repo.commit(
        "apps",
        {
            "apps/web.yaml": application("web", repo.url, "web"),
            "apps/team.yaml": PROJECT
            + "---\n"
            + application("billing", repo.url, "billing", project="team", automated=False),
            "web/cm.yaml": configmap("web-settings", "a"),
            "web/secret.yaml": secret("web-credentials", CANARY),
            "web/deploy.yaml": deployment("web", "example/web:1"),
            "billing/cm.yaml": configmap("billing-settings", "b"),
            "billing/secret.yaml": secret("billing-credentials", CANARY),
        },
    )
    return repo


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Any]:
    with kubeapi.running(workload_delay=0.05, progress_deadline=3.0) as server:
        server.kubeconfig_path = server.write_kubeconfig(tmp_path / "kubeconfig")
        yield server


@dataclass
class Served:
    agent: loop.Agent
    store: stores.MemoryStore
    url: str
    git: Git
    app: Starlette

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {secret_of(token)}"} if token else {}
        kwargs.setdefault("timeout", 30)
        return httpx.AsyncClient(base_url=self.url, headers=headers, **kwargs)

    async def until(
        self, check: Callable[[], Awaitable[Any] | Any], what: str, timeout: float = 20
    ) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        last: Any = None
        while asyncio.get_running_loop().time() < deadline:
            last = check()
            if asyncio.iscoroutine(last):
                last = await last
            if last:
                return last
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


ServeFactory = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve(
    tmp_path: Path, git: Git, cluster: Any
) -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    """``await serve(anonymous="none", heartbeat=15.0, queue_size=256)``."""
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def start(
        *,
        anonymous: str = "none",
        heartbeat: float = 15.0,
        queue_size: int = 256,
        extra_routes: Sequence[BaseRoute] = (),
    ) -> Served:
        settings = config_settings.parse(
            {
                "targets": {"test": {"kubeconfig": str(cluster.kubeconfig_path)}},
                "root": {"repoURL": git.url, "ref": "main", "path": "apps"},
                "cacheDir": str(tmp_path / "agent-cache"),
                "pollInterval": "0.5s",
                "auth": {"anonymous": anonymous},
            },
            "test settings",
        )
        store = stores.MemoryStore()
        await store.open()
        for name, (role, projects) in TOKENS.items():
            await store.save_token(
                name, auth.hash_token(secret_of(name)), role, projects, datetime.now(UTC)
            )
        runtime_cm = runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings))
        runtime = await runtime_cm.__aenter__()
        agent = loop.Agent(
            settings, runtime, store, options=loop.AgentOptions(workers=2, poll_interval=0.5)
        )
        application_ = api_app.create(
            agent,
            settings,
            extra_routes=extra_routes,
            stream_heartbeat=heartbeat,
            stream_queue_size=queue_size,
        )
        server = uvicorn.Server(
            uvicorn.Config(
                application_,
                host="127.0.0.1",
                port=0,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        agent_task = asyncio.create_task(agent.run())
        server_task = asyncio.create_task(server.serve())
        while not server.started:
            assert not server_task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]

        async def stop() -> None:
            server.should_exit = True
            await asyncio.wait_for(server_task, 10)
            agent_task.cancel()
            await asyncio.gather(agent_task, return_exceptions=True)
            await runtime_cm.__aexit__(None, None, None)

        cleanups.append(stop)
        served = Served(
            agent=agent, store=store, url=f"http://127.0.0.1:{port}", git=git, app=application_
        )
        await served.until(lambda: agent.ready.is_set(), "agent ready")
        return served

    yield start
    for cleanup in reversed(cleanups):
        await cleanup()


def assert_no_canary(text: str, where: str) -> None:
    for forbidden in FORBIDDEN_TEXTS:
        assert forbidden not in text, f"secret value leaked in {where}"
