"""The demo scenario: commit → sync, drift → corrected, file removed → pruned, revert;
then the same engine on a host target (this machine's files under the demo directory).

Each step runs the same engine functions as ``gitward sync``/``gitward diff``
against a local bare repository and the Kubernetes API test server, and
prints what happened. ``gitward demo`` (``cli.demo_commands``) calls :func:`run`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources as package_files
from pathlib import Path

import uvicorn
from rich.console import Console
from rich.table import Table

from gitward import web
from gitward.api import app as api_app
from gitward.api import auth
from gitward.config import settings as config_settings
from gitward.engine import loop, runtimes
from gitward.store import storing
from gitward.testing import kubeapi

APPS_IN_ORDER = ("namespaces", "web-staging", "web-production", "api-staging", "web-host")


class Demo:
    def __init__(self, workdir: Path, console: Console) -> None:
        self.workdir = workdir
        self.console = console
        self.remote = workdir / "deploy.git"
        self.clone = workdir / "deploy"
        self.kubeconfig = workdir / "demo.kubeconfig"
        self.config_file = workdir / "gitward.yaml"
        self.host_root = workdir / "host"
        self.token = ""
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "Demo Author",
            "GIT_AUTHOR_EMAIL": "demo@gitward.dev",
            "GIT_COMMITTER_NAME": "Demo Author",
            "GIT_COMMITTER_EMAIL": "demo@gitward.dev",
        }

    # --- setup ------------------------------------------------------------------

    async def git(self, *args: str, cwd: Path | None = None) -> str:
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd or self.clone,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {err.decode().strip()}")
        return out.decode().strip()

    async def kubectl(self, *args: str) -> str:
        binary = Path(sys.executable).parent / "kubectl"
        proc = await asyncio.create_subprocess_exec(
            str(binary),
            "--kubeconfig",
            str(self.kubeconfig),
            *args,
            env={**self.env, "HOME": str(self.workdir)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        return out.decode().strip()

    async def create_repository(self) -> None:
        example = package_files.files("gitward.demo") / "example"
        with package_files.as_file(example) as source:
            shutil.copytree(source, self.clone)
        for app_file in (self.clone / "apps").glob("*.yaml"):
            app_file.write_text(app_file.read_text().replace("REPO_URL", self.remote.as_uri()))
        for host_file in (self.clone / "host").glob("*.yaml"):
            host_file.write_text(host_file.read_text().replace("HOST_ROOT", str(self.host_root)))
        await self.git("init", "-q", "--bare", "-b", "main", str(self.remote), cwd=self.workdir)
        await self.git("init", "-q", "-b", "main")
        await self.git("remote", "add", "origin", str(self.remote))
        await self.commit("Example app: kustomize base + staging/production overlays, API chart")

    async def commit(self, message: str) -> str:
        await self.git("add", "-A")
        await self.git("commit", "-q", "-m", message)
        await self.git("push", "-q", "origin", "HEAD:main")
        return await self.git("rev-parse", "--short", "HEAD")

    def edit(self, rel: str, change: Callable[[str], str]) -> None:
        path = self.clone / rel
        path.write_text(change(path.read_text()))

    # --- steps --------------------------------------------------------------------

    def try_it(self, api_port: int, keep_running: bool) -> None:
        self.console.rule("[bold]Try it yourself")
        self.console.print(
            f"  open http://127.0.0.1:{api_port}/ for the web UI; log in with the token\n"
            f"    {self.token}\n"
            f"  GITWARD_SERVER=http://127.0.0.1:{api_port} GITWARD_TOKEN={self.token} "
            "gitward app list\n"
            f"  cd {self.clone}   # edit, git commit, git push origin HEAD:main: applied in ~2 s\n"
            f"  {Path(sys.executable).parent / 'kubectl'} --kubeconfig {self.kubeconfig} "
            "-n web-production scale deploy/web "
            "--replicas=5   # reverted\n"
            f"  echo hand-made > {self.host_root / 'etc/web/web.conf'}   # taken back\n"
            f"  gitward diff apps/web-staging.yaml --config {self.config_file}"
        )
        if keep_running:
            self.console.print("The demo keeps running; press Ctrl-C to stop it.")
        else:
            self.console.print(
                "(The demo stops here: run `gitward demo --keep-running` to keep it up.)"
            )

    def step(self, title: str) -> None:
        self.console.rule(f"[bold]{title}")

    async def wait_for(
        self, what: str, check: Callable[[], Awaitable[bool]], within: float = 60.0
    ) -> bool:
        event_loop = asyncio.get_running_loop()
        start = event_loop.time()
        while event_loop.time() - start < within:
            if await check():
                self.console.print(f"  [green]✓[/] {what} after {event_loop.time() - start:.1f} s")
                return True
            await asyncio.sleep(0.2)
        self.console.print(f"  [red]✗[/] {what}: not seen within {within:.0f} s")
        return False

    async def live(self, namespace: str, path: str) -> str:
        return await self.kubectl(
            "-n", namespace, "get", "deployment/web", "-o", f"jsonpath={{{path}}}"
        )

    def show_apps(self, agent: loop.Agent) -> None:
        table = Table(title="Applications", title_justify="left")
        for column in ("application", "sync", "health", "revision", "message"):
            table.add_column(column)
        for name in sorted(agent.apps):
            state = agent.apps[name]
            table.add_row(
                name,
                state.sync.value,
                state.health.status.value,
                state.synced_revision[:8],
                state.health.message,
            )
        self.console.print(table)

    async def show_events(self, store: storing.SqlStore, app: str, last: int = 3) -> None:
        events = await store.list_events(app=app, limit=last)
        for event in events[-last:]:
            self.console.print(f"  event {event.time:%H:%M:%S} {event.reason}: {event.message}")

    async def scenario(self, agent: loop.Agent, store: storing.SqlStore) -> bool:
        ok = True

        def all_healthy() -> Awaitable[bool]:
            async def check() -> bool:
                return len(agent.apps) == len(APPS_IN_ORDER) and all(
                    s.ready() for s in agent.apps.values()
                )

            return check()

        self.step("1. The agent reads apps/ from Git and syncs every Application (no command run)")
        ok &= await self.wait_for("all Applications Synced and Healthy", all_healthy, 120)
        self.show_apps(agent)

        self.step("2. CI bumps the staging image in Git; the agent applies it by itself")
        self.edit("web/overlays/staging/kustomization.yaml", lambda t: t.replace("1.1.0", "1.2.0"))
        sha = await self.commit("ci: web 1.1.0 -> 1.2.0 in staging")
        self.console.print(f"  committed {sha} (git push to the demo repository)")

        async def staging_is(tag: str) -> bool:
            image = await self.live("web-staging", ".spec.template.spec.containers[0].image")
            return image.endswith(":" + tag)

        ok &= await self.wait_for("web-staging runs 1.2.0", lambda: staging_is("1.2.0"))
        await self.show_events(store, "web-staging", 1)

        self.step("3. Someone scales production by hand: drift detected and reverted (selfHeal)")
        self.console.print(
            "  "
            + await self.kubectl("-n", "web-production", "scale", "deployment/web", "--replicas=10")
        )

        async def production_replicas_back() -> bool:
            return await self.live("web-production", ".spec.replicas") == "3"

        ok &= await self.wait_for("web-production back to 3 replicas", production_replicas_back)
        await self.show_events(store, "web-production", 2)

        self.step("4. The API Service leaves Git: the agent prunes it")
        (self.clone / "charts/api/templates/service.yaml").unlink()
        await self.commit("api: drop the Service")

        async def service_gone() -> bool:
            out = await self.kubectl("-n", "web-staging", "get", "service", "api-staging")
            return "NotFound" in out

        ok &= await self.wait_for("Service web-staging/api-staging pruned", service_gone)

        self.step("5. Roll back the staging image with git revert (GitOps rollback)")
        await self.git("revert", "--no-edit", "HEAD~1")
        await self.git("push", "-q", "origin", "HEAD:main")
        ok &= await self.wait_for("web-staging back on 1.1.0", lambda: staging_is("1.1.0"))
        self.show_apps(agent)
        return ok & await self.host_steps(store)

    async def host_steps(self, store: storing.SqlStore) -> bool:
        """The same engine on a second kind of target: files of this machine."""
        conf = self.host_root / "etc" / "web" / "web.conf"
        self.step(f"6. A host target beside the cluster: files under {self.host_root}")
        ok = await self.wait_for(
            f"{conf} written from Git", lambda: asyncio.to_thread(_holds, conf, "workers 4")
        )
        operations = await store.list_operations("web-host")
        said = [r.message for op in operations[:1] for r in op.operation.results if r.message]
        for message in said:
            self.console.print(f"  {message}")
        self.edit("host/files/web.conf", lambda t: t.replace("workers 4", "workers 8"))
        sha = await self.commit("web: 8 workers on the host")
        self.console.print(f"  committed {sha}: the file changes, its onChange Command runs")
        ok &= await self.wait_for(
            f"{conf.name} has 8 workers", lambda: asyncio.to_thread(_holds, conf, "workers 8")
        )

        self.step("7. Someone edits the file on the host by hand: taken back (selfHeal)")
        conf.write_text("listen 80\n")
        ok &= await self.wait_for(
            f"{conf.name} back as Git says", lambda: asyncio.to_thread(_holds, conf, "workers 8")
        )
        await self.show_events(store, "web-host", 2)
        return ok


def _holds(path: Path, text: str) -> bool:
    try:
        return text in path.read_text()
    except FileNotFoundError:
        return False


async def run(
    workdir: Path, *, port: int, api_port: int, keep_running: bool, console: Console
) -> bool:
    """Run the demo in ``workdir``; True when every step did what it should."""
    demo = Demo(workdir, console)
    console.print(
        "[bold yellow]The demo cluster is gitward's Kubernetes API test server: it speaks "
        "the Kubernetes API (kubectl works), but it runs no containers.[/]"
    )
    async with kubeapi.KubeAPIServer(port=port, workload_delay=0.5) as server:
        server.write_kubeconfig(demo.kubeconfig, context="demo")
        await demo.create_repository()
        settings = config_settings.Settings.model_validate(
            {
                "targets": {
                    "demo": {"kubeconfig": str(demo.kubeconfig)},
                    "host": {"type": "host", "roots": [str(demo.host_root)], "allowCommands": True},
                },
                "root": {"repoURL": demo.remote.as_uri(), "ref": "main", "path": "apps"},
                "store": f"sqlite:///{workdir / 'state.db'}",
                "cacheDir": str(workdir / "cache"),
                "pollInterval": "2s",
                "listen": f"127.0.0.1:{api_port}",
            }
        )
        demo.config_file.write_text(
            f"targets:\n  demo: {{kubeconfig: {demo.kubeconfig}}}\n"
            f"  host: {{type: host, roots: [{demo.host_root}], allowCommands: true}}\n"
            f'root: {{repoURL: "{demo.remote.as_uri()}", ref: main, path: apps}}\n'
            f"store: sqlite:///{workdir / 'state.db'}\n"
            f"pollInterval: 2s\nlisten: 127.0.0.1:{api_port}\n"
        )
        store = storing.SqlStore(settings.store)
        await store.open()
        # A token for the web UI and the CLI (stored hashed, like any other).
        demo.token = auth.new_token()
        await store.save_token(
            "demo-admin", auth.hash_token(demo.token), "admin", ("*",), datetime.now(UTC)
        )
        try:
            options = runtimes.RuntimeOptions(settings=settings)
            async with runtimes.Runtime.open(options) as runtime:
                agent = loop.Agent(settings, runtime, store)
                http = uvicorn.Server(
                    uvicorn.Config(
                        api_app.create(agent, settings, extra_routes=web.routes(agent, settings)),
                        host="127.0.0.1",
                        port=api_port,
                        log_level="warning",
                        lifespan="off",
                    )
                )
                tasks = [
                    asyncio.create_task(agent.run(), name="agent"),
                    asyncio.create_task(http.serve(), name="api"),
                ]
                console.print(
                    f"API test server {server.url} · git repository {demo.remote} · "
                    f"agent http://127.0.0.1:{api_port}"
                )
                try:
                    ok = await demo.scenario(agent, store)
                    demo.try_it(api_port, keep_running)
                    if keep_running:
                        await asyncio.Event().wait()
                finally:
                    http.should_exit = True
                    tasks[0].cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await store.close()
        return ok
