"""The UI's pages over HTTP: login, sessions and CSRF, the list, the app page,
the diff (Secrets masked), actions, the live stream and local assets.

One real agent per test (see conftest); httpx on loopback.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from tests.manifests import configmap, secret
from tests.web.conftest import APP, CANARY_2, Stack, assert_no_secret, token_of

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


async def test_login_sets_a_strict_httponly_cookie_and_guards_every_page(stack: Stack) -> None:
    async with stack.client() as anonymous:
        first = await anonymous.get("/")
        assert first.status_code == 303
        assert first.headers["location"] == "/login?next=%2F"
        assert (await anonymous.get(f"/apps/{APP}")).status_code == 303
        assert (await anonymous.get("/ui/stream")).status_code == 401

        login = await anonymous.get("/login")
        assert login.status_code == 200
        assert 'type="password"' in login.text and 'for="token"' in login.text
        assert "script-src 'self'" in login.headers["content-security-policy"]

        refused = await anonymous.post("/login", data={"token": "gw_wrong", "next": "/"})
        assert refused.status_code == 401
        assert "not valid" in refused.text
        assert "gw_wrong" not in refused.text
        assert "set-cookie" not in refused.headers

        # An open redirect through ``next`` is refused.
        accepted = await anonymous.post(
            "/login", data={"token": token_of("admin"), "next": "//evil.example/x"}
        )
        assert accepted.status_code == 303
        assert accepted.headers["location"] == "/"
        cookie = accepted.headers["set-cookie"]
        assert cookie.startswith("gitward_session=")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "Path=/" in cookie

        listing = await anonymous.get("/")  # the client keeps the cookie
        assert listing.status_code == 200
        assert f'data-app="{APP}"' in listing.text

        # A cross-site login attempt (browser headers) is refused.
        cross = await anonymous.post(
            "/login",
            data={"token": token_of("admin")},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert cross.status_code == 403

    async with stack.client() as revoked:
        revoked.cookies.set("gitward_session", "gw_revoked_or_unknown")
        answer = await revoked.get("/")
        assert answer.status_code == 303
        assert "gitward_session=" in answer.headers["set-cookie"]  # cleared


async def test_list_shows_status_badges_and_filters(stack: Stack) -> None:
    async with stack.client("reader") as client:
        page = (await client.get("/")).text
        row = page[page.index(f'data-app="{APP}"') :]
        row = row[: row.index("</tr>")]
        assert 'data-sync="Synced"' in row and 'data-health="Healthy"' in row
        assert "✓" in row  # the badge's symbol: colour is not the only signal
        assert 'sse-connect="/ui/stream?view=list"' in page

        filtered = (await client.get("/", params={"sync": "OutOfSync"})).text
        assert f'data-app="{APP}"' not in filtered
        assert "No application matches these filters." in filtered
        by_name = (await client.get("/", params={"q": "WE", "health": "Healthy"})).text
        assert f'data-app="{APP}"' in by_name
        # Unknown filter values are ignored rather than echoed.
        junk = (await client.get("/", params={"sync": "<script>"})).text
        assert "<script>" not in junk.split("<body>")[1].replace('<script src="', "")


async def test_app_page_shows_tree_history_events_and_assets_are_local(stack: Stack) -> None:
    async with stack.client("reader") as client:
        page = (await client.get(f"/apps/{APP}")).text
        # Resource tree: managed objects grouped by kind; the Deployment owns
        # a ReplicaSet (created by the test server's controller).
        assert '<section class="kind-group" aria-label="Deployment.apps">' in page
        tree = page[page.index('id="resources-body"') : page.index('id="history"')]
        assert re.search(r"ReplicaSet</span>\s*<span class=\"node-name\">default/web-", tree)
        assert "ConfigMap" in tree and "Secret" in tree
        # History: commit author and message, per-resource results.
        history = page[page.index('id="history-body"') : page.index('id="events"')]
        assert "Declare web" in history and "Ada Author" in history
        assert "resource results" in history
        assert "Configured" in history or "Created" in history
        assert "SyncSucceeded" in page  # the events timeline
        # A reader sees no action buttons.
        assert 'data-dialog="dialog-sync"' not in page
        assert "may read this application but not act on it" in page
        assert_no_secret(page, "the app page")

        # No request may leave the server: every src/href is local.
        for ref in re.findall(r'(?:src|href)="([^"]+)"', page):
            assert ref.startswith(("/", "#")), f"external reference {ref}"
        for asset in ("htmx.min.js", "htmx-ext-sse.min.js", "gitward.js", "gitward.css"):
            answer = await client.get(f"/ui/static/{asset}")
            assert answer.status_code == 200, asset
            assert "http://" not in answer.text.replace("http://www.w3.org", "")
        assert (await client.get("/apps/nope")).status_code == 404


async def test_diff_is_side_by_side_and_masks_secrets(stack: Stack) -> None:
    stack.git.commit(
        "Turn web green",
        {
            "web/cm.yaml": configmap("web-settings", "green"),
            "web/secret.yaml": secret("web-credentials", CANARY_2),
        },
    )
    await stack.until(lambda: stack.status()[0] == "OutOfSync", "web OutOfSync")
    async with stack.client("reader") as client:
        diff = (await client.get(f"/apps/{APP}/diff")).text
        assert_no_secret(diff, "the diff page")
        assert 'data-resource="ConfigMap default/web-settings"' in diff
        cm = diff[diff.index('data-resource="ConfigMap default/web-settings"') :]
        cm = cm[: cm.index("</details>")]
        assert '<th scope="col">Live</th><th scope="col">Git</th>' in cm
        live, git = re.search(
            r'<td class="live"><pre>(.*?)</pre></td>\s*<td class="git"><pre>(.*?)</pre>', cm, re.S
        ).groups()
        assert (live, git) == ("&#34;blue&#34;", "&#34;green&#34;")
        assert "/data/value" in cm
        assert 'data-resource="Secret default/web-credentials"' in diff
        assert "*** (masked)" in diff
        # The htmx fragment is the same diff without the page around it.
        fragment = await client.get(f"/apps/{APP}/diff", headers={"HX-Request": "true"})
        assert "<html" not in fragment.text and "web-settings" in fragment.text


async def test_drift_shows_in_the_list_the_timeline_and_the_diff(stack: Stack) -> None:
    stack.kubectl(
        "patch", "configmap", "web-settings", "-n", "default", "-p", '{"data":{"value":"hacked"}}'
    )
    await stack.until(lambda: stack.agent.apps[APP].drift_since, "drift detected")
    async with stack.client("reader") as client:
        listing = (await client.get("/")).text
        assert '<span class="tag tag-warn">drift</span>' in listing
        page = (await client.get(f"/apps/{APP}")).text
        events = page[page.index('id="events-body"') :]
        drift = re.search(r'<li class="event event-warning event-drift">(.*?)</li>', events, re.S)
        assert drift and "DriftDetected" in drift.group(1)
        assert "ConfigMap default/web-settings /data/value" in drift.group(1)
        # ... and who: the field manager kubectl patch recorded, with the time.
        assert "/data/value by kubectl-patch (Update) at 20" in drift.group(1)
        assert "drift since" in page
        diff = (await client.get(f"/apps/{APP}/diff")).text
        assert "&#34;hacked&#34;" in diff and "&#34;blue&#34;" in diff


async def test_actions_need_admin_and_csrf(stack: Stack) -> None:
    async with stack.client("reader") as reader:
        page = (await reader.get(f"/apps/{APP}")).text
        denied = await reader.post(f"/apps/{APP}/refresh", data={"csrf": csrf_of(page)})
        assert denied.status_code == 403
    async with stack.client("other-team") as other:
        # An admin of another Project cannot even see the app.
        assert (await other.get(f"/apps/{APP}")).status_code == 404
    async with stack.client("admin") as admin:
        page = (await admin.get(f"/apps/{APP}")).text
        token = csrf_of(page)
        for action in ("sync", "refresh", "suspend", "rollback"):
            assert f'data-dialog="dialog-{action}"' in page
            assert f'<dialog id="dialog-{action}"' in page
        assert (await admin.post(f"/apps/{APP}/suspend", data={})).status_code == 403
        assert (
            await admin.post(f"/apps/{APP}/suspend", data={"csrf": "0" * 64})
        ).status_code == 403
        cross = await admin.post(
            f"/apps/{APP}/suspend",
            data={"csrf": token},
            headers={"Origin": "https://evil.example"},
        )
        assert cross.status_code == 403
        assert not stack.agent.apps[APP].suspended

        # No JavaScript: confirmation page, form post, redirect back.
        confirm = await admin.get(f"/apps/{APP}/confirm/suspend")
        assert f'action="/apps/{APP}/suspend"' in confirm.text
        done = await admin.post(f"/apps/{APP}/suspend", data={"csrf": csrf_of(confirm.text)})
        assert done.status_code == 303 and done.headers["location"].endswith(f"/apps/{APP}")
        assert stack.agent.apps[APP].suspended
        # With htmx: a notice fragment answers in place.
        resumed = await admin.post(
            f"/apps/{APP}/resume", data={"csrf": token}, headers={"HX-Request": "true"}
        )
        assert resumed.status_code == 200
        assert resumed.text.startswith('<p class="notice notice-ok">') and "resumed" in resumed.text
        assert not stack.agent.apps[APP].suspended

        unknown = await admin.post(
            f"/apps/{APP}/rollback",
            data={"csrf": token, "mode": "pin", "to": "f" * 40},
            headers={"HX-Request": "true"},
        )
        assert unknown.status_code == 409
        assert "is not a revision web synced before" in unknown.text
        assert (await admin.post(f"/apps/{APP}/explode", data={"csrf": token})).status_code == 404

        logout = await admin.post("/logout", data={"csrf": token})
        assert logout.status_code == 303
        assert (
            'gitward_session=""' in logout.headers["set-cookie"]
            or "Max-Age=0" in logout.headers["set-cookie"]
        )


async def test_stream_sends_fragments_when_the_app_changes(stack: Stack) -> None:
    async with stack.client("reader") as client:
        url = f"/ui/stream?view=app&app={APP}"
        async with client.stream("GET", url) as response, asyncio.timeout(30):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            seen: list[str] = []

            async def until_event(name: str) -> list[str]:
                data: list[str] = []
                current = ""
                async for line in lines:
                    if line.startswith("event: "):
                        current = line.removeprefix("event: ")
                        seen.append(current)
                        data = []
                    elif line.startswith("data: ") and current == name:
                        data.append(line.removeprefix("data: "))
                    elif line == "" and current == name:
                        return data
                raise AssertionError(f"stream ended before {name}; saw {seen}")

            first = "\n".join(await until_event("status"))
            assert 'data-sync="Synced"' in first
            stack.git.commit("Turn web red", {"web/cm.yaml": configmap("web-settings", "red")})
            for _ in range(20):
                html = "\n".join(await until_event("status"))
                if 'data-sync="OutOfSync"' in html:
                    break
            else:
                raise AssertionError("the status never became OutOfSync on the stream")
            assert "plan-stale" in seen or "resources" in seen
    async with (
        stack.client("reader") as client,
        client.stream("GET", "/ui/stream?view=list") as response,
        asyncio.timeout(20),
    ):
        lines = response.aiter_lines()
        async for line in lines:
            if line.startswith("data: ") and f'data-app="{APP}"' in line:
                break
        # The token is revoked while the page is open: the stream says so and ends.
        assert await stack.agent.store.delete_token("reader")
        stack.git.commit("Turn web pink", {"web/cm.yaml": configmap("web-settings", "pink")})
        rest = [line async for line in lines]
        assert "event: notice" in rest
        assert any("Your session ended" in line for line in rest)


async def test_rollback_by_pin_and_release(stack: Stack) -> None:
    first = stack.agent.apps[APP].synced_revision
    stack.git.commit("Turn web green", {"web/cm.yaml": configmap("web-settings", "green")})
    await stack.until(lambda: stack.status()[0] == "OutOfSync", "web OutOfSync")
    await stack.agent.sync_now(APP, trigger="test")
    async with stack.client("admin") as admin:
        page = (await admin.get(f"/apps/{APP}")).text
        assert f'<option value="{first}">{first[:12]} Declare web (Ada Author' in page
        pinned = await admin.post(
            f"/apps/{APP}/rollback",
            data={"csrf": csrf_of(page), "mode": "pin", "to": first},
            headers={"HX-Request": "true"},
        )
        assert pinned.status_code == 200, pinned.text
        assert first[:12] in pinned.text  # "pinned to" or, on a slow machine, "Pinning"
        await stack.until(lambda: stack.agent.apps[APP].pinned_revision == first, "the pin")
        page = (await admin.get(f"/apps/{APP}")).text
        assert f"pinned to {first[:12]}" in page and 'id="dialog-release"' in page
        await admin.post(f"/apps/{APP}/release", data={"csrf": csrf_of(page)})
        assert stack.agent.apps[APP].pinned_revision == ""


@pytest.mark.parametrize("stack", ["read-only"], indirect=True)
async def test_anonymous_readers_see_pages_but_no_actions(stack: Stack) -> None:
    async with stack.client() as anonymous:
        listing = await anonymous.get("/")
        assert listing.status_code == 200
        assert "Read-only (anonymous)" in listing.text and f'data-app="{APP}"' in listing.text
        page = (await anonymous.get(f"/apps/{APP}")).text
        assert "Log in</a> with an admin token" in page
        assert 'name="csrf"' not in page
        refused = await anonymous.post(f"/apps/{APP}/sync", data={"csrf": ""})
        assert refused.status_code == 403
        # A bad cookie is refused, never downgraded to anonymous reading.
        anonymous.cookies.set("gitward_session", "gw_revoked")
        assert (await anonymous.get("/")).status_code == 303


async def test_without_javascript_the_unknown_action_page_is_404(stack: Stack) -> None:
    async with stack.client("admin") as admin:
        assert (await admin.get(f"/apps/{APP}/confirm/explode")).status_code == 404
        page = await admin.get(f"/apps/{APP}/confirm/rollback")
        assert 'name="mode" value="revert"' in page.text


async def test_the_replicas_page_of_a_single_replica(stack: Stack) -> None:
    async with stack.client("reader") as client:
        page = await client.get("/replicas")
    assert page.status_code == 200, page.text
    assert "A single replica (<code>replicas.coordinator: none</code>) owns all" in page.text
    assert 'href="/replicas" aria-current="page"' in page.text
    async with stack.client() as anonymous:
        assert (await anonymous.get("/replicas")).status_code in (302, 303, 307)
