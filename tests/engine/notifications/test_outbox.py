"""The outbox end to end over a real SQLite store and real HTTP receivers: routing
from the event log, retries with backoff, give-up, de-duplication, rate limits,
the outbox bound, refused addresses, and secrets that never reach the log."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gitward.config import notifications as config
from gitward.engine.notifications import routing, running
from gitward.store import base as store_base
from gitward.store import storing
from gitward.testing import receivers


def settings(url: str, **delivery: Any) -> config.NotificationSettings:
    return config.NotificationSettings.model_validate(
        {
            "providers": {
                "hook": {"type": "webhook", "url": url, "secretEnv": "CANARY_HOOK"},
            },
            "alerts": [{"provider": "hook", "events": ["Sync*"], "applications": ["web-*"]}],
            "delivery": {"backoff": {"duration": "20ms", "factor": 2}, **delivery},
        }
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[storing.SqlStore]:
    async with storing.SqlStore(f"sqlite:///{tmp_path / 'state.db'}") as opened:
        yield opened


def _service(store: storing.SqlStore, config_: config.NotificationSettings) -> running.Notifier:
    return running.Notifier(
        store,
        lambda: config_,
        alerts=config_.named_alerts,
        describe=lambda name: {"name": name, "project": "default", "labels": {}},
        clock=lambda: datetime.now(UTC),
    )


@contextlib.asynccontextmanager
async def notifier(
    store: storing.SqlStore, config_: config.NotificationSettings
) -> AsyncIterator[running.Notifier]:
    service = _service(store, config_)
    task = asyncio.create_task(service.run())
    try:
        async with asyncio.timeout(10):
            await service.ready.wait()
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def event(store: storing.SqlStore, app: str, reason: str, message: str = "m") -> None:
    await store.add_event(
        store_base.EventRecord(
            app=app,
            time=datetime.now(UTC),
            type=store_base.EventType.NORMAL,
            reason=reason,
            message=message,
            revision="a" * 40,
        )
    )


async def until(
    store: storing.SqlStore, check: Callable[[list[store_base.DeliveryRecord]], bool]
) -> list[store_base.DeliveryRecord]:
    async with asyncio.timeout(10):
        while True:
            found = await store.list_deliveries()
            if check(found):
                return found
            await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def canary(monkeypatch: pytest.MonkeyPatch) -> str:
    value = "canary-7f3e9a-hook-secret"
    monkeypatch.setenv("CANARY_HOOK", value)
    return value


async def test_retries_a_receiver_that_fails_twice_then_succeeds(
    store: storing.SqlStore, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with receivers.Receiver(answers=[503, 502]) as receiver:
        config_ = settings(receiver.url)
        async with notifier(store, config_) as service:
            await event(store, "web-1", "SyncSucceeded")
            service.wake()
            (sent,) = await until(store, lambda d: bool(d) and d[0].state.value == "sent")
            requests = receiver.wait_for(3)
    assert sent.attempts == 3
    assert sent.last_error == ""
    assert [r.body for r in requests] == [requests[0].body] * 3
    # Backoff: 20 ms, then 40 ms.
    assert requests[1].at - requests[0].at >= 0.018
    assert requests[2].at - requests[1].at >= 0.038
    assert canary not in repr(await store.list_deliveries())
    assert canary not in capsys.readouterr().out


async def test_gives_up_after_max_attempts_and_refusals_are_not_retried(
    store: storing.SqlStore,
) -> None:
    with receivers.Receiver(answers=[500, 500, 500, 400]) as receiver:
        config_ = settings(receiver.url, maxAttempts=3)
        async with notifier(store, config_) as service:
            await event(store, "web-1", "SyncSucceeded", "first")
            service.wake()
            await until(store, lambda d: bool(d) and d[0].state.value == "failed")
            await event(store, "web-1", "SyncFailed", "second")
            service.wake()
            found = await until(
                store, lambda d: len(d) == 2 and all(x.state.value == "failed" for x in d)
            )
    refused, gave_up = found
    assert gave_up.attempts == 3
    assert gave_up.last_error.startswith("gave up after 3 attempts")
    assert "HTTP 500" in gave_up.last_error
    assert refused.attempts == 1 and "HTTP 400" in refused.last_error


async def test_routes_only_matching_events_and_deduplicates(store: storing.SqlStore) -> None:
    with receivers.Receiver() as receiver:
        config_ = settings(receiver.url)
        async with notifier(store, config_) as service:
            await event(store, "web-1", "SyncSucceeded", "same")
            await event(store, "web-1", "SyncSucceeded", "same")  # duplicate within a minute
            await event(store, "api", "SyncSucceeded")  # another application
            await event(store, "web-2", "DriftDetected")  # another event
            await event(store, "web-2", "SyncStarted")
            service.wake()
            found = await until(
                store, lambda d: len(d) == 2 and all(x.state.value == "sent" for x in d)
            )
    assert sorted((d.app, d.reason) for d in found) == [
        ("web-1", "SyncSucceeded"),
        ("web-2", "SyncStarted"),
    ]
    assert len(receiver.requests) == 2


async def test_rate_limit_holds_the_rest_without_using_attempts(store: storing.SqlStore) -> None:
    with receivers.Receiver() as receiver:
        config_ = settings(receiver.url)
        config_ = config_.model_copy(
            update={
                "providers": {
                    "hook": config_.providers["hook"].model_copy(update={"rate_limit": 2})
                }
            }
        )
        async with notifier(store, config_) as service:
            for n in range(4):
                await event(store, "web-1", "SyncSucceeded", f"n{n}")
            service.wake()
            found = await until(
                store,
                lambda d: (
                    len(d) == 4
                    and sum(x.state.value == "sent" for x in d) == 2
                    and sum(x.last_error == "rate limited" for x in d) == 2
                ),
            )
    held = [d for d in found if d.state.value == "pending"]
    assert all(d.attempts == 0 for d in held)
    assert all(
        d.next_attempt_at is not None
        and d.next_attempt_at > datetime.now(UTC) + timedelta(seconds=50)
        for d in held
    )
    assert len(receiver.requests) == 2


async def test_the_outbox_is_bounded(store: storing.SqlStore) -> None:
    items = [
        store_base.DeliveryRecord(
            provider="hook",
            alert="a",
            app="web",
            reason="SyncSucceeded",
            dedup_key=f"{n:064x}",
            payload={"n": n},
            created_at=datetime.now(UTC),
        )
        for n in range(15)
    ]
    await store.enqueue(items, cursor=("test", 1), dedup_window=timedelta(0), limit=10)
    dropped = await store.list_deliveries(state=store_base.DeliveryState.DROPPED)
    assert sorted(d.payload["n"] for d in dropped) == [0, 1, 2, 3, 4]
    assert "at most 10" in dropped[0].last_error
    assert await store.outbox_cursor("test") == 1


async def test_metadata_address_fails_at_once(store: storing.SqlStore) -> None:
    config_ = settings("http://169.254.169.254/latest")
    async with notifier(store, config_) as service:
        await event(store, "web-1", "SyncSucceeded")
        service.wake()
        (failed,) = await until(store, lambda d: bool(d) and d[0].state.value == "failed")
    assert failed.attempts == 1
    assert "link-local or metadata address" in failed.last_error


async def test_history_before_the_first_start_is_not_sent(store: storing.SqlStore) -> None:
    await event(store, "web-1", "SyncSucceeded", "old")
    with receivers.Receiver() as receiver:
        config_ = settings(receiver.url)
        async with notifier(store, config_) as service:
            await event(store, "web-1", "SyncSucceeded", "new")
            service.wake()
            (sent,) = await until(store, lambda d: bool(d) and d[0].state.value == "sent")
    assert sent.payload["event"]["message"] == "new"
    assert await store.outbox_cursor(routing.CURSOR) is not None


def test_alert_matching_by_glob_project_and_labels() -> None:
    alert = config.AlertSpec.model_validate(
        {
            "provider": "p",
            "events": ["Sync*", "HealthDegraded"],
            "applications": ["web-*", "api"],
            "projects": ["shop"],
            "labels": {"tier": "front"},
        }
    )
    front = {"tier": "front"}
    assert alert.matches("SyncFailed", "web-eu", "shop", front)
    assert alert.matches("HealthDegraded", "api", "shop", {**front, "x": "y"})
    assert not alert.matches("DriftDetected", "web-eu", "shop", front)
    assert not alert.matches("SyncFailed", "db", "shop", front)
    assert not alert.matches("SyncFailed", "web-eu", "other", front)
    assert not alert.matches("SyncFailed", "web-eu", "shop", {"tier": "back"})


def test_commit_status_providers_get_only_status_events() -> None:
    config_ = config.NotificationSettings.model_validate(
        {
            "providers": {"prs": {"type": "github", "tokenEnv": "T"}},
            "alerts": [{"provider": "prs", "events": ["*"]}],
        }
    )
    now = datetime.now(UTC)

    def routed(reason: str) -> list[str | None]:
        record = store_base.EventRecord(
            app="web",
            time=now,
            type=store_base.EventType.NORMAL,
            reason=reason,
            message="",
            revision="b" * 40,
            id=1,
        )
        found = routing.deliveries(
            record, {"name": "web"}, config_.named_alerts(), config_.providers, now
        )
        return [d.payload["status"] for d in found]  # type: ignore[misc]

    assert routed("SyncStarted") == ["pending"]
    assert routed("Deployed") == ["success"]
    assert routed("SyncFailed") == ["failure"]
    assert routed("HealthDegraded") == ["failure"]
    assert routed("DriftDetected") == []


def test_a_commit_status_alert_for_sync_succeeded_sets_success_once_healthy() -> None:
    """The issue's own alert, `[SyncStarted, SyncSucceeded, SyncFailed,
    HealthDegraded]`: the status goes pending -> success, the success sent when
    the Application is Synced and Healthy (Deployed), never left pending."""
    config_ = config.NotificationSettings.model_validate(
        {
            "providers": {
                "prs": {"type": "github", "tokenEnv": "T"},
                "hook": {"type": "webhook", "url": "https://hooks.example.com/x"},
            },
            "alerts": [
                {
                    "provider": "prs",
                    "events": ["SyncStarted", "SyncSucceeded", "SyncFailed", "HealthDegraded"],
                    "applications": ["web-*"],
                },
                {"provider": "hook", "events": ["SyncSucceeded"]},
            ],
        }
    )
    now = datetime.now(UTC)

    def routed(reason: str, app: str = "web-shop") -> list[tuple[str, str | None]]:
        record = store_base.EventRecord(
            app=app,
            time=now,
            type=store_base.EventType.NORMAL,
            reason=reason,
            message="",
            revision="b" * 40,
            id=1,
        )
        found = routing.deliveries(
            record, {"name": app}, config_.named_alerts(), config_.providers, now
        )
        return [(d.provider, d.payload["status"]) for d in found]  # type: ignore[misc]

    assert routed("SyncStarted") == [("prs", "pending")]
    assert routed("SyncSucceeded") == [("hook", None)]  # no status: the apply alone is not it
    assert routed("Deployed") == [("prs", "success")]  # a webhook alert is not widened
    assert routed("Deployed", app="db") == []  # the alert's other selectors still hold


def test_configuration_errors_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="names provider 'nope'"):
        config.NotificationSettings.model_validate({"alerts": [{"provider": "nope"}]})
    with pytest.raises(ValueError, match="needs tokenEnv or tokenFile"):
        config.ProviderSettings.model_validate({"type": "github"})
    with pytest.raises(ValueError, match="template line 1"):
        config.AlertSpec.model_validate({"provider": "p", "template": "{{ oops"})


async def test_a_slow_receiver_holds_only_its_own_notifications(store: storing.SqlStore) -> None:
    with (
        receivers.Receiver(delay=2.0) as slow,
        receivers.Receiver() as fast,
    ):
        config_ = config.NotificationSettings.model_validate(
            {
                "providers": {
                    "slow": {"type": "webhook", "url": slow.url, "timeout": "5s"},
                    "fast": {"type": "webhook", "url": fast.url},
                },
                "alerts": [{"provider": "slow"}, {"provider": "fast"}],
            }
        )
        async with notifier(store, config_) as service:
            started = asyncio.get_running_loop().time()
            for n in range(3):
                await event(store, "web-1", "SyncSucceeded", f"n{n}")
                recorded = asyncio.get_running_loop().time()
                service.wake()
            await asyncio.to_thread(fast.wait_for, 3, 5)
            fast_done = asyncio.get_running_loop().time()
            # Recording events never waited for either receiver.
            assert recorded - started < 1.0
            # The fast receiver got all three while the slow one was still answering.
            assert fast_done - started < 1.5
            assert len(slow.requests) < 3


async def test_a_failing_template_fails_its_delivery_without_sending(
    store: storing.SqlStore,
) -> None:
    with receivers.Receiver() as receiver:
        config_ = config.NotificationSettings.model_validate(
            {
                "providers": {"hook": {"type": "webhook", "url": receiver.url}},
                "alerts": [{"provider": "hook", "template": "{{ 'x' * 10**8 }}"}],
            }
        )
        async with notifier(store, config_) as service:
            await event(store, "web-1", "SyncSucceeded")
            service.wake()
            (failed,) = await until(store, lambda d: bool(d) and d[0].state.value == "failed")
    assert "message template" in failed.last_error
    assert receiver.requests == []


async def test_a_notifier_started_before_the_store_opens_waits_for_it(tmp_path: Path) -> None:
    """``gitward serve`` starts the notifier beside the agent, which opens the
    store in its own start-up (retrying while it fails): the notifier waits
    for the store instead of dying on its first read."""
    closed = storing.SqlStore(f"sqlite:///{tmp_path / 'state.db'}")
    with receivers.Receiver() as receiver:
        config_ = settings(receiver.url)
        service = _service(closed, config_)
        task = asyncio.create_task(service.run())
        try:
            await asyncio.sleep(0.3)
            assert not task.done() and not service.ready.is_set()
            await closed.open()
            async with asyncio.timeout(10):
                await service.ready.wait()
            await event(closed, "web-1", "SyncSucceeded")
            service.wake()
            (sent,) = await until(closed, lambda d: bool(d) and d[0].state.value == "sent")
            assert sent.attempts == 1 and len(receiver.wait_for(1)) == 1
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await closed.close()


async def test_one_applications_notifications_leave_in_order(store: storing.SqlStore) -> None:
    # The first send fails: the next notification of the Application waits
    # for its retry instead of overtaking it (a "pending" status after the
    # "success" would stay on the commit).
    with receivers.Receiver(answers=[503]) as receiver:
        async with notifier(store, settings(receiver.url)) as service:
            await event(store, "web-1", "SyncStarted")
            await event(store, "web-1", "SyncSucceeded")
            service.wake()
            found = await until(store, lambda d: [x.state.value for x in d] == ["sent", "sent"])
            requests = receiver.wait_for(3)
    reasons = [r.json()["event"]["reason"] for r in requests]
    assert reasons == ["SyncStarted", "SyncStarted", "SyncSucceeded"]
    assert [d.attempts for d in found] == [1, 2]  # newest first


async def test_other_applications_do_not_wait_for_a_retry(store: storing.SqlStore) -> None:
    with receivers.Receiver(answers=[503]) as receiver:
        config_ = settings(receiver.url, backoff={"duration": "300ms", "factor": 2})
        async with notifier(store, config_) as service:
            await event(store, "web-1", "SyncStarted")
            service.wake()
            await until(store, lambda d: bool(d) and d[0].attempts == 1)  # web-1 failed once
            await event(store, "web-2", "SyncStarted")
            service.wake()
            await until(store, lambda d: [x.state.value for x in d] == ["sent", "sent"])
            requests = receiver.wait_for(3)
    apps = [r.json()["application"]["name"] for r in requests]
    assert apps == ["web-1", "web-2", "web-1"]


async def test_a_wait_ends_when_the_earlier_notification_is_sent_elsewhere(
    store: storing.SqlStore,
) -> None:
    # web-1's first notification fails and waits for its retry; another
    # replica sends it meanwhile. The next one must go once that retry was
    # due, not wait for it forever.
    with receivers.Receiver(answers=[503]) as receiver:
        config_ = settings(receiver.url, backoff={"duration": "300ms", "factor": 2})
        async with notifier(store, config_) as service:
            await event(store, "web-1", "SyncStarted")
            service.wake()
            (first,) = await until(store, lambda d: bool(d) and d[0].attempts == 1)
            await store.settle(
                dataclasses.replace(
                    first,
                    state=store_base.DeliveryState.SENT,
                    next_attempt_at=datetime.now(UTC) + timedelta(hours=1),
                ),
                keep=100,
            )
            await event(store, "web-1", "SyncSucceeded")
            service.wake()
            found = await until(store, lambda d: [x.state.value for x in d] == ["sent", "sent"])
    assert found[0].reason == "SyncSucceeded"
    assert [r.json()["event"]["reason"] for r in receiver.requests] == [
        "SyncStarted",
        "SyncSucceeded",
    ]
