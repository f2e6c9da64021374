"""Seed 003 in a real browser: staff log in, filter the Failed orders page by a failed-at time range, select all
(across pages), preview the resubmit, confirm with a reason and watch the job's progress bar reach done.

Debian's chromium (/usr/bin/chromium) is driven headless by playwright against pytest-django's live server;
the job runs in a background thread of the server process (the embedded mode), so the bar really moves.
Screenshots of every step go to $ARTIFACTS_DIR (default tests/artifacts/).
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import pytest
from django.conf import settings

from core.models import Job
from orders.models import Order, OrderEvent
from tests import factories as f
from tests.conftest import build_world

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is missing at /usr/bin/chromium (apt-get install chromium)"
    ),
]

INSIDE = 120  # more than one page of the Failed orders list (100 a page): needs "select all 120"
T0 = datetime.datetime(2026, 3, 10, 9, 0, tzinfo=datetime.UTC)
WINDOW = (T0 + datetime.timedelta(hours=1), T0 + datetime.timedelta(hours=3))
REASON = "fulfilment maintenance is over"
DEADLINE_SECONDS = 90


def artifacts() -> Path:
    path = Path(os.environ.get("ARTIFACTS_DIR") or Path(__file__).resolve().parent.parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def failed_at(at: datetime.datetime, world, **kw) -> Order:
    return f.OrderFactory(
        state="erred",
        offering=kw.pop("offering", world.basic),
        project=world.project,
        error_message=kw.pop("error", "Fulfilment answered HTTP 503 (maintenance)"),
        error_is_transient=True,
        error_updated_at=at,
        **kw,
    )


@pytest.fixture
def outage(live_server):
    """Orders that failed inside the maintenance window, and some that failed before and after it."""
    world = build_world()
    start, end = WINDOW
    span = (end - start).total_seconds()
    inside = [
        failed_at(start + datetime.timedelta(seconds=30 + i * (span - 60) / INSIDE), world, offering=offering)
        for i, offering in zip(range(INSIDE), [world.basic, world.slurm] * INSIDE, strict=False)
    ]
    outside = [
        failed_at(start - datetime.timedelta(minutes=5), world, error="Fulfilment answered HTTP 400: bad plan"),
        failed_at(start - datetime.timedelta(hours=1), world, error="Fulfilment answered HTTP 400: bad plan"),
        failed_at(end + datetime.timedelta(seconds=1), world, error="quota exceeded"),
        failed_at(end + datetime.timedelta(days=1), world, error="quota exceeded"),
    ]
    return world, inside, outside


def test_staff_resubmit_the_orders_of_a_time_window_and_watch_the_job_finish(live_server, outage):
    world, inside, outside = outage
    shots = artifacts()
    start, end = WINDOW
    seen_progress: list[int] = []

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(30_000)

            # 1. log in through the form
            page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/failedorder/")
            page.fill("#id_username", world.user("staff").username)
            page.fill("#id_password", "password")
            page.screenshot(path=shots / "01-login.png")
            page.click("input[type=submit]")
            page.wait_for_url("**/admin/orders/failedorder/")
            page.click("#toggle-nav-sidebar")  # more room for the table (the admin remembers it)
            assert f"{INSIDE + len(outside)} failed orders" in page.inner_text("#changelist-form .paginator")
            page.screenshot(path=shots / "02-failed-orders.png", full_page=False)

            # 2. the failed-at range, with time of day
            page.fill("input[name=error_updated_at__range__gte_0]", start.strftime("%Y-%m-%d"))
            page.fill("input[name=error_updated_at__range__gte_1]", start.strftime("%H:%M:%S"))
            page.fill("input[name=error_updated_at__range__lte_0]", end.strftime("%Y-%m-%d"))
            page.fill("input[name=error_updated_at__range__lte_1]", end.strftime("%H:%M:%S"))
            page.screenshot(path=shots / "03-range-filled.png")
            page.click("#failed-at-form input[type=submit]")
            page.wait_for_url("**error_updated_at__range__gte_0=*")
            assert f"{INSIDE} failed orders" in page.inner_text("#changelist-form .paginator")
            listed = page.inner_text("#result_list")
            assert all(o.uuid.hex not in listed for o in outside)
            page.screenshot(path=shots / "04-filtered.png")

            # 3. select all, across pages
            page.check("#action-toggle")
            page.click(f"text=Select all {INSIDE} failed orders")
            assert page.is_visible(".actions .all") and f"All {INSIDE} selected" in page.inner_text(".actions .all")
            assert page.input_value("input[name=select_across]") == "1"
            page.select_option("select[name=action]", "resubmit")
            page.screenshot(path=shots / "05-all-selected.png")
            page.click("button[name=index]")

            # 4. the preview
            page.wait_for_selector("#resubmit-summary")
            assert page.inner_text("#preview-matched") == str(INSIDE)
            assert page.inner_text("#preview-would-retry") == str(INSIDE)
            assert page.inner_text("#preview-skipped") == "0"
            by_offering = page.inner_text("#preview-by-offering")
            assert "basic" in by_offering and "slurm" in by_offering
            assert "HTTP 503" in page.inner_text("#preview-by-error")
            page.fill("textarea[name=reason]", REASON)
            page.screenshot(path=shots / "06-preview.png", full_page=True)
            page.click("#resubmit-confirm")

            # 5. the job's page: the progress bar follows the run until the state reads Done
            page.wait_for_url("**/admin/core/job/*/change/")
            page.screenshot(path=shots / "07-job-started.png")
            deadline = time.monotonic() + DEADLINE_SECONDS
            state = ""
            while time.monotonic() < deadline:
                try:
                    state = page.inner_text("#job-state", timeout=2_000)
                    processed = int(page.get_attribute("#job-progress", "aria-valuenow", timeout=2_000) or 0)
                except sync_api.Error:  # the page reloads when the state changes
                    continue
                if not seen_progress or seen_progress[-1] != processed:
                    seen_progress.append(processed)
                    if 0 < processed < INSIDE and len(seen_progress) <= 3:
                        page.screenshot(path=shots / f"08-job-running-{processed:03d}.png")
                if state == "Done" and page.is_visible("#job-report"):
                    break
                page.wait_for_timeout(250)
            page.screenshot(path=shots / "09-job-done.png", full_page=True)
            assert state == "Done", f"the job did not finish within {DEADLINE_SECONDS} s (state {state!r})"
            assert page.inner_text("#job-processed") == str(INSIDE)
            assert page.inner_text("#job-progress-label") == "100.0%"
            assert page.locator("#job-succeeded-items tbody tr").count() == INSIDE
            assert page.locator("#job-skipped-items").count() == 0

            # 6. the report links to the orders: one of them, resubmitted, with the reason in its history
            page.click("#job-succeeded-items summary, #job-report summary")
            page.click("#job-succeeded-items a >> nth=0")
            page.wait_for_url("**/admin/orders/order/*/change/")
            assert REASON in page.inner_text("#content-main")
            page.screenshot(path=shots / "10-order.png", full_page=True)
        finally:
            browser.close()

    assert any(0 < n < INSIDE for n in seen_progress), f"the bar never showed a run in progress: {seen_progress}"
    assert seen_progress == sorted(seen_progress)
    job = Job.objects.get()
    assert (job.state, job.total, job.succeeded, job.reason) == ("done", INSIDE, INSIDE, REASON)
    assert job.created_by == world.user("staff")
    for order in Order.objects.filter(pk__in=[o.pk for o in inside]):
        assert order.state in ("executing", "done") and order.attempt == 2, order
    events = OrderEvent.objects.filter(order__in=inside, kind="retry")
    assert events.count() == INSIDE
    assert {(e.message, e.payload["job"]) for e in events} == {(REASON, job.uuid.hex)}
    for order in Order.objects.filter(pk__in=[o.pk for o in outside]):
        assert (order.state, order.attempt) == ("erred", 1)
    assert not OrderEvent.objects.filter(order__in=outside, kind="retry").exists()
    assert settings.CELERY_TASK_ALWAYS_EAGER  # the embedded mode ran the job in the server's process
