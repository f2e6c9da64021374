"""The operators' dashboard in a real browser: staff log in, land on the dashboard with its failure charts
drawn, and follow an error group's link to the Failed orders page filtered to exactly that group's orders.

Debian's chromium (/usr/bin/chromium) is driven headless by playwright against pytest-django's live server
(launch options as in test_failed_orders_browser.py). Screenshots go to $ARTIFACTS_DIR (default
tests/artifacts/).
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from orders.error_groups import error_group
from tests.browser.test_failed_orders_browser import CHROMIUM, CHROMIUM_ARGS, artifacts
from tests.conftest import build_world
from tests.ops.dataset import add_agents_and_jobs, build_dataset

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is missing at /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture
def history(live_server):
    world = build_world()
    now = timezone.now()
    data = build_dataset(world, now=now, per_state=2)
    add_agents_and_jobs(world, now=now)
    world.webhook.backend_healthy = False
    world.webhook.backend_unhealthy_since = now
    world.webhook.backend_last_error = "Connection refused"
    world.webhook.save()
    return world, data


def test_staff_see_the_dashboard_and_open_an_error_group_on_the_failed_orders_page(live_server, history):
    world, data = history
    shots = artifacts()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(30_000)

            # 1. log in: the admin's landing page is the dashboard
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", world.user("staff").username)
            page.fill("#id_password", "password")
            page.click("input[type=submit]")
            page.wait_for_selector("#ops-dashboard")
            erred = sum(o.state == "erred" for o in data.orders)
            assert page.inner_text("#count-erred") == str(erred)
            page.screenshot(path=shots / "dashboard-01-landing.png", full_page=True)

            # 2. the charts are drawn: SVGs with a real size and bars of height, one per hour / day
            for chart, bars in (("#chart-hourly", 24), ("#chart-daily", 30)):
                box = page.locator(chart).bounding_box()
                assert box and box["width"] > 300 and box["height"] > 100, chart
                assert page.locator(f"{chart} rect.ops-bar").count() == bars
                heights = page.eval_on_selector_all(
                    f"{chart} rect.ops-bar:not(.ops-bar-zero)", "rs => rs.map(r => r.getBoundingClientRect().height)"
                )
                assert heights and max(heights) > 20, (chart, heights)
            page.locator("#ops-failures-hourly").screenshot(path=shots / "dashboard-02-hourly-chart.png")
            page.locator("#ops-failures-daily").screenshot(path=shots / "dashboard-03-daily-chart.png")

            # 3. an error group with several orders: its link opens the Failed orders page filtered to it
            row = page.locator("tr.ops-error-group").first
            group, offering_uuid = row.get_attribute("data-group"), row.get_attribute("data-offering")
            expected = [
                o for o in data.erred if o.offering.uuid.hex == offering_uuid and error_group(o.error_message) == group
            ]
            assert len(expected) > 1
            page.locator("#ops-error-groups").screenshot(path=shots / "dashboard-04-error-groups.png")
            row.locator("a.ops-open-group").click()
            page.wait_for_url("**/admin/orders/failedorder/?*error_group=*")
            noun = "failed order" if len(expected) == 1 else "failed orders"
            assert f"{len(expected)} {noun}" in page.inner_text("#changelist-form .paginator")
            listed = page.locator("#result_list tbody tr").count()
            text = page.inner_text("#result_list")
            assert listed == len(expected)
            assert all(o.uuid.hex in text for o in expected)
            page.screenshot(path=shots / "dashboard-05-failed-orders-of-the-group.png", full_page=True)
        finally:
            browser.close()
