"""Issue 5 acceptance, UI part: the web UI in real headless Chromium.

Debian's ``chromium`` driven by Playwright (``executable_path``; no browser
download) loads the UI of a running agent (see conftest: real git remote,
Kubernetes API test server, SQLite store, uvicorn on loopback). Scenario: the
list shows ``web`` Synced/Healthy; a commit is pushed (automated sync off) and
the list turns OutOfSync without a reload; the app page shows the diff side by
side; Sync is pressed and confirmed in a keyboard-operable dialog and the page
turns Synced/Healthy without a reload; history names the commit's author and
message; a rollback reverts the commit in Git. Screenshots of the main pages
go to ``artifacts/screenshots/`` for reviewers. Every request the browser makes
is checked to stay on the server (no CDN, no fonts, nothing external).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.manifests import configmap
from tests.web.conftest import APP, Stack, assert_no_secret, token_of

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
LIVE = 20_000  # ms: a poll, a reconcile and a rollout, with room for a loaded machine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (apt-get install chromium)",
    ),
]

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect


class Browser:
    """One Chromium with a guard that fails the test on any off-server request."""

    def __init__(self, browser: Any, base: str) -> None:
        self.browser = browser
        self.base = base
        self.external: list[str] = []
        self.console_errors: list[str] = []

    async def page(self, *, width: int = 1280, height: int = 900) -> Any:
        context = await self.browser.new_context(
            viewport={"width": width, "height": height}, base_url=self.base
        )

        async def guard(route: Any) -> None:
            url = route.request.url
            if url.startswith(self.base) or url.startswith("data:"):
                await route.continue_()
            else:
                self.external.append(url)
                await route.abort()

        await context.route("**/*", guard)
        page = await context.new_page()
        page.on(
            "console",
            lambda msg: (
                self.console_errors.append(f"{msg.text} @ {msg.location}")
                if msg.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))
        return page


@pytest.fixture
async def chromium(stack: Stack) -> AsyncIterator[Browser]:
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield Browser(browser, stack.url)
        finally:
            await browser.close()


async def shot(target: Any, name: str, *, full: bool = True) -> None:
    """A screenshot for reviewers: a whole page (or its viewport), or one element."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    if hasattr(target, "goto") and full:
        await target.screenshot(path=path, full_page=True)
    else:
        await target.screenshot(path=path)


async def log_in(page: Any, token: str) -> None:
    await page.goto("/")
    await expect(page).to_have_url(f"{page.url.split('/login')[0]}/login?next=%2F")
    # The token field has focus: type and press Enter, as a keyboard user would.
    await expect(page.locator("#token")).to_be_focused()
    await page.keyboard.type(token)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Applications")).to_be_visible()


async def expect_healthy(badge: Any) -> None:
    await expect(badge).to_have_text("♥ Healthy", timeout=LIVE)


async def assert_fits(page: Any, width: int) -> None:
    """Nothing on the page is wider than the screen (no sideways scrolling),
    once live updates have settled (a swap in progress may lay out mid-way)."""
    wider: list[str] = []
    for _ in range(20):
        wider = await page.evaluate(
            """(width) => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > width + 0.5)
                .map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)""",
            width,
        )
        if not wider:
            break
        await page.wait_for_timeout(100)
    assert wider == [], f"{page.url} is wider than {width}px: {wider[:10]}"
    assert await page.evaluate("document.documentElement.scrollWidth") <= width


async def mark_loaded(page: Any) -> None:
    """Tag the document: the tag survives anything but a reload or navigation."""
    await page.evaluate("document.documentElement.dataset.loadedOnce = 'yes'")


async def assert_not_reloaded(page: Any) -> None:
    assert await page.evaluate("document.documentElement.dataset.loadedOnce") == "yes"


async def test_out_of_sync_then_sync_diff_history_and_rollback(
    stack: Stack, chromium: Browser
) -> None:
    page = await chromium.page()
    await log_in(page, token_of("admin"))

    # 1. The list shows web Synced and Healthy.
    row = page.locator(f'tr[data-app="{APP}"]')
    await expect(row.locator("[data-sync]")).to_have_text("✓ Synced")
    await expect_healthy(row.locator("[data-health]"))
    await shot(page, "list")
    await mark_loaded(page)

    # 2. A commit to Git: the list turns OutOfSync without a reload.
    stack.git.commit("Turn web green", {"web/cm.yaml": configmap("web-settings", "green")})
    await expect(row.locator("[data-sync]")).to_have_text("≠ OutOfSync", timeout=LIVE)
    await assert_not_reloaded(page)
    await shot(page, "list-out-of-sync")

    # 3. The app page: open the diff of the changed ConfigMap (keyboard).
    await row.get_by_role("link", name=APP).click()
    await expect(page.get_by_role("heading", name=APP, level=1)).to_be_visible()
    change = page.locator('details[data-resource="ConfigMap default/web-settings"]')
    await expect(change).to_be_visible(timeout=LIVE)
    await change.locator("summary").focus()
    await page.keyboard.press("Enter")
    table = change.locator("table.diff")
    await expect(table).to_be_visible()
    await expect(table.locator("thead th")).to_have_text(["Field", "Live", "Git"])
    changed = table.locator("tbody tr").filter(has_text="/data/value")
    await expect(changed.locator("td.live")).to_have_text('"blue"')
    await expect(changed.locator("td.git")).to_have_text('"green"')
    # Side by side: the Git column is to the right of the live one, same row.
    live_box = await changed.locator("td.live").bounding_box()
    git_box = await changed.locator("td.git").bounding_box()
    assert git_box["x"] > live_box["x"] + live_box["width"] - 1
    assert abs(git_box["y"] - live_box["y"]) < 2
    await shot(page.locator("#diff"), "diff")
    await shot(page, "app-out-of-sync")
    assert_no_secret(await page.content(), "the app page")

    # 4. Sync through the confirmation dialog, keyboard only.
    await mark_loaded(page)
    await page.locator("#action-sync").focus()
    await page.keyboard.press("Enter")
    dialog = page.locator("#dialog-sync")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await page.keyboard.press("Escape")  # closes without acting
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#action-sync")).to_be_focused()  # focus returns to the opener
    assert stack.status()[0] == "OutOfSync"
    await page.locator("#action-sync").focus()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    await shot(page, "sync-dialog", full=False)
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_role("button", name="Sync")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#notice")).to_contain_text("Sync of web")
    status = page.locator("#app-status")
    await expect(status.locator("[data-sync]")).to_have_text("✓ Synced", timeout=LIVE)
    await expect_healthy(status.locator("[data-health]"))
    await expect(page.locator("#diff-body")).to_contain_text("In sync", timeout=LIVE)
    await assert_not_reloaded(page)

    # 5. History: the commit's author and message, with per-resource results.
    latest = page.locator("#history-body li.operation").first
    await expect(latest).to_contain_text("Turn web green", timeout=LIVE)
    await expect(latest).to_contain_text("Ada Author")
    await expect(latest.locator(".badge")).to_have_text("✓ Succeeded")
    await latest.locator("summary").click()
    await expect(latest.locator("table.results")).to_contain_text("ConfigMap default/web-settings")
    await shot(page.locator("#history"), "history")
    await shot(page, "app")

    # 6. Roll back: revert the commit in Git, then sync the revert.
    await mark_loaded(page)
    await page.locator("#action-rollback").click()
    rollback = page.locator("#dialog-rollback")
    await expect(rollback).to_be_visible()
    await expect(rollback.get_by_label("Revert in Git")).to_be_checked()
    await shot(page, "rollback-dialog", full=False)
    await rollback.get_by_role("button", name="Roll back").click()
    await expect(rollback).to_be_hidden()
    # "Reverted <sha> in <sha>", or "Reverting…" when the push takes longer.
    await expect(page.locator("#notice")).to_contain_text("Revert", timeout=LIVE)
    await expect(status.locator("[data-sync]")).to_have_text("≠ OutOfSync", timeout=LIVE)
    await page.locator("#action-sync").click()
    await page.locator("#dialog-sync").get_by_role("button", name="Sync").click()
    await expect(status.locator("[data-sync]")).to_have_text("✓ Synced", timeout=LIVE)
    await expect(page.locator("#history-body li.operation").first).to_contain_text(
        "Roll back web: revert", timeout=LIVE
    )
    live = await stack.agent.runtime.target("test").read(
        [k for k in stack.agent.apps[APP].managed_keys if k.kind == "ConfigMap"]
    )
    assert [obj["data"]["value"] for obj in live.values() if obj] == ["blue"]
    await expect(page.locator("#events-body")).to_contain_text("RolledBack")
    await assert_not_reloaded(page)
    await shot(page.locator("#events"), "events")

    # 7. A phone: 375 px wide, nothing wider than the screen, still usable.
    phone = await chromium.page(width=375, height=812)
    await log_in(phone, token_of("admin"))
    await assert_fits(phone, 375)
    await shot(phone, "phone-list")
    await phone.goto(f"/apps/{APP}")
    await expect(phone.locator("#app-status [data-sync]")).to_have_text("✓ Synced")
    await assert_fits(phone, 375)
    await shot(phone, "phone-app")
    await phone.locator("#action-rollback").click()
    phone_dialog = phone.locator("#dialog-rollback")
    await expect(phone_dialog).to_be_visible()
    box = await phone_dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375, box
    await shot(phone, "phone-rollback-dialog", full=False)
    await phone.keyboard.press("Escape")
    await expect(phone_dialog).to_be_hidden()

    assert chromium.external == [], f"requests left the server: {chromium.external}"
    assert chromium.console_errors == [], json.dumps(chromium.console_errors, indent=2)
