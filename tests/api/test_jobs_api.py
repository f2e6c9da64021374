"""/api/marketplace-order-jobs/: bulk resubmit runs — list and retrieve with progress and report, the paged
report, pause / resume / cancel (409 in a wrong state), who sees and who may act, constant query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import jobs
from core.models import Job, JobItem
from orders.services.batch import BULK_RETRY
from tests.api import make_order

JOBS = "/api/marketplace-order-jobs/"


def job_url(job: Job, action: str | None = None) -> str:
    return f"{JOBS}{job.uuid.hex}/" + (f"{action}/" if action else "")


def start_job(world, user, count: int = 3, *, kind: str = "slurm") -> Job:
    """A queued bulk resubmit job of `count` erred orders, started by `user` (None: the system)."""
    orders = [make_order(world, "erred", kind, error_message="Connection refused") for _ in range(count)]
    selection = [jobs.Selected(o.pk, o.uuid, o.offering.uuid.hex, o.attempt) for o in orders]
    return jobs.job_create(kind=BULK_RETRY, selection=selection, created_by=user, reason="outage", rate_per_second=50)


def run_to_the_end(job: Job) -> Job:
    while jobs.job_run_chunk(job.pk) is not None:
        pass
    job.refresh_from_db()
    return job


def uuids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["uuid"] for row in response.json()}


@pytest.fixture
def three(world):
    """A job of each: staff, the provider owner, and the system (automatic recovery)."""
    return {
        "staff": start_job(world, world.user("staff")),
        "provider_owner": start_job(world, world.user("provider_owner")),
        "system": start_job(world, None),
    }


# --- reading --------------------------------------------------------------------------------------------


def test_the_job_list_is_a_bare_array_with_count_and_link_headers_newest_first(world, api, three):
    response = api.as_user(world.user("staff")).get(JOBS, {"page_size": 2})

    assert response.status_code == 200
    assert isinstance(response.json(), list) and len(response.json()) == 2
    assert response["X-Result-Count"] == "3"
    assert 'rel="next"' in response["Link"] and 'rel="last"' in response["Link"]
    assert [row["uuid"] for row in response.json()] == [three["system"].uuid.hex, three["provider_owner"].uuid.hex]


@pytest.mark.parametrize(
    "user, visible",
    [
        ("staff", {"staff", "provider_owner", "system"}),
        ("support", {"staff", "provider_owner", "system"}),
        ("provider_owner", {"provider_owner"}),
        ("offering_manager", set()),
        ("consumer_owner", set()),
        ("stranger", set()),
    ],
)
def test_staff_and_support_see_every_job_and_others_only_their_own(world, api, three, user, visible):
    api.as_user(world.user(user))

    assert uuids(api.get(JOBS)) == {three[key].uuid.hex for key in visible}
    for key, job in three.items():
        assert api.get(job_url(job)).status_code == (200 if key in visible else 404)


def test_a_queued_job_shows_its_progress_without_a_report(world, api, three):
    body = api.as_user(world.user("provider_owner")).get(job_url(three["provider_owner"])).json()

    assert body["url"] == f"http://testserver{job_url(three['provider_owner'])}"
    assert (body["kind"], body["state"], body["reason"], body["created_by"]) == (
        "bulk_retry", "queued", "outage", "provider-owner"
    )  # fmt: skip
    assert (body["total"], body["processed"], body["retried"], body["skipped"], body["progress"]) == (3, 0, 0, 0, 0.0)
    assert body["rate_per_second"] == 50.0 and body["error"] == ""
    assert "report" not in body and "started_at" not in body and "finished_at" not in body


def test_a_finished_job_shows_its_report_with_every_order_retried_or_skipped_with_a_reason(world, api):
    job = start_job(world, world.user("offering_manager"), 2)
    basic = make_order(world, "erred", "basic")  # not the offering manager's offering
    done = make_order(world, "done", "slurm")
    JobItem.objects.bulk_create(
        [JobItem(job=job, subject_id=o.pk, subject_uuid=o.uuid, version=o.attempt) for o in (basic, done)]
    )
    Job.objects.filter(pk=job.pk).update(total=4)

    run_to_the_end(job)
    body = api.as_user(world.user("offering_manager")).get(job_url(job)).json()

    assert (body["state"], body["processed"], body["retried"], body["skipped"], body["progress"]) == (
        "done", 4, 2, 2, 1.0
    )  # fmt: skip
    assert len(body["report"]["retried"]) == 2
    assert sorted(body["report"]["skipped"], key=lambda s: s["reason"]) == [
        {"uuid": done.uuid.hex, "reason": "not_erred"},
        {"uuid": basic.uuid.hex, "reason": "not_permitted"},
    ]
    assert body["started_at"] <= body["finished_at"]


def test_the_report_pages_through_the_jobs_orders_and_filters_by_outcome(world, api):
    job = start_job(world, world.user("staff"), 5)
    jobs.job_run_chunk(job.pk)  # rate 50/s: one chunk handles all five
    job.items.filter(pk=job.items.order_by("id").last().pk).update(outcome="skipped", reason="changed")
    api.as_user(world.user("staff"))

    page = api.get(job_url(job, "report"), {"page_size": 2})
    skipped = api.get(job_url(job, "report"), {"outcome": "skipped"})

    assert page.status_code == 200 and page["X-Result-Count"] == "5" and len(page.json()) == 2
    row = page.json()[0]
    assert set(row) == {"uuid", "order", "outcome", "reason", "detail", "processed_at"}
    assert row["order"] == f"http://testserver/api/marketplace-orders/{row['uuid']}/"
    assert [(r["outcome"], r["reason"]) for r in skipped.json()] == [("skipped", "changed")]
    assert api.get(job_url(job, "report"), {"outcome": "lost"}).status_code == 400


def test_jobs_can_be_listed_by_state(world, api, three):
    jobs.job_pause(job=three["staff"])

    assert uuids(api.as_user(world.user("staff")).get(JOBS, {"state": "paused"})) == {three["staff"].uuid.hex}


# --- pause, resume, cancel ------------------------------------------------------------------------------


def test_pause_and_resume_through_the_api_and_the_job_runs_on_after_resume(
    world, api, django_capture_on_commit_callbacks
):
    owner = world.user("provider_owner")
    job = start_job(world, owner, 4)
    api.as_user(owner)

    paused = api.post(job_url(job, "pause"))
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    assert jobs.job_run_chunk(job.pk) is None  # a worker that picks it up now does nothing
    assert api.post(job_url(job, "pause")).status_code == 409

    with django_capture_on_commit_callbacks() as handed_off:
        resumed = api.post(job_url(job, "resume"))

    assert resumed.status_code == 200 and resumed.json()["state"] == "queued"
    assert len(handed_off) == 1  # the run is sent to a worker once the resume is committed
    assert api.post(job_url(job, "resume")).json()["code"] == "invalid_job_state"
    assert run_to_the_end(job).succeeded == 4


def test_cancel_skips_the_orders_not_yet_handled_and_a_finished_job_cannot_be_canceled_again(world, api):
    staff = world.user("staff")
    job = start_job(world, staff, 3)
    api.as_user(staff)

    canceled = api.post(job_url(job, "cancel"))

    assert canceled.status_code == 200
    body = canceled.json()
    assert (body["state"], body["processed"], body["skipped"], body["progress"]) == ("canceled", 3, 3, 1.0)
    assert {s["reason"] for s in body["report"]["skipped"]} == {"canceled"}
    for action in ("cancel", "pause", "resume"):
        response = api.post(job_url(job, action))
        assert response.status_code == 409 and response.json()["code"] == "invalid_job_state", action
    assert JobItem.objects.filter(job=job, outcome="succeeded").count() == 0


@pytest.mark.parametrize(
    "user, job_of, status",
    [
        ("staff", "provider_owner", 200),
        ("staff", "system", 200),
        ("provider_owner", "provider_owner", 200),
        ("support", "provider_owner", 403),  # reads every job, changes none
        ("provider_owner", "staff", 404),
        ("offering_manager", "provider_owner", 404),
        ("stranger", "system", 404),
    ],
)
def test_only_staff_and_the_author_may_pause_a_job(world, api, three, user, job_of, status):
    response = api.as_user(world.user(user)).post(job_url(three[job_of], "pause"))

    assert response.status_code == status
    three[job_of].refresh_from_db()
    assert three[job_of].state == ("paused" if status == 200 else "queued")


def test_anonymous_callers_get_401(api, three):
    assert api.as_user(None).get(JOBS).status_code == 401
    assert api.as_user(None).post(job_url(three["staff"], "cancel")).status_code == 401


# --- query counts ---------------------------------------------------------------------------------------


def queries(api, url: str, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url, params)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_the_job_list_runs_the_same_queries_for_one_job_or_many(world, api, django_assert_max_num_queries):
    staff = world.user("staff")
    start_job(world, staff, 1)
    api.as_user(staff)
    one = queries(api, JOBS)
    for _ in range(15):
        jobs.job_create(kind=BULK_RETRY, selection=[], created_by=staff)

    with django_assert_max_num_queries(one):
        assert len(api.get(JOBS, {"page_size": 50}).json()) == 16


def test_retrieving_a_finished_job_runs_the_same_queries_whatever_the_size_of_its_report(
    world, api, django_assert_max_num_queries
):
    staff = world.user("staff")
    small, large = run_to_the_end(start_job(world, staff, 1)), run_to_the_end(start_job(world, staff, 30))
    api.as_user(staff)
    baseline = queries(api, job_url(small))

    with django_assert_max_num_queries(baseline):
        assert len(api.get(job_url(large)).json()["report"]["retried"]) == 30
    with django_assert_max_num_queries(queries(api, job_url(small, "report"))):
        api.get(job_url(large, "report"), {"page_size": 30})
