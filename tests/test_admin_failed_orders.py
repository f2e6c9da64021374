"""The staff's Failed orders page (seed 003): filters, the resubmit preview, jobs with a live status, the Retry
button, and backend health on offerings. Driven through Django's test client as staff; the job a confirmation
starts is run in the test (its worker hand-off is captured, not executed)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.messages import constants as message_levels
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core import jobs
from core.models import Job, JobItem
from orders.models import Order, OrderEvent
from orders.services.batch import SKIP_REASONS, bulk_retry_start
from tests import factories as f

FAILED = "/admin/orders/failedorder/"
T0 = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def staff_client(client, world):
    client.force_login(world.user("staff"))
    return client


def failed(world, minutes: float, *, error: str = "Fulfilment answered HTTP 503", transient: bool = True, **kw):
    """An erred order that failed `minutes` after T0."""
    kw.setdefault("offering", world.basic)
    return f.OrderFactory(
        state="erred",
        project=kw.pop("project", world.project),
        error_message=error,
        error_is_transient=transient,
        error_updated_at=T0 + datetime.timedelta(minutes=minutes),
        **kw,
    )


def listed(response) -> list[Order]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def window(start: datetime.datetime, end: datetime.datetime) -> dict[str, str]:
    """The failed-at range filter's query: date and time of day for each end."""
    return {
        "error_updated_at__range__gte_0": start.strftime("%Y-%m-%d"),
        "error_updated_at__range__gte_1": start.strftime("%H:%M:%S"),
        "error_updated_at__range__lte_0": end.strftime("%Y-%m-%d"),
        "error_updated_at__range__lte_1": end.strftime("%H:%M:%S"),
    }


def resubmit(client, query: dict | None = None, *, orders=(), select_across: bool = False, **extra):
    data = {
        "action": "resubmit",
        "index": 0,
        "select_across": "1" if select_across else "0",
        "_selected_action": [o.pk for o in orders],
        **extra,
    }
    url = FAILED + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    return client.post(url, data)


def started_job(response) -> Job:
    assert response.status_code == 302
    job = Job.objects.get()
    assert response["Location"] == reverse("admin:core_job_change", args=[job.pk])
    return job


# --- the page -------------------------------------------------------------------------------------------


def test_failed_orders_page_lists_only_erred_orders_newest_failure_first(staff_client, world):
    older, newest, middle = failed(world, 1), failed(world, 30), failed(world, 10)
    for state in ("done", "executing", "pending-provider", "canceled"):
        f.OrderFactory(state=state, offering=world.basic, project=world.project)

    response = staff_client.get(FAILED)

    assert listed(response) == [newest, middle, older]
    page = response.content.decode()
    assert "Resubmit for provisioning" in page
    assert f'title="{older.error_message}"' in page  # the full error on hover
    for name in ("UUID", "Offering", "Provider", "Project", "Type", "Attempt", "Failed at", "Error", "Transient"):
        assert f">{name}</a>" in page or f">{name}</span>" in page, name


def test_a_long_error_is_truncated_in_the_list_and_complete_on_hover(staff_client, world):
    error = "Backend exploded: " + "x" * 300
    failed(world, 1, error=error)

    page = staff_client.get(FAILED).content.decode()

    assert f'title="{error}"' in page
    assert f">{error}<" not in page and f">{error[:59]}…<" in page


def test_failed_at_range_filter_keeps_only_orders_that_failed_inside_the_window(staff_client, world):
    before, inside_early, inside_late, after = (
        failed(world, 5),
        failed(world, 60),
        failed(world, 119),
        failed(world, 121),
    )

    response = staff_client.get(
        FAILED, window(T0 + datetime.timedelta(minutes=30), T0 + datetime.timedelta(minutes=120))
    )

    assert listed(response) == [inside_late, inside_early]
    assert before not in listed(response) and after not in listed(response)


def test_offering_provider_type_and_transient_filters_narrow_the_list(staff_client, world):
    basic, slurm = failed(world, 1), failed(world, 2, offering=world.slurm, transient=False)
    titles = {str(spec.title) for spec in staff_client.get(FAILED).context["cl"].filter_specs}
    assert {"failed at", "offering", "type", "error is transient", "error group"} <= titles

    assert listed(staff_client.get(FAILED, {"offering__id__exact": world.slurm.pk})) == [slurm]
    assert listed(staff_client.get(FAILED, {"error_is_transient__exact": "1"})) == [basic]
    assert listed(staff_client.get(FAILED, {"offering__customer__id__exact": world.provider.pk})) == [slurm, basic]
    assert listed(staff_client.get(FAILED, {"type__exact": "Terminate"})) == []


def test_error_group_filter_offers_the_top_groups_and_filters_by_one(staff_client, world):
    outage = [failed(world, i, error=f"Connection refused by 10.0.0.{i}:8080 after {i} s") for i in range(1, 4)]
    other = failed(world, 10, error="Fulfilment answered HTTP 400: quota of project 17 exceeded")

    response = staff_client.get(FAILED)
    spec = next(s for s in response.context["cl"].filter_specs if str(s.title) == "error group")
    groups = [value for value, _ in spec.lookup_choices]
    assert groups == [
        "Connection refused by <address> after <n> s",
        "Fulfilment answered HTTP 400: quota of project <n> exceeded",
    ]
    assert dict(spec.lookup_choices)[groups[0]].endswith("(3)")

    assert set(listed(staff_client.get(FAILED, {"error_group": groups[0]}))) == set(outage)
    assert listed(staff_client.get(FAILED, {"error_group": groups[1]})) == [other]


def test_every_filter_choice_of_the_failed_orders_page_renders_with_and_without_counts(staff_client, world):
    failed(world, 1, error="Connection refused")
    failed(world, 2, offering=world.slurm, transient=False, error="quota exceeded")
    f.OrderFactory(state="erred", offering=world.webhook, project=world.other_project, error_message="HTTP 503")
    changelist = staff_client.get(FAILED).context["cl"]

    queries = [choice["query_string"] for spec in changelist.filter_specs for choice in spec.choices(changelist)]
    assert len(queries) > 15
    for query in queries:
        for extra in ("", "&_facets=1"):
            response = staff_client.get(FAILED + query + extra)
            assert response.status_code == 200, query + extra  # an invalid filter redirects with ?e=1


def test_search_finds_a_failed_order_by_uuid_or_error_text(staff_client, world):
    one, two = failed(world, 1, error="disk full on node a"), failed(world, 2, error="timeout")

    assert listed(staff_client.get(FAILED, {"q": one.uuid.hex})) == [one]
    assert listed(staff_client.get(FAILED, {"q": str(two.uuid)})) == [two]
    assert listed(staff_client.get(FAILED, {"q": "disk full"})) == [one]


def test_failed_orders_changelist_runs_a_constant_number_of_queries(staff_client, world):
    failed(world, 1)
    with CaptureQueriesContext(connection) as few:
        assert len(listed(staff_client.get(FAILED))) == 1
    for i in range(30):
        offering = f.OfferingFactory(customer=f.CustomerFactory(), type="Marketplace.Basic")
        project = f.ProjectFactory(customer=world.customer)
        failed(world, i + 2, offering=offering, project=project, error=f"error kind {i % 4}x")

    with CaptureQueriesContext(connection) as many:
        assert len(listed(staff_client.get(FAILED))) == 31

    assert len(many.captured_queries) == len(few.captured_queries)


# --- resubmit: preview, confirm, job ---------------------------------------------------------------------


def test_resubmit_action_shows_the_dry_run_summary_and_changes_nothing(staff_client, world):
    orders = [failed(world, i, error=f"Connection refused after {i} s") for i in range(1, 4)]
    odd = failed(world, 5, offering=f.OfferingFactory(customer=world.provider, type="Legacy.Thing", name="legacy"))
    attempts = {o.pk: o.attempt for o in [*orders, odd]}

    response = resubmit(staff_client, orders=[*orders, odd])

    assert response.status_code == 200
    assert response.templates[0].name == "admin/orders/resubmit_confirmation.html"
    assert response.context["preview"]["matched"] == 4 and response.context["would_retry"] == 3
    page = response.content.decode()
    assert 'id="preview-would-retry">3<' in page and 'id="preview-skipped">1<' in page
    assert "basic" in page and "Connection refused after &lt;n&gt; s" in page  # by offering, by error
    assert SKIP_REASONS["type_not_supported"] in page and odd.uuid.hex in page  # skipped, with the reason
    assert 'name="reason"' in page and "Yes, resubmit 3 orders" in page
    assert {o.pk: o.attempt for o in Order.objects.filter(pk__in=attempts)} == attempts
    assert not Job.objects.exists()


def test_confirming_starts_a_job_for_the_whole_filtered_selection_and_redirects_to_its_page(
    staff_client, world, django_capture_on_commit_callbacks
):
    inside = [failed(world, 60 + i) for i in range(5)]
    outside = [failed(world, 1), failed(world, 300)]
    query = window(T0 + datetime.timedelta(minutes=30), T0 + datetime.timedelta(minutes=120))

    with django_capture_on_commit_callbacks() as handed_off:  # the worker hand-off, not run here
        response = resubmit(
            staff_client, query, orders=inside[:2], select_across=True, confirm="yes", reason="maintenance over"
        )

    job = started_job(response)
    assert len(handed_off) == 1  # nothing ran in the request: one hand-off of the job
    assert (job.state, job.total, job.reason, job.created_by) == ("queued", 5, "maintenance over", world.user("staff"))
    assert set(job.items.values_list("subject_id", flat=True)) == {o.pk for o in inside}
    assert all(Order.objects.get(pk=o.pk).state == "erred" for o in inside)

    jobs.job_run_inline(job)

    for order in inside:
        order.refresh_from_db()
        assert (order.state, order.attempt) == ("executing", 2)
        event = OrderEvent.objects.get(order=order, kind="retry")
        assert event.message == "maintenance over" and event.payload["job"] == job.uuid.hex
    assert all(Order.objects.get(pk=o.pk).attempt == 1 for o in outside)
    page = staff_client.get(response["Location"]).content.decode()
    assert 'id="job-report"' in page and "Done" in page
    assert all(reverse("admin:orders_order_change", args=[o.pk]) in page for o in inside)


def test_the_order_admins_retry_action_also_previews_and_starts_a_job(staff_client, world):
    erred, done = failed(world, 1), f.OrderFactory(state="done", offering=world.basic, project=world.project)
    data = {"action": "retry", "index": 0, "select_across": "0", "_selected_action": [erred.pk, done.pk]}

    preview = staff_client.post("/admin/orders/order/", data)
    assert preview.status_code == 200 and SKIP_REASONS["not_erred"] in preview.content.decode()
    job = started_job(staff_client.post("/admin/orders/order/", {**data, "confirm": "yes", "reason": ""}))

    jobs.job_run_inline(job)
    assert jobs.job_report(job) == {
        "succeeded": [erred.uuid.hex],
        "skipped": [{"uuid": done.uuid.hex, "reason": "not_erred"}],
    }
    page = staff_client.get(reverse("admin:core_job_change", args=[job.pk])).content.decode()
    assert SKIP_REASONS["not_erred"] in page


def test_job_status_json_reports_state_and_progress(staff_client, world):
    orders = [failed(world, i) for i in range(4)]
    job, _ = bulk_retry_start(
        actor=world.user("staff"), orders=Order.objects.filter(pk__in=[o.pk for o in orders]), run_inline_up_to=0
    )
    url = reverse("admin:core_job_status", args=[job.pk])

    queued = staff_client.get(url).json()
    jobs.job_run_inline(job)
    done = staff_client.get(url).json()

    assert (queued["state"], queued["processed"], queued["total"], queued["finished"]) == ("queued", 0, 4, False)
    assert (done["state"], done["processed"], done["succeeded"], done["percent"], done["finished"]) == (
        "done",
        4,
        4,
        100.0,
        True,
    )
    assert staff_client.get(reverse("admin:core_job_change", args=[job.pk])).status_code == 200


def test_pause_resume_and_cancel_buttons_change_the_job_and_a_refusal_is_a_message(
    staff_client, world, django_capture_on_commit_callbacks
):
    orders = [failed(world, i) for i in range(3)]
    job, _ = bulk_retry_start(
        actor=world.user("staff"), orders=Order.objects.filter(pk__in=[o.pk for o in orders]), run_inline_up_to=0
    )
    page = staff_client.get(reverse("admin:core_job_change", args=[job.pk])).content.decode()
    assert 'id="job-pause"' in page and 'id="job-cancel"' in page and 'id="job-resume"' not in page
    assert reverse("admin:core_job_status", args=[job.pk]) in page  # the progress bar polls it

    def press(verb: str):
        response = staff_client.post(reverse(f"admin:core_job_{verb}", args=[job.pk]), follow=True)
        assert response.status_code == 200
        return [(m.level, m.message) for m in response.context["messages"]]

    press("pause")
    assert Job.objects.get(pk=job.pk).state == "paused"
    assert 'id="job-resume"' in staff_client.get(reverse("admin:core_job_change", args=[job.pk])).content.decode()
    with django_capture_on_commit_callbacks() as handed_off:
        press("resume")
    assert Job.objects.get(pk=job.pk).state == "queued" and len(handed_off) == 1
    press("cancel")
    canceled = Job.objects.get(pk=job.pk)
    assert (canceled.state, canceled.skipped) == ("canceled", 3)
    assert set(JobItem.objects.filter(job=job).values_list("reason", flat=True)) == {"canceled"}
    assert all(Order.objects.get(pk=o.pk).state == "erred" for o in orders)

    notes = press("pause")
    assert notes[-1][0] == message_levels.ERROR and "canceled" in notes[-1][1]
    assert staff_client.get(reverse("admin:core_job_cancel", args=[job.pk])).status_code == 405


def test_job_list_shows_kind_state_progress_and_system_for_automatic_jobs(staff_client, world):
    order = failed(world, 1)
    bulk_retry_start(actor=None, orders=Order.objects.filter(pk=order.pk), reason="automatic recovery", automatic=True)

    response = staff_client.get("/admin/core/job/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Resubmit for provisioning" in page and "system" in page and "automatic recovery" in page
    assert "1 / 1" in page and "Done" in page


# --- the Retry button -----------------------------------------------------------------------------------


def test_retry_button_on_an_erred_orders_page_retries_it(staff_client, world):
    order = failed(world, 1)
    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert 'id="order-retry"' in page and reverse("admin:orders_order_retry", args=[order.pk]) in page

    response = staff_client.post(reverse("admin:orders_order_retry", args=[order.pk]), follow=True)

    assert response.status_code == 200
    order.refresh_from_db()
    assert (order.state, order.attempt) == ("executing", 2)
    assert OrderEvent.objects.filter(order=order, kind="retry", actor=world.user("staff")).count() == 1
    assert [m.level for m in response.context["messages"]] == [message_levels.SUCCESS]
    assert 'id="order-retry"' not in response.content.decode()  # no longer erred


def test_retry_button_refusal_is_a_message_never_a_500(staff_client, world):
    done = f.OrderFactory(state="done", offering=world.basic, project=world.project)
    odd = failed(world, 1, offering=f.OfferingFactory(customer=world.provider, type="Legacy.Thing"))

    for order, text in ((done, "erred"), (odd, "Legacy.Thing")):
        response = staff_client.post(reverse("admin:orders_order_retry", args=[order.pk]), follow=True)
        assert response.status_code == 200
        [message] = response.context["messages"]
        assert message.level == message_levels.ERROR and text in message.message
    assert Order.objects.get(pk=done.pk).state == "done" and Order.objects.get(pk=odd.pk).attempt == 1
    assert staff_client.get(reverse("admin:orders_order_retry", args=[done.pk])).status_code == 405


# --- access ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["provider_owner", "offering_manager", "consumer_owner", "stranger"])
def test_non_staff_get_no_access_to_failed_orders_jobs_or_buttons(client, world, who):
    order = failed(world, 1)
    job, _ = bulk_retry_start(actor=world.user("staff"), orders=Order.objects.filter(pk=order.pk), run_inline_up_to=0)
    client.force_login(world.user(who))

    for url in (FAILED, "/admin/core/job/", reverse("admin:core_job_status", args=[job.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    for url in (reverse("admin:orders_order_retry", args=[order.pk]), reverse("admin:core_job_cancel", args=[job.pk])):
        assert client.post(url).status_code == 302
    assert resubmit(client, orders=[order], confirm="yes").status_code == 302
    assert Order.objects.get(pk=order.pk).attempt == 1 and Job.objects.get(pk=job.pk).state == "queued"
    assert Job.objects.count() == 1


# --- backend health on offerings ------------------------------------------------------------------------


def test_offering_admin_shows_backend_health_with_a_filter(staff_client, world):
    since = timezone.now() - datetime.timedelta(minutes=7)
    world.webhook.__class__.objects.filter(pk=world.webhook.pk).update(
        backend_healthy=False, backend_unhealthy_since=since, backend_last_error="Connection refused"
    )

    unhealthy = staff_client.get("/admin/offerings/offering/", {"backend_healthy__exact": "0"})
    everything = staff_client.get("/admin/offerings/offering/")
    page = staff_client.get(reverse("admin:offerings_offering_change", args=[world.webhook.pk])).content.decode()

    assert list(unhealthy.context["cl"].result_list) == [world.webhook]
    assert (
        "unhealthy since" in unhealthy.content.decode() and 'title="Connection refused"' in unhealthy.content.decode()
    )
    assert everything.content.decode().count("healthy") >= 3
    assert "Backend health" in page and "Connection refused" in page and "Backend unhealthy since" in page
