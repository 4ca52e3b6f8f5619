"""Watches: events for create/modify/delete, resume after the stream ends,
one shared watch per kind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from kubeobjects import configmap, deploy, namespace

from gitward.model import resources
from gitward.targets import base
from gitward.targets.kubernetes import KubernetesTarget, watching


async def _next(
    events: AsyncIterator[base.WatchEvent],
    name: str,
    kind: base.WatchEventType | None = None,
) -> base.WatchEvent:
    """The next event about object ``name`` (of type ``kind`` when given)."""
    async with asyncio.timeout(5):
        while True:
            event = await anext(events)
            if event.key.name == name and kind in (None, event.type):
                return event


async def test_events_for_create_modify_delete(target: KubernetesTarget) -> None:
    await deploy(target, "shop", "web", namespace("web"))
    [existing] = await deploy(target, "shop", "web", configmap("before"))
    events = target.watch("", "ConfigMap")
    try:
        first = await _next(events, "before")
        assert (first.type, first.key) == (base.WatchEventType.ADDED, existing.key)
        [cm] = await deploy(target, "shop", "web", configmap("w", color="blue"))
        added = await _next(events, "w")
        assert (added.type, added.key) == (base.WatchEventType.ADDED, cm.key)
        await deploy(target, "shop", "web", configmap("w", color="red"))
        modified = await _next(events, "w")
        assert modified.type is base.WatchEventType.MODIFIED
        assert modified.object["data"] == {"color": "red"}
        await target.delete(cm.key)
        # Foreground deletion may first show the object with a deletionTimestamp.
        deleted = await _next(events, "w", base.WatchEventType.DELETED)
        assert (deleted.type, deleted.key) == (base.WatchEventType.DELETED, cm.key)
    finally:
        await events.aclose()


async def test_watch_resumes_after_the_server_ends_the_stream(kubeconfig: Path) -> None:
    target = KubernetesTarget.connect("t", kubeconfig=kubeconfig, watch_server_timeout=1)
    try:
        await deploy(target, "shop", "web", namespace("web"))
        events = target.watch("", "ConfigMap")
        try:
            await deploy(target, "shop", "web", configmap("one"))
            assert (await _next(events, "one")).type is base.WatchEventType.ADDED
            watch = target.watches.active("", "ConfigMap")
            assert watch is not None
            connects = watch.connects
            await asyncio.sleep(1.5)  # the server closes the watch after 1 s
            await deploy(target, "shop", "web", configmap("two"))
            assert (await _next(events, "two")).type is base.WatchEventType.ADDED
            assert watch.connects > connects
            assert watch.lists == 1  # resumed from its resourceVersion, no re-list
        finally:
            await events.aclose()
    finally:
        await target.close()


async def test_one_shared_watch_per_kind(target: KubernetesTarget) -> None:
    await deploy(target, "shop", "web", namespace("web"))
    first = target.watch("", "ConfigMap")
    second = target.watch("", "ConfigMap")
    await deploy(target, "shop", "web", configmap("shared"))
    a = await _next(first, "shared")
    b = await _next(second, "shared")
    assert a == b
    watch = target.watches.active("", "ConfigMap")
    assert watch is not None
    assert watch.lists == 1
    await first.aclose()
    assert target.watches.active("", "ConfigMap") is watch
    await second.aclose()
    assert target.watches.active("", "ConfigMap") is None


async def test_cancelling_a_subscriber_unsubscribes(target: KubernetesTarget) -> None:
    events = target.watch("", "Namespace")

    async def consume() -> None:
        async for _ in events:
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    assert target.watches.active("", "Namespace") is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert target.watches.active("", "Namespace") is None


async def test_closing_the_target_ends_subscriptions(kubeconfig: Path) -> None:
    target = KubernetesTarget.connect("t", kubeconfig=kubeconfig)
    events = target.watch("", "Namespace")
    received: list[base.WatchEvent] = []

    async def consume() -> None:
        async for event in events:
            received.append(event)

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        while not received:
            await asyncio.sleep(0.01)
    await target.close()
    async with asyncio.timeout(5):
        await task  # ends without error
    assert {e.key.name for e in received} >= {"default", "kube-system"}


def _event(name: str, version: str, kind: base.WatchEventType) -> base.WatchEvent:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "web", "resourceVersion": version},
    }
    return base.WatchEvent(kind, resources.ResourceKey.of(obj), obj)


async def test_pending_events_are_coalesced_per_object_and_bounded() -> None:
    pending = watching.Subscription("ConfigMap", max_pending=3)
    for version in range(1, 1001):  # a flood of changes to one object
        pending.put(_event("busy", str(version), base.WatchEventType.MODIFIED))
    pending.put(_event("other", "5", base.WatchEventType.ADDED))
    pending.put(_event("busy", "1001", base.WatchEventType.DELETED))
    assert len(pending) == 2
    first, second = await pending.get(), await pending.get()
    assert isinstance(first, base.WatchEvent) and isinstance(second, base.WatchEvent)
    assert (first.key.name, first.type) == ("busy", base.WatchEventType.DELETED)
    assert (second.key.name, second.object["metadata"]["resourceVersion"]) == ("other", "5")

    for name in ("a", "b", "c", "d"):  # more distinct objects than allowed
        pending.put(_event(name, "9", base.WatchEventType.ADDED))
    overflow = await pending.get()
    assert isinstance(overflow, watching.WatchOverflow)
    assert "ConfigMap" in str(overflow) and len(pending) == 0
