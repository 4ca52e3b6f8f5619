"""The Fleet page in real headless Chromium: targets with their connection health, an
ApplicationSet's rollout step by step, and pause/resume by an admin (with CSRF);
a token of another Project sees no set and cannot steer one."""

from __future__ import annotations

import httpx
import pytest
from tests.web.conftest import Stack, token_of
from tests.web.test_browser import Browser, chromium, expect, log_in, shot  # noqa: F401

pytestmark = [pytest.mark.slow]

APPSET = """\
apiVersion: gitward.dev/v1
kind: ApplicationSet
metadata: {{name: shop}}
spec:
  generators:
    - list: {{elements: [{{env: staging}}, {{env: prod}}]}}
  template:
    metadata: {{name: "shop-{{{{env}}}}", labels: {{env: "{{{{env}}}}"}}}}
    spec:
      source: {{repoURL: "{url}", ref: main, path: web}}
      destination: {{target: test, namespace: "shop-{{{{env}}}}"}}
  strategy:
    rollingSync:
      steps: [{{matchLabels: {{env: staging}}}}, {{matchLabels: {{env: prod}}}}]
"""


async def test_fleet_page_shows_targets_and_steers_a_rollout(
    stack: Stack,
    chromium: Browser,  # noqa: F811
) -> None:
    stack.git.commit("a set", {"apps/shop.yaml": APPSET.format(url=stack.git.url)})
    stack.agent.context.root_wakeup.set()
    await stack.until(lambda: "shop-prod" in stack.agent.apps, "the set generated")
    page = await chromium.page()
    await log_in(page, token_of("admin"))
    await page.get_by_role("link", name="Fleet").click()
    await expect(page.get_by_role("heading", name="Fleet", level=1)).to_be_visible()
    row = page.locator("#target-test")
    await expect(row).to_contain_text("yes")
    await expect(row).to_contain_text("v1.")
    section = page.locator("#set-shop")
    await expect(section.get_by_role("heading", name="shop")).to_be_visible()
    await expect(section.locator("tbody tr")).to_have_count(2)
    await expect(section.locator("tbody tr").nth(0)).to_contain_text("env=staging")
    await expect(section.locator("tbody tr").nth(1)).to_contain_text("shop-prod")

    await section.get_by_role("button", name="Pause").click()
    await expect(page.locator("#set-shop")).to_contain_text("paused")
    assert (await stack.agent.gate.assess("shop")).control.paused  # type: ignore[union-attr]
    await shot(page, "fleet")
    await page.locator("#set-shop").get_by_role("button", name="Resume").click()
    await expect(page.locator("#set-shop h3")).not_to_contain_text("paused")

    # Another Project's token: no set shown; a forged form is refused.
    async with httpx.AsyncClient(base_url=stack.url) as client:
        login = await client.post(
            "/login", data={"token": token_of("other-team")}, follow_redirects=False
        )
        assert login.status_code in (302, 303)
        fleet = await client.get("/fleet")
        assert fleet.status_code == 200
        assert "set-shop" not in fleet.text
        forged = await client.post("/fleet/appsets/shop/pause", data={"csrf": "x"})
        assert forged.status_code == 404
    assert not (await stack.agent.gate.assess("shop")).control.paused  # type: ignore[union-attr]
