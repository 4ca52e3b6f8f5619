"""The store contract, run against the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import inspect
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gitward import errors
from gitward.model import operations, plans, resources, status
from gitward.store import base, storing
from gitward.testing import stores
from tests.store import records
from tests.store.conftest import Backend, Clock

RUNNING = operations.OperationPhase.RUNNING
SUCCEEDED = operations.OperationPhase.SUCCEEDED
FAILED = operations.OperationPhase.FAILED


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- status ----------------------------------------------------------------------------


async def test_status_round_trips_every_field(store: Any) -> None:
    saved = records.app()
    await store.save_status(saved)
    got = await store.get_status(saved.name)
    assert got == saved
    assert got.health.message == "Deployment web/web: 1 of 3 replicas available"
    assert got.conditions[0].last_transition == saved.conditions[0].last_transition
    assert await store.get_status("missing") is None


async def test_save_status_replaces_and_stamps_updated_at(backend: Backend) -> None:
    clock = Clock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    store = await backend.open(clock=clock)
    await store.save_status(records.app())
    newer = replace(records.app(), sync=status.SyncStatus.SYNCED, updated_at=None, plan=None)
    await store.save_status(newer)
    got = await store.get_status("web-staging")
    assert got == replace(newer, updated_at=clock.now)
    assert len(await store.list_status()) == 1


async def test_save_statuses_saves_all_in_one_go_or_none(backend: Backend) -> None:
    clock = Clock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    store = await backend.open(clock=clock)
    await store.save_status(records.app("a-web"))
    batch = [
        replace(records.app(name), sync=status.SyncStatus.SYNCED, updated_at=None)
        for name in ("a-web", "b-api", "c-web")
    ]
    await store.save_statuses(batch)
    assert await store.list_status() == [replace(app, updated_at=clock.now) for app in batch]
    with pytest.raises(errors.InputError) as caught:
        await store.save_statuses([records.app("d-web"), replace(records.app(), name="")])
    assert caught.value.reason == "InvalidRecord"
    assert await store.get_status("d-web") is None
    await store.save_statuses([])
    assert len(await store.list_status()) == 3


async def test_list_status_filters_and_orders_by_name(store: Any) -> None:
    await store.save_status(records.app("b-api", project="payments", labels={"team": "api"}))
    await store.save_status(
        records.app(
            "a-web",
            sync=status.SyncStatus.SYNCED,
            health=status.HealthStatus.HEALTHY,
            labels={"team": "web", "env": "prod"},
        )
    )
    await store.save_status(records.app("c-web", labels={"team": "web", "env": "staging"}))

    async def names(**filters: Any) -> list[str]:
        return [a.name for a in await store.list_status(**filters)]

    assert await names() == ["a-web", "b-api", "c-web"]
    assert await names(project="payments") == ["b-api"]
    assert await names(project="default") == ["a-web", "c-web"]
    assert await names(sync=status.SyncStatus.OUT_OF_SYNC) == ["b-api", "c-web"]
    assert await names(health=status.HealthStatus.HEALTHY) == ["a-web"]
    assert await names(labels={"team": "web"}) == ["a-web", "c-web"]
    assert await names(labels={"team": "web", "env": "staging"}) == ["c-web"]
    assert await names(project="default", sync=status.SyncStatus.SYNCED) == ["a-web"]
    assert await names(labels={"team": "nobody"}) == []
    with pytest.raises(errors.InputError) as caught:
        await store.list_status(sync="Sideways")
    assert caught.value.reason == "InvalidQuery"


async def test_naive_datetime_is_refused_and_nothing_is_stored(store: Any) -> None:
    naive = replace(records.app(), drift_since=datetime(2026, 1, 1, 12, 0))
    with pytest.raises(errors.InputError) as caught:
        await store.save_status(naive)
    assert caught.value.reason == "InvalidRecord"
    assert "web-staging" in str(caught.value)
    assert await store.get_status("web-staging") is None
    with pytest.raises(errors.InputError):
        await store.start_operation(records.operation(started_at=datetime(2026, 1, 1)))
    assert await store.list_operations("web-staging") == []


async def test_delete_app_removes_status_operations_and_events(store: Any) -> None:
    await store.save_status(records.app("web"))
    await store.save_status(records.app("api"))
    web_op = await store.start_operation(records.operation("web"))
    api_op = await store.start_operation(records.operation("api"))
    await store.add_event(records.event("web"))
    api_event = await store.add_event(records.event("api"))

    assert await store.delete_app("web") is True
    assert await store.get_status("web") is None
    assert await store.get_operation(web_op) is None
    assert await store.list_events(app="web") == []
    assert (await store.get_operation(api_op)).operation.app == "api"
    assert [e.id for e in await store.list_events()] == [api_event]
    assert await store.delete_app("web") is False


async def test_ids_grow_after_the_newest_rows_are_deleted(store: Any) -> None:
    first_op = await store.start_operation(records.operation("web"))
    first_event = await store.add_event(records.event("web"))
    await store.delete_app("web")
    assert await store.start_operation(records.operation("web")) > first_op
    # A live-stream cursor at first_event must not skip the next event.
    assert await store.add_event(records.event("web")) > first_event


# --- operations --------------------------------------------------------------------------


async def test_operation_round_trip_with_plan_summary(store: Any) -> None:
    started = records.operation()
    op_id = await store.start_operation(started, records.plan_summary())
    record = await store.get_operation(op_id)
    assert record.id == op_id
    assert record.operation == started
    assert record.operation.phase is RUNNING
    assert record.plan == records.plan_summary()

    done = records.finished(started, FAILED)
    await store.finish_operation(op_id, done)
    record = await store.get_operation(op_id)
    assert record.operation == done
    assert record.operation.results == records.results()
    assert record.operation.revision.author == "Ada Lovelace <ada@example.com>"
    assert record.plan == records.plan_summary()
    assert await store.get_operation(op_id + 1000) is None


async def test_operation_must_start_running_and_finish_otherwise(store: Any) -> None:
    with pytest.raises(errors.InputError) as caught:
        await store.start_operation(records.operation(phase=SUCCEEDED))
    assert caught.value.reason == "InvalidRecord"
    op_id = await store.start_operation(records.operation())
    with pytest.raises(errors.InputError) as caught:
        await store.finish_operation(op_id, records.operation())
    assert caught.value.reason == "InvalidRecord"
    assert (await store.get_operation(op_id)).operation.phase is RUNNING


async def test_finish_operation_errors_name_the_operation(store: Any) -> None:
    op = records.operation("web")
    op_id = await store.start_operation(op)
    with pytest.raises(errors.InputError) as caught:
        await store.finish_operation(op_id + 999, records.finished(op))
    assert caught.value.reason == "NotFound"
    assert f"operation {op_id + 999}" in str(caught.value)

    with pytest.raises(errors.InputError) as caught:
        await store.finish_operation(op_id, records.finished(records.operation("api")))
    assert caught.value.reason == "InvalidRecord"
    assert "belongs to app web" in str(caught.value)

    await store.finish_operation(op_id, records.finished(op))
    with pytest.raises(errors.InputError) as caught:
        await store.finish_operation(op_id, records.finished(op, FAILED))
    assert caught.value.reason == "Conflict"
    assert (await store.get_operation(op_id)).operation.phase is SUCCEEDED


async def test_finish_without_end_time_is_stamped_by_the_clock(backend: Backend) -> None:
    clock = Clock(datetime(2026, 11, 23, 12, 30, tzinfo=UTC))
    store = await backend.open(clock=clock)
    op = records.operation()
    op_id = await store.start_operation(op)
    await store.finish_operation(op_id, replace(op, phase=SUCCEEDED))
    assert (await store.get_operation(op_id)).operation.finished_at == clock.now


async def test_list_operations_newest_first_with_paging(store: Any) -> None:
    ids = []
    for i in range(7):
        ids.append(
            await store.start_operation(
                records.operation("web", started_at=records.T0 + timedelta(minutes=i))
            )
        )
        await store.start_operation(records.operation("api"))
    listed = await store.list_operations("web")
    assert [r.id for r in listed] == ids[::-1]
    assert all(r.operation.app == "web" for r in listed)
    assert [r.id for r in await store.list_operations("web", limit=3)] == ids[::-1][:3]
    page2 = await store.list_operations("web", limit=3, before_id=ids[4])
    assert [r.id for r in page2] == [ids[3], ids[2], ids[1]]
    assert await store.list_operations("nobody") == []
    for bad in (0, -1, base.MAX_LIST_LIMIT + 1):
        with pytest.raises(errors.InputError) as caught:
            await store.list_operations("web", limit=bad)
        assert caught.value.reason == "InvalidQuery"


async def test_retention_keeps_the_newest_100_operations_per_app(store: Any) -> None:
    web_ids = []
    for i in range(150):
        op = records.operation("web", started_at=records.T0 + timedelta(seconds=i))
        op_id = await store.start_operation(op)
        await store.finish_operation(op_id, records.finished(op))
        web_ids.append(op_id)
    api_id = await store.start_operation(records.operation("api"))
    kept = await store.list_operations("web", limit=1000)
    assert [r.id for r in kept] == web_ids[50:][::-1]
    assert kept[-1].operation.started_at == records.T0 + timedelta(seconds=50)
    assert await store.get_operation(web_ids[49]) is None
    assert (await store.get_operation(api_id)) is not None


async def test_retention_is_configurable_and_never_below_100(backend: Backend) -> None:
    store = await backend.open(retention=base.Retention(keep_operations=120))
    for _ in range(130):
        op = records.operation("web")
        await store.finish_operation(await store.start_operation(op), records.finished(op))
    assert len(await store.list_operations("web", limit=1000)) == 120
    with pytest.raises(errors.ConfigError):
        base.Retention(keep_operations=99)
    with pytest.raises(errors.ConfigError):
        stores.MemoryStore(keep_operations=99)


async def test_retention_never_trims_a_running_operation(store: Any) -> None:
    stuck = await store.start_operation(records.operation("web"))
    for _ in range(105):
        op = records.operation("web")
        await store.finish_operation(await store.start_operation(op), records.finished(op))
    assert (await store.get_operation(stuck)).operation.phase is RUNNING
    assert len(await store.list_operations("web", limit=1000)) == 101


async def test_recover_interrupted_fails_running_operations(store: Any) -> None:
    done_op = records.operation("web")
    done = await store.start_operation(done_op)
    await store.finish_operation(done, records.finished(done_op))
    web = await store.start_operation(records.operation("web"))
    api = await store.start_operation(records.operation("api"))
    now = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)

    assert await store.recover_interrupted(now) == [web, api]
    for op_id in (web, api):
        op = (await store.get_operation(op_id)).operation
        assert op.phase is FAILED
        assert op.reason == base.INTERRUPTED_REASON == "Interrupted"
        assert "agent stopped" in op.message
        assert op.finished_at == now
        assert op.revision == records.revision()
    assert (await store.get_operation(done)).operation.phase is SUCCEEDED
    assert await store.recover_interrupted(now) == []
    # The interrupted sync cannot be finished afterwards by a late caller.
    with pytest.raises(errors.InputError) as caught:
        await store.finish_operation(web, records.finished(records.operation("web")))
    assert caught.value.reason == "Conflict"


async def test_recovery_of_one_replica_touches_only_its_shard_and_dead_fences(
    store: Any,
) -> None:
    def op(app: str, fence: str) -> Any:
        return dataclasses.replace(records.operation(app), fence=fence)

    dead = await store.start_operation(op("web", "r1_a#0"))
    live_elsewhere = await store.start_operation(op("web", "r2_b#4"))
    other_shard = await store.start_operation(op("api", "r1_a#0"))
    now = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert await store.recover_interrupted(now, apps=["web"], live_fences=["r2_b#4"]) == [dead]
    assert (await store.get_operation(live_elsewhere)).operation.phase is RUNNING
    assert (await store.get_operation(other_shard)).operation.phase is RUNNING
    assert (await store.get_operation(dead)).operation.fence == "r1_a#0"
    assert await store.recover_interrupted(now, apps=[]) == []


# --- restart --------------------------------------------------------------------------------


async def test_state_survives_a_restart_and_a_crash_is_recovered(backend: Backend) -> None:
    first = await backend.open()
    await first.save_status(records.app())
    op = records.operation()
    done = await first.start_operation(op, records.plan_summary())
    await first.finish_operation(done, records.finished(op))
    crashed = await first.start_operation(records.operation())
    event_id = await first.add_event(records.event())
    await first.save_token("ci", sha("tok"), "admin", ("default",), records.T0)
    await first.close()
    with pytest.raises(errors.RetryableError) as caught:
        await first.get_status("web-staging")
    assert caught.value.reason == "StoreUnavailable"

    second = await backend.open()
    assert await second.get_status("web-staging") == records.app()
    assert (await second.get_operation(done)).operation == records.finished(op)
    assert [e.id for e in await second.list_events()] == [event_id]
    assert (await second.find_token(sha("tok"))).name == "ci"
    assert await second.recover_interrupted(records.T0 + timedelta(hours=1)) == [crashed]
    assert (await second.get_operation(crashed)).operation.reason == "Interrupted"


# --- events --------------------------------------------------------------------------------


async def test_events_round_trip_and_cursor(store: Any) -> None:
    ids = []
    for i in range(6):
        app = "web" if i % 2 == 0 else "api"
        event = records.event(app, time=records.T0 + timedelta(seconds=i))
        ids.append(await store.add_event(event))
    assert ids == sorted(ids) and len(set(ids)) == 6

    everything = await store.list_events()
    assert [e.id for e in everything] == ids
    first = everything[0]
    assert first == replace(records.event("web"), id=ids[0])
    assert first.type == base.EventType.WARNING

    assert [e.id for e in await store.list_events(app="web")] == ids[0::2]
    # The live cursor: what came after the last id seen, oldest first.
    assert [e.id for e in await store.list_events(after_id=ids[2])] == ids[3:]
    assert [e.id for e in await store.list_events(after_id=ids[2], limit=2)] == ids[3:5]
    assert await store.list_events(after_id=ids[-1]) == []
    # Without a cursor: the newest `limit`, still oldest first.
    assert [e.id for e in await store.list_events(limit=2)] == ids[4:]
    assert [e.id for e in await store.list_events(before_id=ids[3], limit=2)] == ids[1:3]
    assert [e.id for e in await store.list_events(app="api", after_id=ids[1])] == [ids[3], ids[5]]
    with pytest.raises(errors.InputError):
        await store.list_events(limit=0)


async def test_an_event_is_stored_once(store: Any) -> None:
    stored = replace(records.event(), id=await store.add_event(records.event()))
    with pytest.raises(errors.InputError) as caught:
        await store.add_event(stored)
    assert caught.value.reason == "InvalidRecord"
    with pytest.raises(errors.InputError) as caught:
        await store.add_event(replace(records.event(), type="Panic"))
    assert caught.value.reason == "InvalidRecord"
    assert len(await store.list_events()) == 1


async def test_event_retention_by_count_per_app(backend: Backend) -> None:
    store = await backend.open(retention=base.Retention(keep_events=5))
    web = [await store.add_event(records.event("web")) for _ in range(8)]
    api = [await store.add_event(records.event("api")) for _ in range(3)]
    assert [e.id for e in await store.list_events(app="web")] == web[3:]
    assert [e.id for e in await store.list_events(app="api")] == api


async def test_event_retention_by_age(backend: Backend) -> None:
    clock = Clock(records.T0)
    store = await backend.open(
        retention=base.Retention(event_max_age=timedelta(hours=1)), clock=clock
    )
    old = await store.add_event(records.event("web", time=records.T0 - timedelta(hours=2)))
    recent = await store.add_event(records.event("api", time=records.T0 - timedelta(minutes=5)))
    kept = [e.id for e in await store.list_events()]
    assert old not in kept and recent in kept
    # Age trimming runs at most once a minute: an old event added now stays...
    late = await store.add_event(records.event("web", time=records.T0 - timedelta(hours=3)))
    assert late in [e.id for e in await store.list_events()]
    # ...until the next trim.
    clock.now = records.T0 + timedelta(minutes=2)
    newest = await store.add_event(records.event("web", time=clock.now))
    assert [e.id for e in await store.list_events()] == [recent, newest]


# --- tokens --------------------------------------------------------------------------------


async def test_tokens_are_saved_found_listed_and_deleted(store: Any) -> None:
    await store.save_token("deploy-bot", sha("secret-1"), "operator", ("web", "api"), records.T0)
    await store.save_token("alice", sha("secret-2"), "admin", (), records.T0)
    found = await store.find_token(sha("secret-1"))
    assert found.name == "deploy-bot"
    assert found.sha256_hash == sha("secret-1")
    assert found.role == "operator"
    assert found.projects == ("web", "api")
    assert found.created_at == records.T0
    assert [t.name for t in await store.list_tokens()] == ["alice", "deploy-bot"]
    assert await store.find_token(sha("unknown")) is None
    assert await store.find_token("not-a-digest") is None

    # Saving again under the same name replaces (a rotated token or new role).
    await store.save_token("deploy-bot", sha("secret-3"), "viewer", ("web",), records.T0)
    assert await store.find_token(sha("secret-1")) is None
    assert (await store.find_token(sha("secret-3"))).role == "viewer"

    assert await store.delete_token("alice") is True
    assert await store.delete_token("alice") is False
    assert [t.name for t in await store.list_tokens()] == ["deploy-bot"]


async def test_token_must_be_a_digest_and_unique(store: Any) -> None:
    clear = "gw_live_" + "f" * 56  # the right length, but a token in clear
    with pytest.raises(errors.InputError) as caught:
        await store.save_token("ci", clear, "admin", (), records.T0)
    assert caught.value.reason == "InvalidRecord"
    assert clear not in str(caught.value)
    with pytest.raises(errors.InputError):
        await store.save_token("ci", sha("x").upper(), "admin", (), records.T0)
    with pytest.raises(errors.InputError):
        await store.save_token("ci", sha("x"), "", (), records.T0)
    await store.save_token("ci", sha("x"), "admin", (), records.T0)
    with pytest.raises(errors.InputError) as caught:
        await store.save_token("other", sha("x"), "viewer", (), records.T0)
    assert caught.value.reason == "Conflict"
    assert [t.name for t in await store.list_tokens()] == ["ci"]


# --- secrets -------------------------------------------------------------------------------


async def test_secret_data_in_a_plan_never_reaches_the_store(backend: Backend) -> None:
    store = await backend.open()
    secret_value = "hunter2-very-secret-value"
    secret_key = resources.ResourceKey("", "Secret", "web", "db-credentials")
    manifest = resources.Manifest.from_body(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db-credentials", "namespace": "web"},
            "stringData": {"password": secret_value},
        }
    )
    plan = plans.Plan(
        app="web-staging",
        revision="a" * 40,
        changes=(
            plans.Change(
                key=secret_key,
                action=plans.Action.UPDATE,
                desired=manifest,
                # Unmasked on purpose: even a Plan built wrongly must not leak.
                field_changes=(plans.FieldChange("/stringData/password", "old", secret_value),),
            ),
        ),
    )
    summary = base.PlanSummary.of(plan)
    assert summary.counts["update"] == 1
    op_id = await store.start_operation(records.operation(), summary)
    await store.save_status(replace(records.app(), plan=summary))
    record = await store.get_operation(op_id)
    assert secret_value not in repr(record)
    assert secret_value not in repr(await store.get_status("web-staging"))
    if backend.raw_dump is not None:
        await store.close()
        dump = backend.raw_dump()
        assert b"db-credentials" not in dump  # not even the object's name: counts only
        assert secret_value.encode() not in dump
        assert b"update" in dump  # the dump does hold the stored summary


# --- concurrency and life cycle ---------------------------------------------------------------


async def test_many_concurrent_writers(store: Any) -> None:
    apps = [f"app-{i}" for i in range(10)]

    async def reconcile(app: str, round_: int) -> int:
        op = records.operation(app, started_at=records.T0 + timedelta(seconds=round_))
        op_id = await store.start_operation(op)
        await store.add_event(records.event(app, base.EventReason.SYNC_STARTED))
        await store.save_status(replace(records.app(app), last_operation_id=op_id))
        await store.finish_operation(op_id, records.finished(op))
        await store.add_event(records.event(app, base.EventReason.SYNC_SUCCEEDED))
        return int(op_id)

    ids = await asyncio.gather(*(reconcile(app, r) for app in apps for r in range(8)))
    assert len(set(ids)) == len(ids) == 80
    for app in apps:
        ops = await store.list_operations(app)
        assert len(ops) == 8
        assert all(r.operation.phase is SUCCEEDED for r in ops)
        status_ = await store.get_status(app)
        assert status_.last_operation_id in {r.id for r in ops}
    events = await store.list_events(limit=1000)
    assert len(events) == 160
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert len(await store.list_status()) == 10


async def test_a_closed_store_is_unavailable(backend: Backend) -> None:
    store = await backend.open()
    await store.close()
    for call in (
        store.save_status(records.app()),
        store.list_status(),
        store.start_operation(records.operation()),
        store.add_event(records.event()),
        store.list_tokens(),
    ):
        with pytest.raises(errors.RetryableError):
            await call
    await store.close()  # closing twice is harmless


def test_fake_records_and_errors_match_the_store_by_shape() -> None:
    for fake, real in (
        (stores.OperationRecord, base.OperationRecord),
        (stores.TokenRecord, base.TokenRecord),
    ):
        assert [f.name for f in dataclasses.fields(fake)] == [
            f.name for f in dataclasses.fields(real)
        ]
    for name in (
        "StoreUnavailable",
        "RecordNotFound",
        "RecordConflict",
        "InvalidRecord",
        "InvalidQuery",
    ):
        fake_error, real_error = getattr(stores, name), getattr(base, name)
        assert fake_error.reason == real_error.reason
        assert fake_error.__mro__[1] is real_error.__mro__[1]
    assert stores.MAX_LIST_LIMIT == base.MAX_LIST_LIMIT
    assert stores.MIN_KEEP_OPERATIONS == base.MIN_KEEP_OPERATIONS
    assert stores.INTERRUPTED_REASON == base.INTERRUPTED_REASON


@pytest.mark.parametrize("implementation", [storing.SqlStore, stores.MemoryStore])
def test_implementations_have_the_protocol_signatures(implementation: type) -> None:
    methods = [
        name for name, value in vars(base.Store).items() if inspect.iscoroutinefunction(value)
    ]
    assert len(methods) == 20
    for name in methods:
        wanted = inspect.signature(getattr(base.Store, name))
        found = inspect.signature(getattr(implementation, name))
        assert [(p.name, p.kind, p.default) for p in found.parameters.values()] == [
            (p.name, p.kind, p.default) for p in wanted.parameters.values()
        ], name


# --- rollout controls --------------------------------------------------------------------


async def test_rollout_controls_replace_and_survive_a_restart(backend: Backend) -> None:
    first = await backend.open()
    assert await first.list_rollout_controls() == []
    await first.save_rollout_control(base.RolloutControl("web", paused=True))
    await first.save_rollout_control(base.RolloutControl("api", promoted_through=1))
    await first.save_rollout_control(base.RolloutControl("web", paused=False, promoted_through=0))
    await first.close()
    second = await backend.open()
    assert await second.list_rollout_controls() == [
        base.RolloutControl("api", paused=False, promoted_through=1),
        base.RolloutControl("web", paused=False, promoted_through=0),
    ]
    await second.close()
