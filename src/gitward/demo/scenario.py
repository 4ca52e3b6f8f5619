"""The demo scenario: commit → sync, drift → corrected, file removed → pruned, revert.

Each step runs the same engine functions as ``gitward sync``/``gitward diff``
against a local bare repository and the Kubernetes API test server, and
prints what happened. ``gitward demo`` (``cli.demo_commands``) calls :func:`run`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from importlib import resources as package_files
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gitward.config import settings as config_settings
from gitward.engine import documents, reconciling, reports, runtimes
from gitward.model import operations
from gitward.testing import kubeapi

APPS_IN_ORDER = ("namespaces", "web-staging", "web-production", "api-staging")


class Demo:
    def __init__(self, workdir: Path, console: Console) -> None:
        self.workdir = workdir
        self.console = console
        self.remote = workdir / "deploy.git"
        self.clone = workdir / "deploy"
        self.kubeconfig = workdir / "demo.kubeconfig"
        self.config_file = workdir / "gitward.yaml"
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

    def step(self, title: str) -> None:
        self.console.rule(f"[bold]{title}")

    async def sync(self, runtime: runtimes.Runtime, name: str) -> operations.Operation:
        app = documents.load_application(self.clone / "apps" / f"{name}.yaml")
        report = await reconciling.sync(runtime, app, trigger="demo", wait=True)
        self.show(report)
        return report.operation

    async def diff(self, runtime: runtimes.Runtime, name: str) -> bool:
        app = documents.load_application(self.clone / "apps" / f"{name}.yaml")
        desired = await reconciling.desired_state(runtime, app)
        plan = await reconciling.plan(runtime, app, desired)
        self.console.print(f"[bold]gitward diff {name}[/]")
        self.console.print(reports.plan_text(plan), markup=False)
        return plan.in_sync

    def show(self, report: reconciling.SyncReport) -> None:
        op = report.operation
        table = Table(
            title=f"{op.app} @ {op.revision.sha[:8]} by {op.revision.author}", title_justify="left"
        )
        for column in ("resource", "result", "message"):
            table.add_column(column)
        for result in op.results:
            table.add_row(str(result.key), result.code.value, result.message)
        self.console.print(table)
        colour = "green" if op.phase is operations.OperationPhase.SUCCEEDED else "red"
        self.console.print(f"[{colour}]{op.phase.value}[/] {op.message}")

    async def scenario(self, runtime: runtimes.Runtime) -> bool:
        ok = True
        self.step(
            "1. First sync of every Application (namespaces, web x2 via Kustomize, api via Helm)"
        )
        for name in APPS_IN_ORDER:
            op = await self.sync(runtime, name)
            ok &= op.phase is operations.OperationPhase.SUCCEEDED

        self.step("2. CI bumps the staging image in Git; gitward diff shows it, sync applies it")
        self.edit("web/overlays/staging/kustomization.yaml", lambda t: t.replace("1.1.0", "1.2.0"))
        sha = await self.commit("ci: web 1.1.0 -> 1.2.0 in staging")
        self.console.print(f"committed {sha}")
        await self.diff(runtime, "web-staging")
        ok &= (await self.sync(runtime, "web-staging")).phase is operations.OperationPhase.SUCCEEDED

        self.step("3. Someone scales production by hand: drift, then self-heal")
        self.console.print(
            await self.kubectl("-n", "web-production", "scale", "deployment/web", "--replicas=10")
        )
        in_sync = await self.diff(runtime, "web-production")
        ok &= not in_sync
        await self.sync(runtime, "web-production")
        replicas = await self.kubectl(
            "-n", "web-production", "get", "deployment/web", "-o", "jsonpath={.spec.replicas}"
        )
        self.console.print(f"web-production replicas after self-heal: {replicas}")
        ok &= replicas == "3"

        self.step("4. The API Service leaves Git: prune")
        (self.clone / "charts/api/templates/service.yaml").unlink()
        await self.commit("api: drop the Service")
        await self.sync(runtime, "api-staging")

        self.step("5. Roll back the staging image with git revert (GitOps rollback)")
        await self.git("revert", "--no-edit", "HEAD~1")
        await self.git("push", "-q", "origin", "HEAD:main")
        await self.sync(runtime, "web-staging")
        image = await self.kubectl(
            "-n",
            "web-staging",
            "get",
            "deployment/web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        )
        self.console.print(f"web-staging image after the revert: {image}")
        ok &= image.endswith(":1.1.0")
        return ok


async def run(workdir: Path, *, port: int, keep_running: bool, console: Console) -> bool:
    """Run the demo in ``workdir``; True when every step did what it should."""
    demo = Demo(workdir, console)
    console.print(
        "[bold yellow]The demo cluster is gitward's Kubernetes API test server: it speaks "
        "the Kubernetes API (kubectl works), but it runs no containers.[/]"
    )
    async with kubeapi.KubeAPIServer(port=port, workload_delay=0.5) as server:
        server.write_kubeconfig(demo.kubeconfig, context="demo")
        demo.config_file.write_text(f"targets:\n  demo: {{kubeconfig: {demo.kubeconfig}}}\n")
        await demo.create_repository()
        console.print(f"API test server: {server.url}    git repository: {demo.remote}")
        settings = config_settings.Settings.model_validate(
            {
                "targets": {"demo": {"kubeconfig": str(demo.kubeconfig)}},
                "cacheDir": str(workdir / "cache"),
            }
        )
        options = runtimes.RuntimeOptions(settings=settings)
        async with runtimes.Runtime.open(options) as runtime:
            ok = await demo.scenario(runtime)
        console.rule("[bold]Try it yourself")
        console.print(
            f"  cd {demo.clone}   # edit, git commit, git push origin HEAD:main\n"
            f"  gitward diff apps/web-staging.yaml --config {demo.config_file}\n"
            f"  gitward sync apps/web-staging.yaml --config {demo.config_file} --wait\n"
            f"  kubectl --kubeconfig {demo.kubeconfig} get deploy -A"
        )
        if keep_running:
            console.print("The API test server keeps running; press Ctrl-C to stop.")
            await asyncio.Event().wait()
        return ok
