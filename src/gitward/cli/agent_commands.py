"""``gitward serve``: the agent, its API and webhook receiver, in one asyncio process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from gitward import errors, web
from gitward.api import app as api_app
from gitward.cli import logs
from gitward.config import settings as config_settings
from gitward.engine import documents, loop, runtimes
from gitward.engine.delivery import exporting
from gitward.engine.notifications import running as notifying
from gitward.store import base as store_base
from gitward.store import locking, storing


def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="Agent configuration file.")],
    listen: Annotated[
        str,
        typer.Option("--listen", help="host:port for the API and webhooks (overrides the file)."),
    ] = "",
) -> None:
    """Run the agent: keep every Application declared under the root equal to Git."""
    logs.configure(default_level="info")
    try:
        settings = documents.load_settings(config)
    except errors.GitwardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if listen:
        settings = settings.model_copy(update={"listen": listen})
    try:
        # SQLite runs one agent per file; a second is refused here, by name.
        # A lock that cannot be made yet (read-only directory) is the store
        # failing: the agent retries it with the store (``/healthz`` says so).
        lock = locking.AgentLock(settings.store)
        with contextlib.suppress(store_base.StoreUnavailable):
            lock.acquire()
        try:
            # uvloop (libuv): the agent's event loop turns over every request,
            # watch event and timer of every Application; measured on a cold
            # start of 1,000 Applications (bench/agent.py), it spends less of
            # the agent's CPU than asyncio's own loop.
            import uvloop

            uvloop.run(run(settings, config, lock))
        finally:
            lock.release()
    except errors.InputError as exc:
        # A corrupt store too: one line naming the file and what to do.
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


async def run(
    settings: config_settings.Settings,
    config_file: Path | None,
    lock: locking.AgentLock | None = None,
) -> None:
    host, _, port = settings.listen.rpartition(":")
    store = storing.SqlStore(settings.store)

    async def open_store() -> None:
        if lock is not None:
            lock.acquire()
        await store.open()

    try:
        options = runtimes.RuntimeOptions(settings=settings, config_file=config_file)
        async with runtimes.Runtime.open(options) as runtime:
            agent = loop.Agent(settings, runtime, store, open_store=open_store)
            server = uvicorn.Server(
                uvicorn.Config(
                    api_app.create(agent, settings, extra_routes=web.routes(agent, settings)),
                    host=host or "127.0.0.1",
                    port=int(port),
                    log_level="warning",
                    lifespan="off",
                    # Open event streams must not hold a shutdown forever.
                    timeout_graceful_shutdown=5,
                )
            )
            running = asyncio.create_task(agent.run(), name="agent")
            # An agent that stops (a corrupt store) stops the server too:
            # never an API saying ok for an agent that no longer works.
            running.add_done_callback(lambda _: setattr(server, "should_exit", True))
            tasks = [running]
            # Notifications and delivery figures run beside the agent, never
            # inside a reconcile: a slow receiver only delays its own outbox.
            notifier = notifying.for_agent(agent)
            if notifier is not None:
                tasks.append(asyncio.create_task(notifier.run(), name="notifications"))
            tasks.append(asyncio.create_task(exporting.run(agent), name="delivery-metrics"))
            # SIGHUP: re-read the configuration's targets now (labels, new targets).
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, agent.reload_configuration)
            try:
                # uvicorn returns when it receives SIGINT/SIGTERM; the agent stops then.
                await server.serve()
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks[1:]:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            with contextlib.suppress(asyncio.CancelledError):
                await running  # its error, if it stopped on one
    finally:
        await store.close()
