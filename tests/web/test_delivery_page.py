"""The delivery page and the notification log in real headless Chromium: the four
figures of a scripted history (``tests/engine/delivery/scenario.py``), one
server-rendered SVG chart per figure whose marks carry their numbers, nothing
loaded from elsewhere; and the log page readable by a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.engine.delivery import scenario
from tests.web.conftest import Stack, token_of
from tests.web.test_browser import Browser, chromium, expect, log_in, shot  # noqa: F401

from gitward.store import base as store_base

pytestmark = [pytest.mark.slow]

SHAS = {c.name: f"{n:02d}" * 20 for n, c in enumerate(scenario.COMMITS)}


async def test_delivery_page_shows_the_figures_and_charts(
    stack: Stack,
    chromium: Browser,  # noqa: F811
) -> None:
    shift = datetime.now(UTC) - scenario.UNTIL - timedelta(minutes=1)
    await scenario.record(stack.agent.settings.store, SHAS, app="shop", shift=shift)
    await stack.agent.store.add_event(
        store_base.EventRecord(
            app="web",
            time=datetime.now(UTC),
            type=store_base.EventType.WARNING,
            reason="SyncFailed",
            message="x",
        )
    )
    page = await chromium.page()
    await log_in(page, token_of("admin"))
    await page.get_by_role("link", name="Delivery").click()
    await expect(page.get_by_role("heading", name="Delivery", level=1)).to_be_visible()
    await page.locator("#d-app").select_option("shop")
    await page.locator("#d-since").fill("10d")
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(f"{stack.url}/delivery?app=shop&project=&since=10d")

    await expect(page.locator("#deployment-frequency .value")).to_have_text("0.80/day")
    await expect(page.locator("#deployment-frequency")).to_contain_text("8 deployments")
    await expect(page.locator("#change-failure-rate .value")).to_have_text("37.5%")
    await expect(page.locator("#change-failure-rate")).to_contain_text("3 of 8 deployments")
    await expect(page.locator("#time-to-restore .value")).to_have_text("40 min")
    # Without the repository each deployment counts its own commit only.
    await expect(page.locator("#lead-time")).to_contain_text("8 commits")

    svgs = page.locator("svg.chart")
    await expect(svgs).to_have_count(4)
    titles = [await svgs.nth(i).locator("title").first.text_content() for i in range(4)]
    assert titles == [
        "Deployments per period",
        "Lead time for changes (p50)",
        "Change failure rate (%)",
        "Time to restore (p50)",
    ]
    bars = svgs.nth(0).locator("rect.bar")
    await expect(bars).to_have_count(10)
    marks = [
        await bars.nth(i).locator("xpath=..").locator("title").text_content() for i in range(10)
    ]
    assert [m.split(": ")[1] for m in marks][:6] == [
        "1 deployments",
        "1 deployments",
        "1 deployments, 1 failed",
        "1 deployments",
        "2 deployments, 1 failed",
        "2 deployments, 1 failed",
    ]
    box = await svgs.nth(0).bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 50
    await shot(page, "delivery")

    await page.get_by_role("link", name="Notifications").click()
    await expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    await expect(page.locator("#deliveries")).to_contain_text("Nothing sent yet")
    assert chromium.external == [], f"requests left the server: {chromium.external}"
    assert chromium.console_errors == []
