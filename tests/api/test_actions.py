"""Actions through the API change the agent and the target as promised, and no
answer ever carries a Secret's value (a canary in Git)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gitward.api import actions
from gitward.model import resources
from tests.api.conftest import CANARY_2, ServeFactory, assert_no_canary, configmap, secret

BILLING = "/api/v1/applications/billing"
WEB = "/api/v1/applications/web"


async def test_sync_dry_run_then_real_then_history_and_events(serve: ServeFactory) -> None:
    served = await serve()
    answers: list[str] = []
    async with served.client("team-admin") as client:
        dry = await client.post(f"{BILLING}/sync", json={"dryRun": True})
        answers.append(dry.text)
        assert dry.status_code == 200
        body = dry.json()
        assert body["operation"]["dryRun"] is True
        assert body["operation"]["phase"] == "Succeeded"
        assert body["plan"]["summary"]["create"] == 2
        assert served.agent.apps["billing"].sync.value == "OutOfSync"

        real = await client.post(f"{BILLING}/sync", json={})
        answers.append(real.text)
        assert real.status_code == 200, real.text
        op = real.json()
        assert op["operation"]["phase"] == "Succeeded"
        assert {r["result"] for r in op["operation"]["results"]} == {"Created"}
        assert op["operationId"] is not None

        state = await served.until(
            lambda: (s := served.agent.apps["billing"]).ready() and s, "billing synced and healthy"
        )
        assert state.synced_revision

        got = await client.get(BILLING)
        answers.append(got.text)
        assert got.json()["sync"]["status"] == "Synced"
        assert got.json()["health"]["status"] == "Healthy"

        history = await client.get(f"{BILLING}/operations")
        answers.append(history.text)
        items = history.json()["items"]
        assert [i["dryRun"] for i in items[:2]] == [False, True]
        assert items[0]["trigger"] == "manual sync by token 'team-admin'"
        one = await client.get(f"/api/v1/operations/{items[0]['id']}")
        answers.append(one.text)
        assert one.json()["id"] == items[0]["id"]

        events = await client.get(f"{BILLING}/events")
        answers.append(events.text)
        assert "SyncSucceeded" in {e["reason"] for e in events.json()["items"]}

        # A new Secret value in Git: the diff shows an update, masked.
        served.git.commit(
            "rotate", {"billing/secret.yaml": secret("billing-credentials", CANARY_2)}
        )
        await client.post(f"{BILLING}/refresh")
        diff = await served.until(
            lambda: _diff_with_update(client), "a pending update of the Secret", timeout=20
        )
        answers.append(diff.text)
        changes = {c["resource"]: c for c in diff.json()["plan"]["changes"]}
        secret_change = changes["Secret default/billing-credentials"]
        assert secret_change["action"] == "update"
        assert secret_change["fieldChanges"], "the update names the changed fields"
        assert "masked" in diff.json()["text"]

        async with served.client("admin-all") as admin:
            for path in ("/api/v1/applications", "/api/v1/events", "/metrics", f"{WEB}/diff"):
                answers.append((await admin.get(path)).text)
    for index, text in enumerate(answers):
        assert_no_canary(text, f"answer {index}")


async def _diff_with_update(client: httpx.AsyncClient) -> httpx.Response | None:
    diff = await client.get(f"{BILLING}/diff")
    if any(c["action"] == "update" for c in diff.json()["plan"]["changes"]):
        return diff
    return None


async def test_selected_resources_sync_only_those(serve: ServeFactory) -> None:
    served = await serve()
    async with served.client("team-admin") as client:
        response = await client.post(
            f"{BILLING}/sync", json={"resources": ["configmap/default/billing-settings"]}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert [r["resource"] for r in body["operation"]["results"]] == [
            "ConfigMap default/billing-settings"
        ]
        assert body["operation"]["trigger"].endswith("(selected resources)")
        state = await served.until(
            lambda: (
                (s := served.agent.apps["billing"]).resource_statuses
                and {str(r.key): r.health.status.value for r in s.resource_statuses}
                == {
                    "ConfigMap default/billing-settings": "Healthy",
                    "Secret default/billing-credentials": "Missing",
                }
                and s
            ),
            "billing re-assessed after the selective sync",
        )
        assert state.sync.value == "OutOfSync"
        records = await served.store.list_operations("billing")
        assert records[0].id == body["operationId"]
        assert records[0].operation.phase.value == "Succeeded"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("Deployment.apps web/frontend", True),
        ("deployment.apps/web/frontend", True),
        ("Deployment.apps/frontend", True),
        ("deployment/web/frontend", False),  # the group is part of the identity
        ("Deployment.apps other/frontend", False),
        ({"group": "apps", "kind": "Deployment", "namespace": "web", "name": "frontend"}, True),
        ({"kind": "Deployment", "namespace": "web", "name": "frontend"}, False),
        ("Deployment.apps/web/frontend/extra", False),
    ],
)
def test_resource_selectors(selector: Any, expected: bool) -> None:
    key = resources.ResourceKey("apps", "Deployment", "web", "frontend")
    assert actions.matches(selector, key) is expected


async def test_suspend_resume_refresh(serve: ServeFactory) -> None:
    served = await serve()
    async with served.client("admin-all") as client:
        suspended = await client.post(f"{WEB}/suspend")
        assert suspended.json()["suspended"] is True
        assert served.agent.apps["web"].suspended
        await served.until(
            lambda: served.agent.apps["web"].message.startswith("suspended"), "suspended reconcile"
        )
        resumed = await client.post(f"{WEB}/resume")
        assert resumed.json()["suspended"] is False
        before = served.agent.apps["web"].reconciled_at
        refreshed = await client.post(f"{WEB}/refresh")
        assert refreshed.status_code == 202
        await served.until(
            lambda: served.agent.apps["web"].reconciled_at != before, "a reconcile after refresh"
        )


async def test_detached_work_outlives_a_cancelled_request(serve: ServeFactory) -> None:
    served = await serve()
    ctx = served.app.state.api
    finished = asyncio.Event()

    async def work() -> str:
        await asyncio.sleep(0.2)
        finished.set()
        return "done"

    request = asyncio.create_task(ctx.detached(work()))
    await asyncio.sleep(0.05)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    await asyncio.wait_for(finished.wait(), 5)


async def test_rollback_pins_then_reverts_in_git(serve: ServeFactory) -> None:
    served = await serve()
    await served.until(lambda: served.agent.apps["web"].ready(), "web synced and healthy")
    good = served.agent.apps["web"].revision
    bad = served.git.commit("web b", {"web/cm.yaml": configmap("web-settings", "b")})
    await served.until(
        lambda: served.agent.apps["web"].synced_revision == bad, "the new revision synced"
    )
    async with served.client("admin-all") as client:
        pinned = await client.post(f"{WEB}/rollback", json={"to": good})
        assert pinned.status_code == 200, pinned.text
        assert pinned.json()["mode"] == "pin" and pinned.json()["revision"] == good
        state = (await client.get(WEB)).json()
        assert state["pinnedRevision"] == good and state["automated"] is False

        reverted = await client.post(f"{WEB}/rollback", json={"commit": bad})
        assert reverted.status_code == 200, reverted.text
        body = reverted.json()
        assert body["mode"] == "revert" and body["reverted"] == [bad]
        assert body["pushedSha"] == served.git.run("ls-remote", str(served.git.remote), "main")[:40]
        unknown = await client.post(f"{WEB}/rollback", json={"commit": "0" * 40})
        assert unknown.status_code == 422, unknown.text
        assert unknown.json()["error"]["reason"] == "SourceFailed"
