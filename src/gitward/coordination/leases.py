"""Replicas coordinated by Kubernetes Leases (``coordination.k8s.io/v1``).

Each replica holds its own Lease, ``<group>-<identity>`` in one namespace,
labelled ``gitward.dev/lease-group: <group>``; the live members are the
Leases with a holder whose record changed within their
``leaseDurationSeconds``. The holder is ``<identity>_<incarnation>`` (as
client-go does), so a restarted replica with the same identity (a pod's
name) knows the lease still belongs to its previous incarnation and waits for
it to expire before taking it, with ``leaseTransitions`` + 1 as its new
fencing token.

Expiry is judged, like client-go, by when *this* process saw the record
change (monotonic clock), never by comparing ``renewTime`` with the local
wall clock: replicas need not have synchronised clocks.

Called by ``gitward.engine.ownership``; the lightkube client comes from the
engine (``targets.kubernetes.connecting``), so this module holds no
credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import httpx2
import lightkube
from lightkube.core import exceptions as lk_exceptions
from lightkube.resources import coordination_v1

from gitward import errors
from gitward.coordination import base
from gitward.model import coordination

GROUP_LABEL = "gitward.dev/lease-group"
IDENTITY_ANNOTATION = "gitward.dev/identity"
ADDRESS_ANNOTATION = "gitward.dev/address"
DEFAULT_GROUP = "gitward"


def lease_name(group: str, identity: str) -> str:
    """A DNS-1123 name for the Lease of ``identity`` in ``group``."""
    name = re.sub(r"[^a-z0-9.-]+", "-", f"{group}-{identity}".lower()).strip("-.")
    return name[:253] or group


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: object) -> datetime:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.fromtimestamp(0, UTC)


class LeaseCoordinator:
    """:class:`gitward.coordination.base.Coordinator` over Kubernetes Leases."""

    def __init__(
        self,
        client: lightkube.AsyncClient,
        namespace: str,
        identity: str,
        *,
        timings: coordination.Timings | None = None,
        address: str = "",
        group: str = DEFAULT_GROUP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.namespace = namespace
        self._identity = identity
        self._timings = timings or coordination.Timings()
        self.address = address
        self.group = group
        self._clock = clock
        self._lease = base.LeaseClock(self._timings, clock)
        self.name = lease_name(group, identity)
        self.holder = f"{identity}_{uuid.uuid4().hex[:10]}"
        self._current: dict[str, Any] | None = None
        # Lease name -> (resourceVersion, when this process first saw it).
        self._observed: dict[str, tuple[str, float]] = {}

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def timings(self) -> coordination.Timings:
        return self._timings

    @property
    def description(self) -> str:
        return f"Kubernetes Leases in namespace {self.namespace} (group {self.group})"

    # --- requests -------------------------------------------------------------------

    def _where(self, name: str = "") -> str:
        return f"Lease {self.namespace}/{name or self.name}"

    async def _call(self, what: str, request: Any) -> Any:
        try:
            return await asyncio.wait_for(request, self._timings.renew_deadline)
        except lk_exceptions.ApiError:
            raise
        except (TimeoutError, httpx2.HTTPError, OSError) as exc:
            raise errors.CoordinationUnavailable(
                f"{self._where()}: {what}: {type(exc).__name__}"
            ) from exc

    def _unavailable(self, what: str, exc: lk_exceptions.ApiError) -> errors.GitwardError:
        code = exc.status.code or 0
        message = f"{self._where()}: {what}: {code} {exc.status.reason or ''}".rstrip()
        if code == 404 and what == "acquire":
            return errors.ConfigError(f"{message} (does namespace {self.namespace} exist?)")
        if code in (401, 403):
            return errors.ConfigError(
                message + " (the replica's account needs get, list, create and update on "
                "leases.coordination.k8s.io in this namespace)"
            )
        return errors.CoordinationUnavailable(message)

    async def _get(self) -> dict[str, Any] | None:
        try:
            lease = await self._call(
                "read", self._client.get(coordination_v1.Lease, self.name, namespace=self.namespace)
            )
        except lk_exceptions.ApiError as exc:
            if exc.status.code == 404:
                return None
            raise self._unavailable("read", exc) from exc
        result: dict[str, Any] = lease.to_dict()
        return result

    def _body(self, current: dict[str, Any] | None, transitions: int) -> dict[str, Any]:
        now = _now_text()
        metadata: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {GROUP_LABEL: self.group},
            "annotations": {IDENTITY_ANNOTATION: self._identity, ADDRESS_ANNOTATION: self.address},
        }
        if current is not None:
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.holder,
                # Whole seconds on the wire: round up, never below the renew deadline.
                "leaseDurationSeconds": max(1, math.ceil(self._timings.lease_duration)),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": transitions,
            },
        }

    async def _write(self, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
        lease = cast(coordination_v1.Lease, coordination_v1.Lease.from_dict(body))
        request = self._client.create(lease) if create else self._client.replace(lease)
        written = await self._call("create" if create else "update", request)
        result: dict[str, Any] = written.to_dict()
        return result

    # --- the Protocol ----------------------------------------------------------------

    async def join(self) -> coordination.Fence:
        while True:
            current = await self._get()
            sent = self._lease.sending()
            try:
                if current is None:
                    written = await self._write(self._body(None, 0), create=True)
                elif self._may_take(current):
                    spec = current.get("spec") or {}
                    transitions = int(spec.get("leaseTransitions") or 0) + 1
                    written = await self._write(self._body(current, transitions), create=False)
                else:
                    await asyncio.sleep(self._timings.retry_period)
                    continue
            except lk_exceptions.ApiError as exc:
                if exc.status.code == 409:
                    continue  # someone wrote it in between: look again
                raise self._unavailable("acquire", exc) from exc
            self._current = written
            fence = self._fence_of(written)
            self._lease.renewed(fence, sent)
            return fence

    def _may_take(self, current: dict[str, Any]) -> bool:
        spec = current.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if not holder or holder == self.holder:
            return True
        # Held by an earlier incarnation: take it once it stopped renewing.
        return self._expired(current)

    def _expired(self, lease: dict[str, Any]) -> bool:
        meta = lease["metadata"]
        name, version = meta["name"], str(meta.get("resourceVersion") or "")
        now = self._clock()
        seen = self._observed.get(name)
        if seen is None or seen[0] != version:
            self._observed[name] = (version, now)
            seen = self._observed[name]
        duration = float((lease.get("spec") or {}).get("leaseDurationSeconds") or 0)
        return now - seen[1] >= duration

    def _fence_of(self, lease: dict[str, Any]) -> coordination.Fence:
        spec = lease.get("spec") or {}
        return coordination.Fence(
            str(spec.get("holderIdentity") or ""), int(spec.get("leaseTransitions") or 0)
        )

    async def renew(self) -> coordination.Fence:
        current = self._current
        if current is None or self._lease.remaining() <= 0:
            self._lease.lost()
            raise errors.LeaseLost(
                f"replica {self._identity}: {self._where()} was not renewed within "
                f"{self._timings.renew_deadline:g}s"
            )
        sent = self._lease.sending()
        body = dict(current)
        spec = dict(body.get("spec") or {})
        spec["renewTime"] = _now_text()
        body["spec"] = spec
        try:
            written = await self._write(body, create=False)
        except lk_exceptions.ApiError as exc:
            if exc.status.code not in (404, 409):
                raise self._unavailable("renew", exc) from exc
            again = await self._get()
            if again is None or self._fence_of(again) != self._fence_of(current):
                self._lease.lost()
                self._current = None
                raise errors.LeaseLost(
                    f"replica {self._identity}: {self._where()} was taken over or deleted"
                ) from exc
            self._current = again
            return await self.renew()
        self._current = written
        fence = self._fence_of(written)
        self._lease.renewed(fence, sent)
        return fence

    async def members(self) -> list[coordination.Member]:
        try:
            leases = [
                lease.to_dict()
                async for lease in self._client.list(
                    coordination_v1.Lease,
                    namespace=self.namespace,
                    labels={GROUP_LABEL: self.group},
                )
            ]
        except lk_exceptions.ApiError as exc:
            raise self._unavailable("list", exc) from exc
        except (httpx2.HTTPError, OSError) as exc:
            raise errors.CoordinationUnavailable(
                f"Leases in {self.namespace}: list: {type(exc).__name__}"
            ) from exc
        live = []
        names = set()
        for lease in leases:
            meta = lease["metadata"]
            names.add(meta["name"])
            spec = lease.get("spec") or {}
            if not spec.get("holderIdentity"):
                continue
            mine = meta["name"] == self.name and spec.get("holderIdentity") == self.holder
            expired = self._expired(lease)
            if (mine and self._lease.remaining() <= 0) or (not mine and expired):
                continue
            annotations = meta.get("annotations") or {}
            live.append(
                coordination.Member(
                    identity=str(annotations.get(IDENTITY_ANNOTATION) or meta["name"]),
                    fence=self._fence_of(lease),
                    acquired_at=_parse_time(spec.get("acquireTime")),
                    renewed_at=_parse_time(spec.get("renewTime")),
                    address=str(annotations.get(ADDRESS_ANNOTATION) or ""),
                    lease=f"{self.namespace}/{meta['name']}",
                )
            )
        for gone in set(self._observed) - names:
            del self._observed[gone]
        return sorted(live, key=lambda m: m.identity)

    def fence(self) -> coordination.Fence:
        return self._lease.fence(self._identity)

    async def leave(self) -> None:
        current = self._current
        self._lease.lost()
        self._current = None
        if current is None:
            return
        body = dict(current)
        spec = dict(body.get("spec") or {})
        # As client-go releases: no holder, a one-second lease.
        spec.update(holderIdentity=None, leaseDurationSeconds=1, renewTime=_now_text())
        body["spec"] = spec
        # On failure it expires on its own.
        with contextlib.suppress(lk_exceptions.ApiError, errors.CoordinationUnavailable):
            await self._write(body, create=False)
