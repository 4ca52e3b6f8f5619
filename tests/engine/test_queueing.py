"""The work queue: de-duplication, no double processing, delays, fairness."""

from __future__ import annotations

import asyncio

from gitward.engine import queueing


async def test_triggers_for_a_queued_app_are_merged() -> None:
    queue = queueing.WorkQueue()
    queue.add("web", "commit")
    queue.add("web", "drift")
    queue.add("api", "resync")
    assert len(queue) == 2
    first = await queue.get()
    assert first is not None
    assert (first.app, first.reasons) == ("web", ["commit", "drift"])
    second = await queue.get()
    assert second is not None and second.app == "api"


async def test_an_app_in_progress_is_requeued_after_done_not_given_twice() -> None:
    queue = queueing.WorkQueue()
    queue.add("web", "commit")
    item = await queue.get()
    assert item is not None
    queue.add("web", "drift")  # arrives while a worker has it
    assert len(queue) == 0
    other = asyncio.create_task(queue.get())
    await asyncio.sleep(0.05)
    assert not other.done()  # not handed to a second worker
    queue.done("web")
    again = await asyncio.wait_for(other, 1)
    assert again is not None and again.reasons == ["drift"]


async def test_delayed_retry_does_not_block_other_apps() -> None:
    queue = queueing.WorkQueue()
    queue.add("failing", "retry", delay=0.3)
    queue.add("healthy", "commit")
    loop = asyncio.get_running_loop()
    start = loop.time()
    first = await queue.get()
    assert first is not None and first.app == "healthy"
    queue.done("healthy")
    second = await queue.get()
    assert second is not None and second.app == "failing"
    assert loop.time() - start >= 0.29


async def test_an_immediate_trigger_beats_a_scheduled_retry() -> None:
    queue = queueing.WorkQueue()
    queue.add("web", "retry", delay=30)
    queue.add("web", "commit")
    item = await asyncio.wait_for(queue.get(), 1)
    assert item is not None and item.reasons == ["retry", "commit"]


async def test_close_releases_waiting_workers_and_forget_drops() -> None:
    queue = queueing.WorkQueue()
    queue.add("gone", "commit")
    queue.forget("gone")
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0.05)
    queue.close()
    assert await asyncio.wait_for(waiter, 1) is None
