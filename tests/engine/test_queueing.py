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


async def test_apps_not_admitted_stay_queued_in_order_while_others_are_handed_out() -> None:
    queue = queueing.WorkQueue()
    for name in ("a1", "b1", "a2", "b2"):
        queue.add(name, "declared")
    busy = {"a"}  # target a has no worker to spare

    def admit(app: str) -> bool:
        return app[0] not in busy

    taken = [await queue.get(admit), await queue.get(admit)]
    assert [item.app for item in taken if item is not None] == ["b1", "b2"]
    assert len(queue) == 2  # a1 and a2 still queued, neither deferred

    waiting = asyncio.create_task(queue.get(admit))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # nothing admitted: it waits
    busy.clear()
    queue.done("b1")  # a worker finished: the queue is looked at again
    first = await asyncio.wait_for(waiting, 1)
    second = await queue.get(admit)
    assert first is not None and second is not None
    assert (first.app, first.reasons, second.app) == ("a1", ["declared"], "a2")
    assert len(queue) == 0


async def test_admission_is_asked_once_per_group_in_one_look_through_the_queue() -> None:
    queue = queueing.WorkQueue()
    for i in range(500):
        queue.add(f"a{i}", "declared")
    queue.add("b0", "declared")
    asked: list[str] = []

    def admit(app: str) -> bool:
        asked.append(app)
        return app[0] != "a"  # target a is busy

    got = await queue.get(admit, group=lambda app: app[0])
    assert got is not None and got.app == "b0"
    # The head (a0) is asked, then one a and the b during the look: not 500 a's.
    assert sorted({app[0] for app in asked}) == ["a", "b"]
    assert len(asked) <= 3
    assert len(queue) == 500


async def test_adding_to_a_group_without_room_wakes_no_worker_until_one_is_done() -> None:
    queue = queueing.WorkQueue()
    for name in ("a0", "a1"):
        queue.add(name, "declared")
    asked: list[str] = []
    room = {"a": False, "b": True}

    def admit(app: str) -> bool:
        asked.append(app)
        return room[app[0]]

    waiting = asyncio.create_task(queue.get(admit, group=lambda app: app[0]))
    await asyncio.sleep(0.05)
    looks = len(asked)
    for i in range(2, 50):
        queue.add(f"a{i}", "watch event")  # target a is still busy: nobody looks
    await asyncio.sleep(0.05)
    assert len(asked) == looks and not waiting.done()
    # A second worker asks only about the head: every queued group is full.
    second = asyncio.create_task(queue.get(admit, group=lambda app: app[0]))
    await asyncio.sleep(0.05)
    assert len(asked) == looks + 1 and not second.done()
    queue.add("b0", "declared")  # another target: looked at, and handed out
    done, pending = await asyncio.wait({waiting, second}, return_when=asyncio.FIRST_COMPLETED)
    got = done.pop().result()
    assert got is not None and got.app == "b0"
    waiting = pending.pop()
    await asyncio.sleep(0.05)
    assert not waiting.done()
    room["a"] = True
    queue.done("b0")  # a worker is done: room again, looked at again
    got = await asyncio.wait_for(waiting, 1)
    assert got is not None and got.app == "a0"


async def test_a_not_admitted_app_due_later_is_waited_for() -> None:
    queue = queueing.WorkQueue()
    queue.add("a", "declared")
    queue.add("b", "retry", delay=0.2)
    got = await asyncio.wait_for(queue.get(lambda app: app != "a"), 2)
    assert got is not None and got.app == "b"
