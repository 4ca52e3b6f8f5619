"""The web UI served by a real agent in the test process.

A real git repository (bare remote in tmp_path, pushed to by the tests), the
Kubernetes API test server, the SQLite store, the agent's own reconcile loop,
and the API with the UI routes (``api.app.create(..., extra_routes=
web.routes(...))``) served by uvicorn on 127.0.0.1 with an ephemeral port.
Tokens are stored hashed, as ``gitward token create`` does.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests import manifests
from tests.fixtures import Git
from tests.manifests import configmap, secret

from gitward import web
from gitward.api import app as api_app
from gitward.api import auth
from gitward.config import settings as config_settings
from gitward.engine import loop, runtimes
from gitward.store import storing
from gitward.testing import kubeapi

APP = "web"
KUBECTL = str(Path(sys.executable).parent / "kubectl")
# A Secret value that must never reach a page or a stream, in clear or base64.
CANARY = "CANARY-ui-3c9d1e-never-shown"
CANARY_2 = "CANARY-ui-77ab20-second-value"
FORBIDDEN = (
    CANARY,
    CANARY_2,
    base64.b64encode(CANARY.encode()).decode(),
    base64.b64encode(CANARY_2.encode()).decode(),
)

TOKENS: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("admin", ("*",)),
    "reader": ("read-only", ("*",)),
    "other-team": ("admin", ("other",)),
}


def token_of(name: str) -> str:
    return f"gw_ui_test_{name}_token"


def deployment(name: str, image: str) -> str:
    return manifests.deployment(name, image, replicas=2)


def application(name: str, url: str, path: str, *, automated: bool) -> str:
    policy = "{automated: {prune: true, selfHeal: true}}" if automated else "{}"
    return f"""\
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: {name}}}
spec:
  source: {{repoURL: "{url}", ref: main, path: {path}}}
  destination: {{target: test, namespace: default}}
  syncPolicy: {policy}
"""


@dataclass
class Stack:
    agent: loop.Agent
    url: str
    git: Git
    cluster: Any
    kubeconfig: Path

    def kubectl(self, *args: str) -> str:
        """The real kubectl against the test server (a person changing live state)."""
        done = subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        """A client logged in with ``token`` (the session cookie set directly)."""
        cookies = {"gitward_session": token_of(token)} if token else {}
        kwargs.setdefault("timeout", 30)
        return httpx.AsyncClient(base_url=self.url, cookies=cookies, **kwargs)

    async def until(self, check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        event_loop = asyncio.get_running_loop()
        deadline = event_loop.time() + timeout
        last: Any = None
        while event_loop.time() < deadline:
            last = check()
            if asyncio.iscoroutine(last):
                last = await last
            if last:
                return last
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})")

    def status(self) -> tuple[str, str]:
        state = self.agent.apps.get(APP)
        if state is None:
            return ("", "")
        return (state.sync.value, state.health.status.value)


def isolate_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """HOME, git configuration and caches inside ``tmp_path`` for the test process."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    values = {
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Ada Author",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Author",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return {"PATH": os.environ["PATH"], **values}


@pytest.fixture
async def stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[Stack]:
    """The app ``web`` (automated sync off) Synced and Healthy, served with the UI.

    Parametrize indirectly with ``auth.anonymous`` ("none" by default).
    """
    anonymous = getattr(request, "param", "none")
    git = Git(tmp_path, isolate_git(tmp_path, monkeypatch))
    git.commit(
        "Declare web",
        {
            "apps/web.yaml": application(APP, git.url, "web", automated=False),
            "web/cm.yaml": configmap("web-settings", "blue"),
            "web/secret.yaml": secret("web-credentials", CANARY),
            "web/deploy.yaml": deployment("web", "example/web:1"),
        },
    )
    with kubeapi.running(workload_delay=0.05, progress_deadline=5.0) as cluster:
        kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
        settings = config_settings.parse(
            {
                "targets": {"test": {"kubeconfig": str(kubeconfig)}},
                "root": {"repoURL": git.url, "ref": "main", "path": "apps"},
                "store": f"sqlite:///{tmp_path / 'state.db'}",
                "cacheDir": str(tmp_path / "agent-cache"),
                "pollInterval": "0.3s",
                "auth": {"anonymous": anonymous},
            },
            "web test settings",
        )
        store = storing.SqlStore(settings.store)
        await store.open()
        for name, (role, projects) in TOKENS.items():
            await store.save_token(
                name, auth.hash_token(token_of(name)), role, projects, datetime.now(UTC)
            )
        async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
            agent = loop.Agent(
                settings,
                runtime,
                store,
                options=loop.AgentOptions(workers=2, poll_interval=0.3, tick=0.2),
            )
            served = api_app.create(agent, settings, extra_routes=web.routes(agent, settings))
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            server = uvicorn.Server(
                uvicorn.Config(
                    served,
                    log_level="warning",
                    lifespan="off",
                    timeout_graceful_shutdown=1,
                )
            )
            agent_task = asyncio.create_task(agent.run(), name="agent")
            server_task = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
            try:
                result = Stack(agent, f"http://127.0.0.1:{port}", git, cluster, kubeconfig)
                await result.until(lambda: server.started, "uvicorn started")
                # The app syncs once by hand, as a person would after declaring it.
                await result.until(lambda: APP in agent.apps, "the app declared")
                await result.until(lambda: agent.apps[APP].revision, "the first reconcile")
                await agent.sync_now(APP, trigger="test setup")
                await result.until(
                    lambda: result.status() == ("Synced", "Healthy"), "web Synced/Healthy"
                )
                yield result
            finally:
                server.should_exit = True
                await asyncio.wait_for(server_task, 10)
                agent_task.cancel()
                await asyncio.gather(agent_task, return_exceptions=True)
                sock.close()
                await store.close()


def assert_no_secret(text: str, where: str) -> None:
    for forbidden in FORBIDDEN:
        assert forbidden not in text, f"a Secret value leaked into {where}"


async def wait_text(check: Callable[[], Awaitable[str]], needle: str, timeout: float = 20.0) -> str:
    event_loop = asyncio.get_running_loop()
    deadline = event_loop.time() + timeout
    text = ""
    while event_loop.time() < deadline:
        text = await check()
        if needle in text:
            return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared; last:\n{text[:2000]}")
