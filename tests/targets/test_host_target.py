"""The host target on the real filesystem: temporary roots, real files, real commands."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gitward import errors
from gitward.diff import base as diff_base
from gitward.diff import planning, reports
from gitward.model import plans, resources
from gitward.targets import base
from gitward.targets.host import HostTarget, watching

APP = "web"


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    etc, www = tmp_path / "etc" / "myapp", tmp_path / "srv" / "www"
    etc.mkdir(parents=True)
    www.mkdir(parents=True)
    return etc, www


@pytest.fixture
async def target(roots: tuple[Path, Path], tmp_path: Path) -> AsyncIterator[HostTarget]:
    made = HostTarget(
        "edge-1",
        [str(r) for r in roots],
        tmp_path / "state",
        allow_commands=True,
        rescan_interval=0.5,
    )
    try:
        yield made
    finally:
        await made.close()


def _obj(kind: str, name: str, **spec: Any) -> resources.Manifest:
    body = {
        "apiVersion": "host.gitward.dev/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }
    return resources.Manifest.from_body(body, source=f"host.yaml#{name}")


async def _plan(target: HostTarget, manifests: list[resources.Manifest]) -> plans.Plan:
    prepared = await target.prepare(manifests, app=APP, namespace="")
    live = await target.read([m.key for m in prepared])
    inventory = await target.inventory(APP)
    predicted = {
        m.key: dict(await target.dry_run(m, force=True))
        for m in prepared
        if live[m.key] is not None
    }
    options = diff_base.PlanOptions(prune=True)
    return planning.build(APP, "abc", prepared, live, inventory, options, predicted=predicted)


async def _sync(target: HostTarget, manifests: list[resources.Manifest]) -> plans.Plan:
    plan = await _plan(target, manifests)
    for change in plan.changes:
        if change.action in (plans.Action.CREATE, plans.Action.UPDATE):
            assert change.desired is not None
            await target.apply(change.desired, force=True)
        elif change.action is plans.Action.PRUNE:
            await target.delete(change.key)
    return plan


async def test_files_directories_and_symlinks_are_created_updated_and_pruned(
    target: HostTarget, roots: tuple[Path, Path]
) -> None:
    etc, www = roots
    declared = [
        _obj("Directory", "conf-d", path=f"{etc}/conf.d", mode="0750"),
        _obj("File", "main", path=f"{etc}/conf.d/main.conf", content="a=1\nb=2\n", mode="0640"),
        _obj("Symlink", "current", path=f"{www}/current", target="../www/site"),
        _obj("File", "index", path=f"{www}/site/index.html", content="<h1>hi</h1>\n"),
    ]
    first = await _sync(target, declared)
    assert first.summary()["create"] == 4
    assert (etc / "conf.d" / "main.conf").read_text() == "a=1\nb=2\n"
    assert stat.S_IMODE((etc / "conf.d" / "main.conf").stat().st_mode) == 0o640
    assert stat.S_IMODE((etc / "conf.d").stat().st_mode) == 0o750
    assert os.readlink(www / "current") == "../www/site"
    assert stat.S_IMODE((www / "site" / "index.html").stat().st_mode) == 0o644

    again = await _plan(target, declared)
    assert again.in_sync, reports.text(again)

    declared[1] = _obj(
        "File", "main", path=f"{etc}/conf.d/main.conf", content="a=1\nb=3\n", mode="0640"
    )
    changed = await _plan(target, declared)
    assert [c.key.name for c in changed.changes if c.action is plans.Action.UPDATE] == ["main"]
    text = reports.text(changed)
    assert "    -b=2" in text and "    +b=3" in text, text
    await _sync(target, declared)
    assert (etc / "conf.d" / "main.conf").read_text() == "a=1\nb=3\n"

    # Someone's own file in a root: never in the inventory, never pruned.
    (www / "site" / "notes.txt").write_text("mine")
    pruned = await _sync(target, declared[:3])
    assert [c.key.name for c in pruned.by_action(plans.Action.PRUNE)] == ["index"]
    assert not (www / "site" / "index.html").exists()
    assert (www / "site" / "notes.txt").read_text() == "mine"


async def test_a_file_removed_by_hand_is_no_longer_gitwards(
    target: HostTarget, roots: tuple[Path, Path]
) -> None:
    path = roots[0] / "gone.conf"
    await _sync(target, [_obj("File", "gone", path=str(path), content="git\n")])
    path.unlink()
    await _plan(target, [_obj("File", "other", path=f"{roots[0]}/other", content="")])
    # A person puts a file of their own there: a later prune must leave it.
    path.write_text("a person's\n")
    plan = await _plan(target, [_obj("File", "other", path=f"{roots[0]}/other", content="")])
    assert plan.by_action(plans.Action.PRUNE) == ()
    assert path.read_text() == "a person's\n"


async def test_an_existing_file_is_adopted_and_never_removed_by_prune(
    target: HostTarget, roots: tuple[Path, Path]
) -> None:
    etc, _ = roots
    (etc / "old.conf").write_text("before gitward\n")
    declared = [_obj("File", "old", path=f"{etc}/old.conf", content="from git\n")]
    plan = await _sync(target, declared)
    assert [c.action for c in plan.changes] == [plans.Action.UPDATE]
    assert (etc / "old.conf").read_text() == "from git\n"
    gone = await _plan(target, [_obj("File", "x", path=f"{etc}/x", content="")])
    assert [c.key.name for c in gone.by_action(plans.Action.PRUNE)] == ["old"]
    assert await target.delete(gone.by_action(plans.Action.PRUNE)[0].key)
    assert (etc / "old.conf").read_text() == "from git\n"  # forgotten, not removed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"path": "/etc/passwd", "content": "x"}, "'/etc/passwd' is outside the target's roots"),
        ({"path": "{etc}/../../x", "content": "x"}, "contains '..'"),
        ({"path": "relative/x", "content": "x"}, "'relative/x' is not absolute"),
    ],
)
async def test_a_path_leaving_the_roots_is_refused_by_name(
    target: HostTarget, roots: tuple[Path, Path], spec: dict[str, str], message: str
) -> None:
    spec = {**spec, "path": spec["path"].format(etc=roots[0])}
    with pytest.raises(errors.ApplyError, match=message) as caught:
        await target.prepare([_obj("File", "bad", **spec)], app=APP, namespace="")
    assert "File.host.gitward.dev bad" in str(caught.value)


async def test_a_symlink_target_leaving_the_roots_is_refused(
    target: HostTarget, roots: tuple[Path, Path]
) -> None:
    link = _obj("Symlink", "shadow", path=f"{roots[1]}/shadow", target="../../../../etc/shadow")
    with pytest.raises(errors.ApplyError, match=r"symlink target '../../../../etc/shadow'"):
        await target.prepare([link], app=APP, namespace="")


async def test_a_symlinked_directory_leading_out_is_refused_at_apply(
    target: HostTarget, roots: tuple[Path, Path], tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (roots[1] / "escape").symlink_to(outside)
    evil = _obj("File", "evil", path=f"{roots[1]}/escape/owned", content="x")
    prepared = await target.prepare([evil], app=APP, namespace="")
    with pytest.raises(
        errors.ApplyError, match=r"escape is a symlink .* outside the target's roots"
    ):
        await target.apply(prepared[0], force=True)
    assert not (outside / "owned").exists()
    # A symlink that stays inside the roots is followed.
    (roots[1] / "inside").symlink_to(roots[0])
    fine = _obj("File", "fine", path=f"{roots[1]}/inside/ok", content="ok")
    prepared = await target.prepare([fine], app=APP, namespace="")
    await target.apply(prepared[0], force=True)
    assert (roots[0] / "ok").read_text() == "ok"


async def test_on_change_runs_the_command_and_keeps_its_output(
    target: HostTarget, roots: tuple[Path, Path], tmp_path: Path
) -> None:
    marker = tmp_path / "reloaded"
    declared = [
        _obj(
            "Command",
            "reload",
            command=["sh", "-c", f'echo reloading; echo x >> "{marker}"'],
            timeout="5s",
        ),
        _obj("File", "conf", path=f"{roots[0]}/a.conf", content="1\n", onChange=["reload"]),
    ]
    prepared = await target.prepare(declared, app=APP, namespace="")
    await target.apply(prepared[0], force=True)
    result = await target.apply(prepared[1], force=True)
    assert result.outcome is base.ApplyOutcome.CREATED
    assert "onChange reload exited 0" in result.message and "reloading" in result.message
    assert marker.read_text() == "x\n"
    unchanged = await target.apply(prepared[1], force=True)
    assert unchanged.outcome is base.ApplyOutcome.UNCHANGED
    assert marker.read_text() == "x\n"  # no change, no run
    command = (await target.read([prepared[0].key]))[prepared[0].key]
    assert command is not None
    assert command["status"]["exitCode"] == 0


async def test_a_failing_command_fails_the_apply_naming_its_exit_status(
    target: HostTarget, roots: tuple[Path, Path]
) -> None:
    declared = [
        _obj("Command", "broken", command=["sh", "-c", "echo nginx: bad config >&2; exit 3"]),
        _obj("File", "conf", path=f"{roots[0]}/b.conf", content="1\n", onChange=["broken"]),
    ]
    prepared = await target.prepare(declared, app=APP, namespace="")
    await target.apply(prepared[0], force=True)
    with pytest.raises(errors.ApplyError, match=r"Command broken exited 3 .*nginx: bad config"):
        await target.apply(prepared[1], force=True)
    live = (await target.read([prepared[0].key]))[prepared[0].key]
    assert live is not None
    assert live["status"]["conditions"][0]["status"] == "False"


async def test_a_command_over_its_timeout_is_killed(target: HostTarget) -> None:
    hook = _obj("Command", "slow", command=["sleep", "30"], timeout=0.3)
    body = dict(hook.body)
    body["metadata"] = {"name": "slow", "annotations": {"gitward.dev/hook": "PostSync"}}
    prepared = await target.prepare([resources.Manifest.from_body(body)], app=APP, namespace="")
    result = await target.apply(prepared[0], force=True)
    assert result.live["status"]["conditions"][0]["reason"] == "Timeout"


async def test_commands_need_the_target_to_allow_them(tmp_path: Path) -> None:
    strict = HostTarget("edge", [str(tmp_path)], tmp_path / "state")
    with pytest.raises(errors.ApplyError, match=r"does not run commands .*allowCommands"):
        await strict.prepare([_obj("Command", "c", command=["true"])], app=APP, namespace="")


async def test_on_change_must_name_a_declared_command(
    target: HostTarget, roots: tuple[Path, Path]
) -> None:
    conf = _obj("File", "conf", path=f"{roots[0]}/c", content="", onChange=["reload-nginx"])
    with pytest.raises(errors.ApplyError, match="onChange names Command 'reload-nginx'"):
        await target.prepare([conf], app=APP, namespace="")


async def test_secret_content_is_masked_in_the_plan(
    target: HostTarget, roots: tuple[Path, Path], tmp_path: Path
) -> None:
    path = f"{roots[0]}/token"
    await _sync(target, [_obj("File", "token", path=path, content="s3cret-1\n", secret=True)])
    plan = await _plan(
        target, [_obj("File", "token", path=path, content="s3cret-2\n", secret=True)]
    )
    shown = reports.text(plan) + str(reports.to_dict(plan))
    assert "s3cret" not in shown
    assert plans.MASK in shown
    records = (tmp_path / "state" / "inventory.json").read_text()
    assert "s3cret" not in records


async def test_a_hand_edit_is_a_watch_event(target: HostTarget, roots: tuple[Path, Path]) -> None:
    path = roots[1] / "w.txt"
    await _sync(target, [_obj("File", "w", path=str(path), content="git\n")])
    events = target.watch("host.gitward.dev", "File")
    first = asyncio.ensure_future(events.__anext__())
    await _settle()
    path.write_text("hand\n")
    event = await asyncio.wait_for(first, 1.0)
    assert event.type is base.WatchEventType.MODIFIED
    assert event.key.name == "w"
    assert event.object["spec"]["content"] == "hand\n"
    assert event.object["metadata"]["labels"][resources.APP_LABEL] == APP
    second = asyncio.ensure_future(events.__anext__())
    path.unlink()
    assert (await asyncio.wait_for(second, 1.0)).type is base.WatchEventType.DELETED
    await events.aclose()  # type: ignore[attr-defined]


async def _settle() -> None:
    await asyncio.sleep(0.2)  # the watcher sets its inotify watches up


async def test_the_hash_check_sees_an_edit_inotify_missed(
    roots: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No directory is ever watched: only the periodic hash check is left.
    monkeypatch.setattr(watching.Watcher, "_rewatch", lambda self, notify, watched: None)
    target = HostTarget("edge", [str(r) for r in roots], tmp_path / "state", rescan_interval=0.3)
    try:
        path = roots[0] / "polled.conf"
        await _sync(target, [_obj("File", "polled", path=str(path), content="git\n")])
        events = target.watch("host.gitward.dev", "File")
        waiting = asyncio.ensure_future(events.__anext__())
        await _settle()
        path.write_text("hand\n")
        event = await asyncio.wait_for(waiting, 2.0)
        assert (event.type, event.object["spec"]["content"]) == (
            base.WatchEventType.MODIFIED,
            "hand\n",
        )
        await events.aclose()  # type: ignore[attr-defined]
    finally:
        await target.close()


async def test_secret_command_environment_is_masked_in_the_plan(
    target: HostTarget, roots: tuple[Path, Path]
) -> None:
    def command(password: str) -> Any:
        return _obj("Command", "migrate", command=["true"], env={"PASSWORD": password}, secret=True)

    await _sync(target, [command("s3cret-1")])
    plan = await _plan(target, [command("s3cret-2")])
    assert not plan.in_sync
    shown = reports.text(plan) + str(reports.to_dict(plan))
    assert "s3cret" not in shown
    assert plans.MASK in shown and "PASSWORD" in shown
    with pytest.raises(errors.ApplyError, match=r"spec\.secret must be true or false"):
        await target.prepare(
            [_obj("Command", "c", command=["true"], secret="yes")], app=APP, namespace=""
        )
