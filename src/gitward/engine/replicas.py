"""Replicas sharing the work: what ``replicas:`` in gitward.yaml builds.

With ``replicas.coordinator`` set, ``engine.loop`` builds one
:class:`Replicas` (:func:`build`) before anything else and:

* uses it as the agent's :class:`engine.ownership.Ownership`: an Application
  is worked on only while ``engine.membership`` says this replica may write
  it; every change of the shard queues every Application again (the workers
  take what is owned now and drop the rest), once at the change and once
  more when the Applications that moved here from a live replica settle;
  and every ``retryPeriod`` the follower queues any Application of the shard
  that is writable but not yet reconciled here (one a worker dropped while
  this replica's view was briefly stale would otherwise wait for the next
  commit or resync);
* wraps every target the runtime connects in an ``engine.fencing``
  FencedTarget (:meth:`Replicas.wrap`), so each write is checked against the
  lease and the shard immediately before it is sent;
* runs :meth:`Replicas.run` as one of its tasks: the membership (join,
  renew, read the members, release the lease when cancelled: SIGTERM hands
  the shard off at once) and a follower that tells the membership which
  Applications exist and refreshes, from the shared store, the status of the
  Applications other replicas own, so every replica's API and UI show them.

The coordinator is Kubernetes Leases (``coordination.leases``) in the
cluster of ``replicas.target`` or, without one, the cluster gitward runs in;
or PostgreSQL advisory locks on the store (``coordination.advisory``).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any

import structlog

from gitward import errors
from gitward.config import settings as config_settings
from gitward.coordination import advisory, base, leases
from gitward.engine import context, fencing, membership, metrics, persisting
from gitward.model import coordination
from gitward.targets import base as targets
from gitward.targets import registry as target_registry

_log = structlog.get_logger(__name__)

# Settled Applications are queued again a little after their settle time.
_SETTLE_MARGIN = 0.05


def identity(replicas: config_settings.ReplicaSettings) -> str:
    """This replica's name: the configured one, else the pod's name in a
    cluster (``POD_NAME``, or ``HOSTNAME`` under Kubernetes), else host name
    and process id."""
    if replicas.identity:
        return replicas.identity
    if os.environ.get("POD_NAME"):
        return os.environ["POD_NAME"]
    if os.environ.get("KUBERNETES_SERVICE_HOST") and os.environ.get("HOSTNAME"):
        return os.environ["HOSTNAME"]
    return f"{socket.gethostname()}-{os.getpid()}"


def advertised(settings: config_settings.Settings) -> str:
    """Where the other replicas reach this one's API (actions are forwarded there)."""
    if settings.replicas.advertise:
        return settings.replicas.advertise.rstrip("/")
    host, _, port = settings.listen.rpartition(":")
    pod_ip = os.environ.get("POD_IP", "")
    if host in ("", "0.0.0.0", "::", "[::]") and pod_ip:  # noqa: S104 (comparing, not binding)
        host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    return f"http://{host or '127.0.0.1'}:{port}"


def timings(replicas: config_settings.ReplicaSettings) -> coordination.Timings:
    return coordination.Timings(
        lease_duration=replicas.lease_duration,
        renew_deadline=replicas.renew_deadline,
        retry_period=replicas.retry_period,
    )


def build(settings: config_settings.Settings, meters: metrics.Metrics) -> Replicas:
    """The coordinator ``settings.replicas`` names, and the Replicas around it.
    Sends no request yet (joining is :meth:`Replicas.run`'s first step)."""
    replicas = settings.replicas
    name, address, held = identity(replicas), advertised(settings), timings(replicas)
    if replicas.coordinator == "postgresql":
        made: base.Coordinator = advisory.PostgresCoordinator(
            settings.store, name, timings=held, address=address
        )
        return Replicas(made, balance=replicas.balance, meters=meters)
    if replicas.coordinator != "kubernetes":
        raise errors.ConfigError(f"replicas.coordinator {replicas.coordinator!r}: nothing to build")
    declared = settings.targets.get(replicas.target) if replicas.target else None
    connection = target_registry.kubernetes_connection(
        target_registry.Request(
            name=replicas.target,
            type="kubernetes",
            options=declared.options() if declared is not None else {},
        )
    )
    namespace = replicas.namespace or connection.namespace
    made = leases.LeaseCoordinator(
        connection.client,
        namespace,
        name,
        timings=held,
        address=address,
        group=replicas.group,
    )
    return Replicas(made, balance=replicas.balance, meters=meters, closing=connection.close)


class Replicas:
    """The agent's ownership when replicas share the work (see the module docstring)."""

    def __init__(
        self,
        coordinator: base.Coordinator,
        *,
        balance: float,
        meters: metrics.Metrics | None = None,
        closing: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.coordinator = coordinator
        self.metrics = meters or metrics.Metrics()
        self.membership = membership.Membership(
            coordinator,
            balance=balance,
            on_change=self._changed,
            on_renew_failure=self.metrics.lease_renew_failed,
        )
        self._listeners: list[Callable[[], None]] = []
        self._closing = closing
        self._seen: dict[str, datetime | None] = {}  # app -> updated_at of the status last followed

    # --- engine.ownership.Ownership ----------------------------------------------------

    @property
    def owns_everything(self) -> bool:
        return False

    def owns(self, app: str) -> bool:
        return self.membership.owns(app)

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def fence(self, app: str) -> str:
        try:
            return str(self.membership.check(app))
        except errors.FenceLost:
            return ""

    def live_fences(self) -> Collection[str]:
        return self.membership.live_fences()

    # --- what the agent asks -------------------------------------------------------------

    def wrap(self, target: targets.Target) -> targets.Target:
        """``target`` with every write fenced by this replica's lease and shard."""
        return fencing.fenced(target, self.membership.check, self.membership.attribution)

    @property
    def identity(self) -> str:
        return self.membership.identity

    def owner(self, app: str) -> tuple[str, str]:
        """The member owning ``app`` now and the URL it serves its API at
        (``('', '')`` when none does in this replica's view)."""
        member = self.membership.owner(app)
        return member, self.membership.address(member) if member else ""

    async def run(self, ctx: context.Context) -> None:
        """Hold the lease and follow the others until cancelled; the lease is
        released on the way out."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.membership.run())
            group.create_task(self._follow(ctx))

    async def close(self) -> None:
        if self._closing is not None:
            await self._closing()

    # --- inside -----------------------------------------------------------------------------

    def _changed(self, gained: set[str], lost: set[str]) -> None:
        self._notify()
        if gained:
            # Applications from a live replica become writable only when settled.
            wait = max((self.membership.settle_time(app) for app in gained), default=0.0)
            if 0 < wait < float("inf"):
                asyncio.get_running_loop().call_later(wait + _SETTLE_MARGIN, self._notify)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    async def _follow(self, ctx: context.Context) -> None:
        period = self.membership.timings.retry_period
        while True:
            self.membership.declare(ctx.apps)
            self._export()
            self._queue_unreconciled(ctx)
            try:
                await self._follow_statuses(ctx)
            except errors.RetryableError as exc:
                _log.warning("cannot read the other replicas' statuses", error=str(exc))
            await asyncio.sleep(period)

    def _queue_unreconciled(self, ctx: context.Context) -> None:
        """Queue what this replica may write but has not reconciled as its owner."""
        for name in self.membership.shard() - ctx.owned:
            if name in ctx.apps and name not in ctx.queue and self.owns(name):
                ctx.queue.add(name, "ownership changed")

    async def _follow_statuses(self, ctx: context.Context) -> None:
        """Take the status of every Application another replica reconciles from the
        store, so this replica's API and UI show what its owner saw."""
        others = [name for name in ctx.apps if name not in ctx.owned]
        if not others:
            return
        records = {r.name: r for r in await ctx.store.list_status()}
        for name in others:
            record, state = records.get(name), ctx.apps.get(name)
            if record is None or state is None or name in ctx.owned:
                continue
            if self._seen.get(name) == record.updated_at:
                continue
            self._seen[name] = record.updated_at
            persisting.restore(state, record)
            ctx.announce(name)

    def _export(self) -> None:
        snapshot = self.membership.snapshot()
        self.metrics.shards({m.member.identity: m.owned for m in snapshot.members})


HANDOFFS_SHOWN = 50


def describe(found: Replicas | None, applications: int) -> dict[str, Any]:
    """What ``GET /api/v1/replicas``, ``gitward replicas`` and the UI show: the
    members, their leases, how many Applications each owns, recent handoffs."""
    if found is None:
        return {
            "enabled": False,
            "coordinator": "none",
            "identity": "",
            "fence": "",
            "view": 0,
            "applications": applications,
            "unowned": 0,
            "settling": 0,
            "renewFailures": 0,
            "timings": None,
            "members": [],
            "handoffs": [],
        }
    snapshot = found.membership.snapshot()
    held = found.membership.timings
    lease = timedelta(seconds=held.lease_duration)
    return {
        "enabled": True,
        "coordinator": snapshot.coordinator,
        "identity": snapshot.identity,
        "fence": snapshot.fence,
        "view": snapshot.view,
        "applications": snapshot.applications,
        "unowned": snapshot.unowned,
        "settling": snapshot.settling,
        "renewFailures": snapshot.renew_failures,
        "timings": {
            "leaseDuration": held.lease_duration,
            "renewDeadline": held.renew_deadline,
            "retryPeriod": held.retry_period,
        },
        "members": [
            {
                "identity": row.member.identity,
                "address": row.member.address,
                "lease": row.member.lease,
                "fence": str(row.member.fence),
                "acquiredAt": row.member.acquired_at.isoformat(),
                "renewedAt": row.member.renewed_at.isoformat(),
                # By the clock of whoever stamped the renewal (the holder for
                # Kubernetes Leases, the database for PostgreSQL).
                "expiresAt": (row.member.renewed_at + lease).isoformat(),
                "owned": row.owned,
                "me": row.me,
            }
            for row in snapshot.members
        ],
        "handoffs": [
            {
                "at": handoff.at.isoformat(),
                "app": handoff.app,
                "from": handoff.previous,
                "to": handoff.owner,
                "reason": handoff.reason,
            }
            for handoff in snapshot.handoffs[:HANDOFFS_SHOWN]
        ],
    }
